//! App Home refreshes, coalesced per person: a change marks the people it concerns,
//! and one supervised loop publishes each marked person's Home once, however many
//! changes marked them meanwhile. A burst of a thousand changes for one approver is
//! a couple of `views.publish` calls, not a thousand, and never a task per change.
//!
//! Owns the queue and the loop; rendering is `super::status::publish_home`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::services::Services;
use crate::supervise::Heartbeat;

/// The loop beats at least this often while idle.
const IDLE_BEAT: Duration = Duration::from_secs(60);
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// People whose Home is owed a publish.
#[derive(Clone, Default)]
pub struct HomeQueue {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: Mutex<BTreeSet<String>>,
    wake: Notify,
}

impl HomeQueue {
    /// Marks `people` for one publish each (a person already marked stays marked once).
    pub fn mark(&self, people: impl IntoIterator<Item = String>) {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        let before = pending.len();
        pending.extend(people);
        if pending.len() > before {
            // A permit is kept when the loop is busy: nothing marked is missed.
            self.inner.wake.notify_one();
        }
    }

    /// Everyone marked so far, unmarked: a change after this marks them again.
    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.inner.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Publishes marked Homes until `shutdown`.
pub async fn run(services: Services, beat: Heartbeat, shutdown: CancellationToken) {
    let queue = services.homes.clone();
    while !shutdown.is_cancelled() {
        beat.beat();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = queue.inner.wake.notified() => {}
            () = tokio::time::sleep(IDLE_BEAT) => {}
        }
        for person in queue.take() {
            if shutdown.is_cancelled() {
                return;
            }
            super::status::publish_home(&services, &person).await;
            beat.beat();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_marks_is_one_publish_per_person() {
        let queue = HomeQueue::default();
        for _ in 0..1000 {
            queue.mark(["U0BOB00001".to_owned(), "U0ALICE001".to_owned()]);
        }
        let first = queue.take();
        assert_eq!(first.len(), 2);
        assert!(queue.take().is_empty(), "taken once");
        queue.mark(["U0BOB00001".to_owned()]);
        assert_eq!(queue.take().len(), 1, "a later change marks again");
    }

    #[tokio::test]
    async fn a_mark_while_nobody_waits_still_wakes_the_loop() {
        let queue = HomeQueue::default();
        queue.mark(["U0BOB00001".to_owned()]);
        tokio::time::timeout(Duration::from_secs(1), queue.inner.wake.notified())
            .await
            .expect("the permit was kept");
    }
}
