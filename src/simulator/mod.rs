//! Slack simulator (filled in by its own change).
