//! What follows a committed change, subscribed to once at start-up instead of called
//! by each feature: a feature says what it committed ([`Committed`]), and every
//! subscriber (today, App Home republished for the people a change concerns) reacts.
//!
//! Subscribers run inline after the commit and must not block: they queue work
//! (the Home queue coalesces per person and publishes from its own loop).

use std::sync::Arc;

use crate::campaign::Campaign;
use crate::workflow::request::AccessRequest;

/// A change that has committed, as its subscribers see it.
#[derive(Debug, Clone)]
pub enum Committed {
    /// A request (its approvals, its grant or its tasks) changed.
    Request(Box<AccessRequest>),
    /// A campaign (its items, owners or reviewers) changed.
    Campaign(Box<Campaign>),
}

type Subscriber = Arc<dyn Fn(&Committed) + Send + Sync>;

/// The subscribers to committed changes, fixed at start-up.
#[derive(Clone, Default)]
pub struct Consequences {
    subscribers: Vec<Subscriber>,
}

impl Consequences {
    /// No subscribers: for a change that concerns nobody's view (the admin socket's
    /// step-up allowance).
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds `subscriber`; used while wiring, before the first envelope.
    pub fn subscribe(mut self, subscriber: impl Fn(&Committed) + Send + Sync + 'static) -> Self {
        self.subscribers.push(Arc::new(subscriber));
        self
    }

    /// Tells every subscriber that `committed` is on disk.
    pub fn committed(&self, committed: &Committed) {
        for subscriber in &self.subscribers {
            subscriber(committed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_subscriber_hears_each_committed_change_once() {
        let heard = Arc::new(AtomicUsize::new(0));
        let (a, b) = (heard.clone(), heard.clone());
        let consequences = Consequences::none()
            .subscribe(move |_| {
                a.fetch_add(1, Ordering::SeqCst);
            })
            .subscribe(move |_| {
                b.fetch_add(10, Ordering::SeqCst);
            });
        let request =
            crate::workflow::grant::tests::expired(crate::workflow::grant::tests::manual(&["U1"]));
        consequences.committed(&Committed::Request(Box::new(request)));
        assert_eq!(heard.load(Ordering::SeqCst), 11);
    }
}
