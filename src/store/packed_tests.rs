//! sled's packed layout over real trees: how few keys many timers and index rows
//! take, a format-1 directory packed when opened, and one unreadable timer in a
//! bucket moved aside without its neighbours.

use chrono::{DateTime, TimeZone, Utc};

use super::keys::{timer_key, timer_window, FORMAT_KEY};
use super::packed::{self, is_bucket_key, GROW_AT};
use super::records;
use super::suite::Grant;
use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0)
        .single()
        .expect("valid instant")
}

fn grant(i: usize) -> Change {
    let key = format!("REQ-{i}");
    Change::new()
        .put(
            Table::Requests,
            &key,
            &Grant {
                owner: format!("U{:03}", i % 100),
            },
        )
        .timer(t(i as i64 % 600), TimerEntry::new("expiry", &key))
        .timer(t(i as i64 % 600 - 900), TimerEntry::new("reminder", &key))
}

#[tokio::test]
async fn many_grants_keep_their_timers_and_index_rows_in_few_keys() {
    let store = SledStore::temporary().expect("store");
    let changes: Vec<Change> = (0..6_400).map(grant).collect();
    for chunk in changes.chunks(800) {
        for result in store.commit_all(chunk.to_vec()).await {
            result.expect("written");
        }
    }
    // 12,800 timers and 12,800 index rows, a key each before packing; buckets are
    // at least half full on average.
    let timers = store.tree(Table::Timers).len();
    let index = store.tree(Table::Index).len();
    assert!(timers <= 12_800 / (GROW_AT / 2), "{timers} timer keys");
    assert!(index <= 12_800 / (GROW_AT / 2), "{index} index keys");
    assert_eq!(store.due_timers(t(600)).expect("due").len(), 12_800);
    assert_eq!(
        store
            .index_keys(Table::Requests, "person:U007")
            .expect("index")
            .len(),
        64
    );
}

#[tokio::test]
async fn a_format_1_directory_is_packed_when_opened_and_reads_the_same() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        for i in 0..300 {
            let due = t(i % 1_200);
            let key = timer_key(due, &format!("REQ-{i}"), "expiry");
            let json = serde_json::to_string(&TimerEntry::new("expiry", format!("REQ-{i}")))
                .expect("json");
            store
                .tree(Table::Timers)
                .insert(key, records::envelope(1, 1, &[], &json))
                .expect("a format-1 timer row");
            let row = format!("requests\0person:U{}\0REQ-{i}", i % 3);
            store
                .tree(Table::Index)
                .insert(row.as_bytes(), &[][..])
                .expect("a format-1 index row");
        }
        store
            .tree(Table::Meta)
            .insert(FORMAT_KEY, &1u64.to_be_bytes()[..])
            .expect("format 1");
        store.flush().await.expect("flushed");
    }
    let store = SledStore::reopen(dir.path()).expect("reopens");
    assert!(store
        .tree(Table::Timers)
        .iter()
        .keys()
        .all(|k| is_bucket_key(&k.expect("key"), 8)));
    let index = store.tree(Table::Index).len();
    assert!(index <= 300 / (GROW_AT / 2), "{index} index keys");
    let due = store.due_timers(t(1_200)).expect("due");
    assert_eq!(due.len(), 300);
    assert!(due.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(
        store
            .index_keys(Table::Requests, "person:U1")
            .expect("index")
            .len(),
        100
    );
    assert_eq!(store.meta_counter(FORMAT_KEY).expect("format"), 3);
}

/// Format 2 placed a timer by the hash of its whole key; format 3 by its subject's.
/// Each one must still be found where it is looked for: cancelled, not left to fire.
#[tokio::test]
async fn a_format_2_directory_has_its_timers_placed_again_and_each_can_be_cancelled() {
    const BUCKETS: u32 = 8;
    let dir = tempfile::tempdir().expect("dir");
    let timers: Vec<(DateTime<Utc>, String)> = (0..200)
        .map(|i| (t(i % 1_200), format!("REQ-{i}")))
        .collect();
    {
        let store = SledStore::open(dir.path()).expect("open");
        let mut buckets = std::collections::BTreeMap::new();
        for (due, subject) in &timers {
            let key = timer_key(*due, subject, "expiry");
            let window = timer_window(&key).expect("a window");
            let at = packed::bucket_of(packed::hash(&key), BUCKETS);
            let json = serde_json::to_string(&TimerEntry::new("expiry", subject)).expect("json");
            let bucket: &mut packed::Bucket = buckets.entry((window, at)).or_default();
            bucket.buckets = if at == 0 { BUCKETS } else { 0 };
            bucket
                .members
                .insert(key, records::envelope(1, 1, &[], &json));
        }
        for ((window, at), bucket) in &buckets {
            store
                .tree(Table::Timers)
                .insert(packed::bucket_key(window, *at), bucket.encode())
                .expect("a format-2 bucket");
        }
        store
            .tree(Table::Meta)
            .insert(FORMAT_KEY, &2u64.to_be_bytes()[..])
            .expect("format 2");
        store.flush().await.expect("flushed");
    }
    let store = SledStore::reopen(dir.path()).expect("reopens");
    assert_eq!(store.meta_counter(FORMAT_KEY).expect("format"), 3);
    assert_eq!(store.due_timers(t(1_200)).expect("due").len(), 200);
    let cancel_all = timers.iter().fold(Change::new(), |change, (due, subject)| {
        change.cancel_timer(*due, subject, "expiry")
    });
    store.commit(cancel_all).await.expect("cancelled");
    assert_eq!(store.due_timers(t(1_200)).expect("due").len(), 0);
    assert_eq!(
        store.tree(Table::Timers).len(),
        0,
        "no bucket is left behind"
    );
}

#[tokio::test]
async fn a_directory_from_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        store
            .tree(Table::Meta)
            .insert(FORMAT_KEY, &4u64.to_be_bytes()[..])
            .expect("format 4");
        store.flush().await.expect("flushed");
    }
    let err = SledStore::reopen(dir.path()).expect_err("refused");
    assert!(
        matches!(err, StoreError::NewerFormat { found: 4, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreadable_timer_leaves_its_bucket_alone_when_moved_aside() {
    let store = SledStore::temporary().expect("store");
    store
        .commit(
            Change::new()
                .timer(t(10), TimerEntry::new("expiry", "REQ-1"))
                .timer(t(20), TimerEntry::new("expiry", "REQ-2")),
        )
        .await
        .expect("scheduled");
    let bad = timer_key(t(15), "REQ-X", "expiry");
    let window = timer_window(&bad).expect("a window");
    store
        .transact_ungated(|tx| {
            tx.group(Table::Timers, &window)
                .insert::<StoreError>(&bad, b"not an envelope")?;
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })
        .expect("planted");
    let due = store.due_timers_limit(t(30), 10).expect("due");
    assert_eq!(due.undecodable, vec![bad.clone()]);
    assert_eq!(due.timers.len(), 2);
    assert!(store
        .quarantine(Table::Timers, &bad, "not a timer", t(0))
        .await
        .expect("moved"));
    let due = store.due_timers_limit(t(30), 10).expect("due");
    assert!(due.undecodable.is_empty());
    let subjects: Vec<String> = due.timers.into_iter().map(|(_, e)| e.subject).collect();
    assert_eq!(subjects, ["REQ-1", "REQ-2"]);
    assert_eq!(store.quarantined_count(Table::Timers).expect("count"), 1);
}
