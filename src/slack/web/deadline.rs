//! The ack's deadline: Slack gives an envelope 3 s, so work done before an ack
//! (validating a modal, deciding a submission) must not wait on Slack longer than
//! that. Inside [`within`], every Web API call of the task ends by the deadline with
//! [`super::WebApiError::Deadline`]; outside it (background work after the ack),
//! calls are unbounded apart from their own retries.
//!
//! A task-local, so the many lookups between the handler and `WebApi::call` need no
//! extra parameter, and a task spawned from inside does not inherit it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Well under Slack's 3 s, leaving room for the commit and the ack itself.
pub const ACK_BUDGET: Duration = Duration::from_millis(2_000);

/// Runs `work` with every Web API call in it bounded by `budget` from now.
pub async fn within<F: Future>(budget: Duration, work: F) -> F::Output {
    DEADLINE.scope(Instant::now() + budget, work).await
}

/// The deadline of the current task, if it runs inside [`within`].
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|at| *at).ok()
}

/// Whether the current task's deadline has passed.
pub fn passed() -> bool {
    current().is_some_and(|at| Instant::now() >= at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_deadline_holds_inside_and_not_in_spawned_tasks() {
        assert_eq!(current(), None);
        within(Duration::from_secs(2), async {
            assert!(current().is_some());
            assert!(!passed());
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(passed());
            let inner = tokio::spawn(async { current() }).await.expect("joins");
            assert_eq!(inner, None, "background work is not bounded by the ack");
        })
        .await;
    }
}
