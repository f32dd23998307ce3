//! The one decide-and-commit path every feature takes to change state.
//!
//! An attempt reads what the decision needs, asks policy, runs the pure core and
//! renders the effects into one [`Change`] that expects the revisions it read. The
//! path commits it (with the caller's `also`: a journal row's completion, words
//! owed); when a concurrent change won, it decides again on the new state, at most
//! [`ATTEMPTS`] times. Once committed, what the change concerns is announced to the
//! subscribers wired at start-up ([`crate::app::shared::consequences`]): no feature refreshes
//! App Home itself.
//!
//! Telling a late clicker who decided is the attempt's job: it runs again on the new
//! state, and the pure core refuses with the sentence that says so.

use std::future::Future;

use crate::app::shared::consequences::{Committed, Consequences};
use crate::store::{Change, CommitError, Store};

/// How many times a decision is taken before giving up on a record that keeps
/// changing under it.
pub const ATTEMPTS: usize = 5;

/// What one attempt decided.
pub enum Decided<T, S> {
    /// Commit `change`; once it is on disk, `committed` is announced and `then`
    /// returned.
    Commit {
        change: Change,
        committed: Vec<Committed>,
        then: T,
    },
    /// Stop without committing (refused, nothing to do, cannot read): `S` says what.
    Stop(S),
    /// A concurrent change was seen without committing (a nested decision found the
    /// record moved): decide again on the new state, as after a conflict.
    Again,
}

impl<T, S> Decided<T, S> {
    /// A commit that concerns nobody's view.
    pub fn commit(change: Change, then: T) -> Self {
        Decided::Commit {
            change,
            committed: Vec::new(),
            then,
        }
    }

    /// A commit that changed `committed`.
    pub fn commit_of(change: Change, committed: Committed, then: T) -> Self {
        Decided::Commit {
            change,
            committed: vec![committed],
            then,
        }
    }
}

/// How the path ended.
#[derive(Debug)]
pub enum Ended<T, S> {
    /// Committed now.
    Committed(T),
    /// The journal row in `also` was completed before (the envelope was processed
    /// by another task or before a restart): nothing more to do. Carries what this
    /// attempt would have returned.
    AlreadyDone(T),
    /// An attempt stopped without committing.
    Stopped(S),
    /// The store refused the commit for a reason other than a concurrent change;
    /// nothing changed.
    Failed(CommitError),
    /// Every attempt lost to a concurrent change.
    KeptChanging,
}

