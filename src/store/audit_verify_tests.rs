//! Tests for the chain check: breaks, the stored head, and anchors kept elsewhere.

use super::*;
use crate::store::audit::build_entry;
use crate::store::AuditEvent;
use chrono::{TimeZone, Utc};
use serde_json::json;

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        actor: "U0BOB00001".into(),
        action: "decision.approved".into(),
        subject: format!("REQ-{n}"),
        detail: json!({"b": 1, "a": [true, null, "x"]}),
    }
}

/// A well-formed chain of `n` entries and its head.
fn chain(n: u64) -> (Vec<StoredEntry>, AuditHead) {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid");
    let mut prev = GENESIS_HASH.to_owned();
    let mut out = Vec::new();
    for seq in 1..=n {
        let (bytes, hash) = build_entry(seq, at, &prev, &event(seq));
        out.push((seq.to_be_bytes().to_vec(), bytes));
        prev = hash;
    }
    (out, AuditHead { seq: n, hash: prev })
}

#[test]
fn an_intact_chain_verifies() {
    let (entries, head) = chain(5);
    let result = verify_chain(entries, Some(&head), None);
    assert_eq!(
        result,
        AuditVerification {
            count: 5,
            problem: None
        }
    );
}

#[test]
fn an_empty_log_verifies() {
    assert!(verify_chain(Vec::new(), None, None).is_ok());
}

#[test]
fn an_edited_entry_is_reported_with_its_seq() {
    let (mut entries, head) = chain(5);
    let edited = String::from_utf8(entries[2].1.clone())
        .expect("utf8")
        .replace("REQ-3", "REQ-9");
    entries[2].1 = edited.into_bytes();
    let problem = verify_chain(entries, Some(&head), None)
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 3);
    assert!(problem.reason.contains("edited"), "{}", problem.reason);
}

#[test]
fn a_removed_entry_is_reported_with_its_seq() {
    let (mut entries, head) = chain(5);
    entries.remove(1);
    let problem = verify_chain(entries, Some(&head), None)
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 2);
    assert!(problem.reason.contains("missing"), "{}", problem.reason);
}

#[test]
fn swapped_entries_are_reported_as_reordered() {
    let (mut entries, head) = chain(5);
    let (a, b) = (entries[1].1.clone(), entries[2].1.clone());
    entries[1].1 = b;
    entries[2].1 = a;
    let problem = verify_chain(entries, Some(&head), None)
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 2);
    assert!(problem.reason.contains("reordered"), "{}", problem.reason);
}

#[test]
fn a_truncated_tail_is_caught_by_the_head() {
    let (mut entries, head) = chain(5);
    entries.truncate(3);
    let problem = verify_chain(entries, Some(&head), None)
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 4);
}

fn anchor_of(head: &AuditHead) -> AuditAnchor {
    AuditAnchor {
        seq: head.seq,
        hash: head.hash.clone(),
    }
}

/// `chain(n)` cut back to `keep` entries, its stored head moved back with it, as
/// someone with the disk would leave it.
fn cut_consistently(n: u64, keep: u64) -> (Vec<StoredEntry>, AuditHead, AuditAnchor) {
    let (entries, old_head) = chain(n);
    let (kept, head) = chain(keep);
    assert_eq!(entries[..kept.len()], kept[..], "same entries");
    (kept, head, anchor_of(&old_head))
}

#[test]
fn an_anchor_reads_as_seq_colon_hash_and_prints_the_same() {
    let hash = "3F5A".repeat(16);
    let anchor: AuditAnchor = format!(" 1042:{hash}\n").parse().expect("valid");
    assert_eq!(anchor.seq, 1042);
    assert_eq!(anchor.hash, hash.to_ascii_lowercase(), "hex is lowercased");
    assert_eq!(anchor.to_string().parse::<AuditAnchor>(), Ok(anchor));
}

#[test]
fn malformed_anchors_are_refused_with_the_expected_form() {
    let hash = "ab".repeat(32);
    for text in [
        String::new(),
        "1042".to_owned(),
        format!("0:{hash}"),
        format!("-1:{hash}"),
        format!("x:{hash}"),
        "1042:abc".to_owned(),
        format!("1042:{}", "zz".repeat(32)),
        format!("1042:{hash}0"),
    ] {
        let error = text.parse::<AuditAnchor>().expect_err(&text);
        assert!(error.contains("SEQ:HASH"), "{error}");
    }
}

#[test]
fn a_tail_cut_with_its_head_passes_plain_verify_but_not_the_anchor() {
    let (entries, head, anchor) = cut_consistently(7, 4);
    assert!(verify_chain(entries.clone(), Some(&head), None).is_ok());
    let result = verify_chain(entries, Some(&head), Some(&anchor));
    let problem = result.problem.expect("the cut is caught");
    assert_eq!((result.count, problem.seq), (4, 5));
    assert!(
        problem.reason.starts_with("entry 5 is missing")
            && problem.reason.contains("reached entry 7"),
        "{}",
        problem.reason
    );
}

#[test]
fn an_empty_log_does_not_hold_an_anchor() {
    let (_, head) = chain(3);
    let problem = verify_chain(Vec::new(), None, Some(&anchor_of(&head)))
        .problem
        .expect("caught");
    assert_eq!(problem.seq, 1);
}

#[test]
fn a_log_grown_past_its_anchor_verifies() {
    let (_, then) = chain(3);
    let (entries, head) = chain(9);
    assert!(verify_chain(entries, Some(&head), Some(&anchor_of(&then))).is_ok());
}

#[test]
fn the_anchor_entry_with_another_hash_is_reported_at_its_seq() {
    let (entries, head) = chain(5);
    let other = AuditAnchor {
        seq: 3,
        hash: "ab".repeat(32),
    };
    let problem = verify_chain(entries, Some(&head), Some(&other))
        .problem
        .expect("caught");
    assert_eq!(problem.seq, 3);
    assert!(problem.reason.contains("rewritten"), "{}", problem.reason);
}

#[test]
fn a_break_after_the_anchor_is_still_reported() {
    let (_, then) = chain(2);
    let (mut entries, head) = chain(5);
    entries.remove(3);
    let problem = verify_chain(entries, Some(&head), Some(&anchor_of(&then)))
        .problem
        .expect("caught");
    assert_eq!(problem.seq, 4);
    assert!(problem.reason.contains("missing"), "{}", problem.reason);
}
