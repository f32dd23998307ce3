//! Recognises an envelope delivered more than once, and answers the copy with the
//! original's ack.
//!
//! Slack may send one envelope on two connections, and retries an event (same
//! `event_id`) when an ack is late. The handler must run once; every copy must still
//! be acked, with the same payload, or the person whose copy was dropped sees an error.
//!
//! This is a transport-level, in-memory guard over a bounded window. Decisions that
//! must hold across restarts (an approval, say) are made idempotent in the store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::watch;

/// What a delivery should do.
pub enum Seen {
    /// First delivery: run the handler, then [`Deduper::finish`] with its ack payload.
    First(Ticket),
    /// A copy: wait on this for the original's ack payload.
    Copy(watch::Receiver<Option<AckPayload>>),
}

/// The ack payload an envelope was answered with (`None` for a bare ack).
pub type AckPayload = Option<Value>;

/// Proof that this delivery is the one that runs the handler.
pub struct Ticket {
    keys: Vec<String>,
    sender: watch::Sender<Option<AckPayload>>,
}

#[derive(Clone)]
pub struct Deduper {
    inner: Arc<Mutex<Window>>,
}

struct Window {
    capacity: usize,
    entries: HashMap<String, watch::Receiver<Option<AckPayload>>>,
    order: VecDeque<String>,
}

impl Deduper {
    /// Remembers the last `capacity` keys. At 1,000 envelopes/s, 100,000 keys cover
    /// well over Slack's retry schedule for the first two retries.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Window {
                capacity: capacity.max(1),
                entries: HashMap::new(),
                order: VecDeque::new(),
            })),
        }
    }

    pub fn check(&self, keys: Vec<String>) -> Seen {
        // A std Mutex is right here: the critical section is a few map operations
        // and never awaits.
        let mut window = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = keys.iter().find_map(|k| window.entries.get(k)) {
            return Seen::Copy(existing.clone());
        }
        let (sender, receiver) = watch::channel(None);
        for key in &keys {
            window.insert(key.clone(), receiver.clone());
        }
        Seen::First(Ticket { keys, sender })
    }

    pub fn finish(&self, ticket: Ticket, payload: AckPayload) {
        // Receivers hold the value even after the sender is gone.
        let _ = ticket.sender.send(Some(payload));
        drop(ticket.keys);
    }
}

impl Deduper {
    /// Forgets a delivery that was not acked, so Slack's next retry of it is
    /// handled as new. Copies already waiting are acked bare.
    pub fn forget(&self, ticket: Ticket) {
        let mut window = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for key in &ticket.keys {
            window.entries.remove(key);
        }
        window.order.retain(|k| !ticket.keys.contains(k));
    }
}

impl Window {
    fn insert(&mut self, key: String, receiver: watch::Receiver<Option<AckPayload>>) {
        if self.entries.insert(key.clone(), receiver).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }
}

/// Waits for the original delivery's ack payload. If the original's handler died
/// without finishing, the copy is acked bare rather than never.
pub async fn original_payload(mut receiver: watch::Receiver<Option<AckPayload>>) -> AckPayload {
    match receiver.wait_for(Option::is_some).await {
        Ok(value) => value.clone().flatten(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_copy_gets_the_payload_the_original_was_acked_with() {
        let deduper = Deduper::new(10);
        let Seen::First(ticket) = deduper.check(vec!["env:a".into()]) else {
            panic!("first delivery must run");
        };
        let Seen::Copy(copy) = deduper.check(vec!["env:a".into()]) else {
            panic!("second delivery must be a copy");
        };
        deduper.finish(ticket, Some(json!({"text": "hi"})));
        assert_eq!(original_payload(copy).await, Some(json!({"text": "hi"})));
    }

    #[tokio::test]
    async fn any_shared_key_marks_a_copy() {
        let deduper = Deduper::new(10);
        let _first = deduper.check(vec!["env:1".into(), "evt:E".into()]);
        assert!(matches!(
            deduper.check(vec!["env:2".into(), "evt:E".into()]),
            Seen::Copy(_)
        ));
    }

    #[tokio::test]
    async fn a_copy_whose_original_vanished_is_acked_bare() {
        let deduper = Deduper::new(10);
        let first = deduper.check(vec!["env:a".into()]);
        let Seen::Copy(copy) = deduper.check(vec!["env:a".into()]) else {
            panic!("copy expected");
        };
        drop(first);
        assert_eq!(original_payload(copy).await, None);
    }

    #[test]
    fn the_window_forgets_the_oldest_keys_first() {
        let deduper = Deduper::new(2);
        for key in ["a", "b", "c"] {
            let _ = deduper.check(vec![key.into()]);
        }
        assert!(matches!(deduper.check(vec!["a".into()]), Seen::First(_)));
        assert!(matches!(deduper.check(vec!["c".into()]), Seen::Copy(_)));
    }
}
