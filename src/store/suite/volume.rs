//! Volume on every backend: thousands of timers due in the same minutes and thousands
//! of records under one index entry, added in group commits and removed again, come
//! back exactly, in order (on sled they are packed many to a key, see `packed`).

use super::*;

both!(
    thousands_of_timers_in_one_window_fire_in_order_and_cancel_exactly,
    thousands_of_records_under_one_index_entry_are_all_found_and_all_leave,
);

async fn thousands_of_timers_in_one_window_fire_in_order_and_cancel_exactly(store: Store) {
    // 3,000 timers over five minutes, scheduled in an order unlike their due times.
    let due = |i: i64| t((i * 7_919) % 300);
    let changes: Vec<Change> = (0..3_000)
        .map(|i| Change::new().timer(due(i), reminder(&format!("REQ-{i}"))))
        .collect();
    for chunk in changes.chunks(500) {
        for result in store.commit_all(chunk.to_vec()).await {
            result.expect("scheduled");
        }
    }
    let all = store.due_timers(t(300)).await.expect("due");
    assert_eq!(all.len(), 3_000);
    assert!(all.windows(2).all(|w| w[0].0 <= w[1].0), "in due order");
    let first = store.due_timers_limit(t(300), 100).await.expect("limited");
    assert_eq!(first.timers, all[..100].to_vec());
    assert_eq!(store.next_timer_due().await.expect("next"), Some(t(0)));
    let early = store.due_timers(t(149)).await.expect("due");
    assert_eq!(
        early.len(),
        all.iter().filter(|(at, _)| *at <= t(149)).count()
    );

    // Cancel every odd one, in groups: the even ones are left, exactly.
    let cancels: Vec<Change> = (0..3_000)
        .filter(|i| i % 2 == 1)
        .map(|i| Change::new().cancel_timer(due(i), &format!("REQ-{i}"), "reminder"))
        .collect();
    for chunk in cancels.chunks(300) {
        for result in store.commit_all(chunk.to_vec()).await {
            result.expect("cancelled");
        }
    }
    let left: std::collections::BTreeSet<String> = store
        .due_timers(t(300))
        .await
        .expect("due")
        .into_iter()
        .map(|(_, e)| e.subject)
        .collect();
    let even: std::collections::BTreeSet<String> =
        (0..3_000).step_by(2).map(|i| format!("REQ-{i}")).collect();
    assert_eq!(left, even);
    let rest: Vec<Change> = (0..3_000)
        .step_by(2)
        .map(|i| Change::new().cancel_timer(due(i), &format!("REQ-{i}"), "reminder"))
        .collect();
    for result in store.commit_all(rest).await {
        result.expect("cancelled");
    }
    assert!(store.due_timers(t(300)).await.expect("due").is_empty());
    assert_eq!(store.next_timer_due().await.expect("next"), None);
}

async fn thousands_of_records_under_one_index_entry_are_all_found_and_all_leave(store: Store) {
    let key = |i: usize| format!("REQ-{}", 1_000 + i);
    let owner = |i: usize| format!("U{:04}", i % 250);
    let puts: Vec<Change> = (0..2_000)
        .map(|i| Change::new().put(Table::Requests, key(i), &Grant { owner: owner(i) }))
        .collect();
    for chunk in puts.chunks(400) {
        for result in store.commit_all(chunk.to_vec()).await {
            result.expect("written");
        }
    }
    let active = store
        .index_keys(Table::Requests, "active:aws-prod")
        .await
        .expect("index");
    let mut expected: Vec<String> = (0..2_000).map(key).collect();
    expected.sort();
    assert_eq!(active, expected);
    let u7 = store
        .index::<Grant>(Table::Requests, "person:U0007")
        .await
        .expect("index");
    assert_eq!(u7.len(), 8);
    assert!(u7.iter().all(|(_, r)| r.data.owner == "U0007"));

    let deletes: Vec<Change> = (0..1_990)
        .map(|i| Change::new().delete(Table::Requests, key(i)))
        .collect();
    for chunk in deletes.chunks(400) {
        for result in store.commit_all(chunk.to_vec()).await {
            result.expect("deleted");
        }
    }
    let active = store
        .index_keys(Table::Requests, "active:aws-prod")
        .await
        .expect("index");
    assert_eq!(active, (1_990..2_000).map(key).collect::<Vec<_>>());
    assert!(store
        .index_keys(Table::Requests, "person:U0007")
        .await
        .expect("index")
        .is_empty());
}
