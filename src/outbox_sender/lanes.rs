//! Which queued entries may go now: the order constraints between outbox entries,
//! kept in memory and updated per entry. Pure.
//!
//! An entry names its conversation keys: its `channel` and the logical message it
//! posts or edits (`record_ref` / `update_ref`). An entry waits for the newest
//! earlier entry of each of its keys, so every conversation (and every message's
//! post → edits) goes strictly in commit order, while entries that share no key, and
//! no chain of keys, never wait for each other. This is the old "lane" (entries
//! linked by a key form one lane) with the waiting narrowed to what the order needs:
//! a slow, paced or failing conversation delays only the entries behind it.

use std::collections::HashMap;

use serde_json::Value;

use crate::store::OutboxMessage;

/// The waiting entries and what each waits for. Ids must be admitted in commit order.
#[derive(Debug, Default)]
pub(super) struct Lanes {
    nodes: HashMap<u64, Node>,
    /// The newest admitted, unsettled entry of each key.
    last: HashMap<String, u64>,
}

#[derive(Debug)]
struct Node {
    keys: Vec<String>,
    /// Unsettled entries this one waits for.
    waiting: usize,
    /// Entries waiting for this one.
    next: Vec<u64>,
}

impl Lanes {
    /// Admits entry `id` (after every entry committed before it); true when it may go
    /// at once.
    pub(super) fn admit(&mut self, id: u64, keys: Vec<String>) -> bool {
        let mut before: Vec<u64> = keys
            .iter()
            .filter_map(|k| self.last.get(k).copied())
            .collect();
        before.sort_unstable();
        before.dedup();
        for earlier in &before {
            if let Some(node) = self.nodes.get_mut(earlier) {
                node.next.push(id);
            }
        }
        for key in &keys {
            self.last.insert(key.clone(), id);
        }
        let waiting = before.len();
        self.nodes.insert(
            id,
            Node {
                keys,
                waiting,
                next: Vec::new(),
            },
        );
        waiting == 0
    }

    /// Entry `id` is settled (delivered, given up or quarantined): the entries that
    /// may go now, in commit order.
    pub(super) fn finish(&mut self, id: u64) -> Vec<u64> {
        let Some(node) = self.nodes.remove(&id) else {
            return Vec::new();
        };
        for key in &node.keys {
            if self.last.get(key) == Some(&id) {
                self.last.remove(key);
            }
        }
        let mut ready = Vec::new();
        for next in node.next {
            if let Some(waiting) = self.nodes.get_mut(&next) {
                waiting.waiting -= 1;
                if waiting.waiting == 0 {
                    ready.push(next);
                }
            }
        }
        ready.sort_unstable();
        ready
    }

    /// Entries admitted and not yet settled.
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// The keys that order `message` against other entries.
pub(super) fn conversation_keys(message: &OutboxMessage) -> Vec<String> {
    let mut keys = Vec::with_capacity(3);
    if let Some(channel) = message.args.get("channel").and_then(Value::as_str) {
        keys.push(format!("channel:{channel}"));
    }
    for key in [&message.record_ref, &message.update_ref]
        .into_iter()
        .flatten()
    {
        keys.push(format!("message:{key}"));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALICE: &str = "U0ALICE001";
    const BOB: &str = "U0BOB00001";

    fn post(channel: &str, key: &str) -> Vec<String> {
        conversation_keys(&OutboxMessage::post(
            channel,
            &json!({"text": "x"}),
            key.into(),
        ))
    }

    fn update(key: &str) -> Vec<String> {
        conversation_keys(&OutboxMessage::update(&json!({"text": "x"}), key.into()))
    }

    /// Admits `entries` as ids 1, 2, …; returns the ids that may go at once.
    fn admit_all(lanes: &mut Lanes, entries: Vec<Vec<String>>) -> Vec<u64> {
        (1..)
            .zip(entries)
            .filter(|(id, keys)| lanes.admit(*id, keys.clone()))
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn messages_to_the_same_channel_go_one_after_another_in_commit_order() {
        let mut lanes = Lanes::default();
        let ready = admit_all(
            &mut lanes,
            vec![post(ALICE, "A/1"), post(BOB, "B/1"), post(ALICE, "A/2")],
        );
        assert_eq!(ready, [1, 2]);
        assert_eq!(lanes.finish(2), Vec::<u64>::new());
        assert_eq!(lanes.finish(1), [3]);
        assert_eq!(lanes.finish(3), Vec::<u64>::new());
        assert_eq!(lanes.len(), 0);
    }

    #[test]
    fn an_update_waits_for_the_post_it_edits_even_in_another_commit() {
        let mut lanes = Lanes::default();
        let ready = admit_all(
            &mut lanes,
            vec![
                post(ALICE, "REQ-1/requester"),
                post(BOB, "REQ-1/approver"),
                update("REQ-1/requester"),
                post("C0GENERAL1", "X/1"),
            ],
        );
        assert_eq!(ready, [1, 2, 4]);
        assert_eq!(lanes.finish(1), [3]);
    }

    #[test]
    fn an_entry_linking_two_conversations_waits_for_both() {
        let mut lanes = Lanes::default();
        // Posted to bob but recorded under alice's key: it waits for both lanes.
        let ready = admit_all(
            &mut lanes,
            vec![post(ALICE, "K/1"), post(BOB, "K/2"), post(BOB, "K/1")],
        );
        assert_eq!(ready, [1, 2]);
        assert_eq!(lanes.finish(1), Vec::<u64>::new());
        assert_eq!(lanes.finish(2), [3]);
    }

    #[test]
    fn a_long_queue_to_one_person_holds_back_nobody_else() {
        let mut lanes = Lanes::default();
        let mut entries: Vec<Vec<String>> = (0..10_000)
            .map(|i| post("U0CAROL001", &format!("T/{i}")))
            .collect();
        entries.push(post(BOB, "REQ-9/approver"));
        let ready = admit_all(&mut lanes, entries);
        assert_eq!(ready, [1, 10_001]);
        assert_eq!(lanes.finish(1), [2]);
    }

    #[test]
    fn an_entry_admitted_after_its_predecessor_settled_goes_at_once() {
        let mut lanes = Lanes::default();
        assert!(lanes.admit(1, post(ALICE, "A/1")));
        assert!(lanes.finish(1).is_empty());
        assert!(lanes.admit(2, update("A/1")));
        assert!(
            lanes.admit(3, Vec::new()),
            "an entry without keys waits for nothing"
        );
    }
}
