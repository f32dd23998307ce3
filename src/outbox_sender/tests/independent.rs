//! Conversations independent of each other: a failing, paced or throttled one holds
//! back no other, an unreadable row is moved aside, a panicking task restarts the
//! sender.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn a_failing_and_a_paced_conversation_hold_back_no_other() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    // alice's DM answers 503 for a long while; carol has 40 messages queued, paced
    // at one a second after a burst of five.
    sim.faults()
        .http_error_to("chat.postMessage", ALICE, 503, 1_000);
    let mut change = Change::new().outbox(post(ALICE, "stuck", "A/1"));
    for i in 0..40 {
        change = change.outbox(post("U0CAROL001", &format!("task {i}"), &format!("T/{i}")));
    }
    store.commit(change).await.expect("commit");
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    wait_until(&sim, "alice's DM failed at least once", |sim| {
        sim.calls_to("chat.postMessage")
            .iter()
            .any(|c| c.http_status == 503)
    })
    .await;
    // Committed after both: delivered while they still wait.
    queue(&store, post(BOB, "please approve", "REQ-9/approver")).await;
    wait_for_dm(&sim, "bob", "bob's card").await;
    assert!(texts(&sim, "alice").is_empty());
    assert!(
        sim.person("carol").dms().len() < 40,
        "bob's card did not wait for carol's queue"
    );
    assert_eq!(store.outbox_queued_to(ALICE), 1);
    sender.stop().await;
}

#[tokio::test]
async fn an_unreadable_row_is_quarantined_and_everything_else_delivered() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    let change = Change::new()
        .outbox(post(ALICE, "one", "K/1"))
        .outbox(post(BOB, "two", "K/2"));
    let ids = store.commit(change).await.expect("commit").outbox_ids;
    store
        .sled()
        .expect("sled")
        .tree(Table::Outbox)
        .insert(ids[0].to_be_bytes(), &b"{\"v\":1,\"data\":42}"[..])
        .expect("garbage planted over the first entry");
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    wait_for_dm(&sim, "bob", "the readable entry").await;
    queue(&store, post(ALICE, "three", "K/3")).await;
    wait_for_dm(&sim, "alice", "a later entry").await;
    sender.stop().await;
    assert_eq!(texts(&sim, "alice"), ["three"]);
    assert_eq!(
        store.quarantined_count(Table::Outbox).await.expect("count"),
        1
    );
    assert!(store.pending_outbox().await.expect("outbox").is_empty());
}

#[tokio::test]
async fn a_panicking_delivery_task_restarts_the_sender_which_goes_on_delivering() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    let metrics = crate::metrics::Metrics::default();
    let supervisor = crate::supervise::Supervisor::new(metrics.clone());
    let stop = CancellationToken::new();
    let handle = {
        let (store, web, stop) = (store.clone(), client(&sim, WITHIN), stop.clone());
        supervisor.spawn("outbox", STALE_AFTER, stop.clone(), move |beat| {
            run(
                store.clone(),
                web.clone(),
                crate::burst::Burst::default(),
                stop.clone(),
                beat,
            )
        })
    };
    queue(
        &store,
        OutboxMessage::call(PANIC_ONCE, json!({"channel": BOB})),
    )
    .await;
    queue(&store, post(ALICE, "after the panic", "K/1")).await;
    wait_for_dm(&sim, "alice", "delivery after the restart").await;
    settled(&store).await;
    let restarts = metrics.value("c1bot_loop_restarts_total", &[("loop", "outbox")]);
    assert_eq!(restarts, 1.0, "the panic was counted as a restart");
    stop.cancel();
    handle.await.expect("the supervisor ends");
}

#[tokio::test]
async fn conversations_waiting_out_a_rate_limit_hold_no_delivery_slot() {
    let workspace = Workspace::large(CONCURRENT_CALLS + 4);
    let sim = Simulator::start(workspace, SimOptions::default())
        .await
        .expect("simulator");
    let store = Store::temporary().expect("store");
    // More conversations than delivery slots answer 429 with a long Retry-After.
    let mut change = Change::new();
    for i in 0..CONCURRENT_CALLS + 4 {
        let user = format!("U0L{i:07}");
        sim.faults()
            .rate_limit_to("chat.postMessage", &user, 600, 1_000);
        change = change.outbox(post(&user, "throttled", &format!("L/{i}")));
    }
    store.commit(change).await.expect("commit");
    let sender = Running::start(&store, client(&sim, WITHIN));
    wait_until(
        &sim,
        "enough conversations to fill every slot were refused",
        |sim| sim.calls_to("chat.postMessage").len() >= CONCURRENT_CALLS,
    )
    .await;
    queue(&store, post(BOB, "please approve", "REQ-9/approver")).await;
    wait_for_dm(&sim, "bob", "bob's card, past the throttled conversations").await;
    depth_reaches(&store, CONCURRENT_CALLS + 4).await;
    sender.stop().await;
}
