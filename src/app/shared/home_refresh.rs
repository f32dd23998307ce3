//! App Home refreshes, coalesced per person: a change marks the people it concerns,
//! and one supervised loop publishes each marked person's Home once, however many
//! changes marked them meanwhile. A burst of a thousand changes for one approver is
//! a couple of `views.publish` calls, not a thousand, and never a task per change.
//!
//! Owns the queue; the loop that publishes is `crate::app::status::publish_marked_homes`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

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

    /// Returns once something is marked (at once if something was marked while
    /// nobody waited).
    pub async fn marked(&self) {
        self.inner.wake.notified().await;
    }

    /// Everyone marked so far, unmarked: a change after this marks them again.
    pub fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.inner.pending.lock().unwrap_or_else(|p| p.into_inner()))
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
