//! Block Kit templates (in progress).