/// Runs `decide` until its change commits, it stops, or [`ATTEMPTS`] are spent.
pub async fn decide_and_commit<T, S, F, Fut>(
    store: &Store,
    consequences: &Consequences,
    also: &Change,
    mut decide: F,
) -> Ended<T, S>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Decided<T, S>>,
{
    for attempt in 1..=ATTEMPTS {
        let (change, committed, then) = match decide().await {
            Decided::Commit {
                change,
                committed,
                then,
            } => (change, committed, then),
            Decided::Stop(stop) => return Ended::Stopped(stop),
            Decided::Again => {
                tracing::info!(attempt, "changed while deciding; deciding again");
                continue;
            }
        };
        match store.commit(change.and(also.clone())).await {
            Ok(_) => {
                for change in &committed {
                    consequences.committed(change);
                }
                return Ended::Committed(then);
            }
            Err(error) if error.already_processed() => return Ended::AlreadyDone(then),
            Err(CommitError::Conflict { table, key }) => {
                tracing::info!(
                    attempt,
                    %table,
                    key,
                    "changed while deciding; deciding again on the new state"
                );
            }
            Err(error) => return Ended::Failed(error),
        }
    }
    Ended::KeptChanging
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Record, Table};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Count(u32);

    impl Record for Count {
        const VERSION: u32 = 1;
        fn encode(&self) -> Result<String, serde_json::Error> {
            serde_json::to_string(self)
        }
        fn decode(data: &str) -> Result<Self, serde_json::Error> {
            serde_json::from_str(data)
        }
    }

    async fn read(store: &Store) -> (Option<u64>, u32) {
        match store.get::<Count>(Table::Sessions, "count").await {
            Ok(Some(stored)) => (Some(stored.rev), stored.data.0),
            _ => (None, 0),
        }
    }

    fn heard(count: &Arc<AtomicUsize>) -> Consequences {
        let count = count.clone();
        Consequences::none().subscribe(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
        })
    }

    fn request_of(n: u32) -> Committed {
        let request =
            crate::workflow::grant::tests::expired(crate::workflow::grant::tests::manual(&["U1"]));
        Committed::Request(Box::new(crate::workflow::request::AccessRequest {
            id: format!("REQ-{n}"),
            ..request
        }))
    }

    #[tokio::test]
    async fn a_concurrent_change_is_decided_again_on_the_new_state_and_announced_once() {
        let store = Store::temporary().expect("store");
        let announced = Arc::new(AtomicUsize::new(0));
        let attempts = AtomicUsize::new(0);
        let (store_ref, attempts_ref) = (&store, &attempts);
        let ended: Ended<u32, ()> = decide_and_commit(
            &store,
            &heard(&announced),
            &Change::new(),
            move || async move {
                let (rev, value) = read(store_ref).await;
                if attempts_ref.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Another writer wins between this attempt's read and its commit.
                    let other = Change::new().expect(Table::Sessions, "count", rev).put(
                        Table::Sessions,
                        "count",
                        &Count(value + 10),
                    );
                    store_ref.commit(other).await.expect("the other writer");
                }
                let change = Change::new().expect(Table::Sessions, "count", rev).put(
                    Table::Sessions,
                    "count",
                    &Count(value + 1),
                );
                Decided::commit_of(change, request_of(value), value + 1)
            },
        )
        .await;
        assert!(matches!(ended, Ended::Committed(11)), "{ended:?}");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        assert_eq!(read(&store).await.1, 11);
        assert_eq!(announced.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_record_that_keeps_changing_ends_the_path_after_its_attempts() {
        let store = Store::temporary().expect("store");
        let announced = Arc::new(AtomicUsize::new(0));
        let store_ref = &store;
        let ended: Ended<(), ()> = decide_and_commit(
            &store,
            &heard(&announced),
            &Change::new(),
            move || async move {
                let (rev, value) = read(store_ref).await;
                let other = Change::new().expect(Table::Sessions, "count", rev).put(
                    Table::Sessions,
                    "count",
                    &Count(value + 1),
                );
                store_ref.commit(other).await.expect("the other writer");
                let change = Change::new().expect(Table::Sessions, "count", rev).put(
                    Table::Sessions,
                    "count",
                    &Count(0),
                );
                Decided::commit_of(change, request_of(value), ())
            },
        )
        .await;
        assert!(matches!(ended, Ended::KeptChanging), "{ended:?}");
        assert_eq!(
            read(&store).await.1,
            ATTEMPTS as u32,
            "only the other writer's"
        );
        assert_eq!(
            announced.load(Ordering::SeqCst),
            0,
            "nothing committed, nothing told"
        );
    }

    #[tokio::test]
    async fn an_attempt_that_saw_a_change_is_decided_again_within_the_attempts() {
        let store = Store::temporary().expect("store");
        let attempts = AtomicUsize::new(0);
        let attempts_ref = &attempts;
        let ended: Ended<usize, ()> = decide_and_commit(
            &store,
            &Consequences::none(),
            &Change::new(),
            move || async move {
                match attempts_ref.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Decided::Again,
                    n => Decided::commit(Change::new().put(Table::Sessions, "count", &Count(7)), n),
                }
            },
        )
        .await;
        assert!(matches!(ended, Ended::Committed(2)), "{ended:?}");
        assert_eq!(read(&store).await.1, 7);
        let always: Ended<(), ()> =
            decide_and_commit(&store, &Consequences::none(), &Change::new(), || async {
                Decided::Again
            })
            .await;
        assert!(matches!(always, Ended::KeptChanging), "{always:?}");
    }

    #[tokio::test]
    async fn a_stop_commits_nothing_and_says_why() {
        let store = Store::temporary().expect("store");
        let announced = Arc::new(AtomicUsize::new(0));
        let ended: Ended<(), &str> =
            decide_and_commit(&store, &heard(&announced), &Change::new(), || async {
                Decided::Stop("refused")
            })
            .await;
        assert!(matches!(ended, Ended::Stopped("refused")), "{ended:?}");
        assert_eq!(read(&store).await, (None, 0));
        assert_eq!(announced.load(Ordering::SeqCst), 0);
    }
}
