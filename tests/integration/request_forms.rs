//! Request forms: an entitlement's extra fields (catalog `fields`) in the request
//! modal, checked at the field, required by policy (`require_fields`), seen by
//! policy (`input.request.fields`), and carried on the cards, in the audit log and
//! in the provisioning task. The example catalog's Orders database ReadWrite asks
//! for a ticket (`^(INC|CHG)-[0-9]+$`), a schema and a change date; the example
//! policy requires the ticket in production.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};

use crate::grants::audit_entries_of;
use crate::helpers::{eventually, spawn_app, TestApp};
use crate::requests::{dm_containing, fill_request, WAIT};

/// alice fills Orders database / ReadWrite / 1 h and waits for its form to appear.
async fn open_orders_write(app: &TestApp) -> Person {
    let alice = app.sim.person("alice");
    fill_request(
        &alice,
        "Orders database",
        "ReadWrite",
        "1 h",
        "deploy the hotfix",
    )
    .await;
    eventually(WAIT, "the request form's fields appear", || async {
        alice
            .modal()
            .is_some_and(|m| m.to_string().contains("field_ticket"))
    })
    .await;
    alice
}

async fn errors_of(person: &Person) -> std::collections::BTreeMap<String, String> {
    errors_in(person.submit().await.expect("answered"))
}

fn errors_in(outcome: SubmitOutcome) -> std::collections::BTreeMap<String, String> {
    match outcome {
        SubmitOutcome::Errors(errors) => errors,
        other => panic!("expected errors in the modal, got {other:?}"),
    }
}

fn input_labelled(person: &Person, label: &str) -> serde_json::Value {
    let modal = person.modal().expect("a modal is open");
    modal["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["label"]["text"] == label)
        .cloned()
        .unwrap_or_else(|| panic!("no input labelled {label:?}: {modal}"))
}

#[tokio::test]
async fn a_ticket_required_by_policy_is_asked_for_at_its_field_and_then_carried_everywhere() {
    let app = spawn_app().await;
    let alice = open_orders_write(&app).await;
    alice
        .fill("Schema", "orders")
        .await
        .expect("schema offered");
    // Policy requires the ticket here, so the modal marks it required and Slack
    // would not even send the form without it; a hand-made payload is refused too.
    let ticket = input_labelled(&alice, "Ticket");
    assert_eq!(ticket["optional"], false, "{ticket}");
    assert!(alice.submit().await.is_err(), "Slack keeps the form open");
    let errors = errors_in(alice.submit_unchecked().await.expect("answered"));
    assert_eq!(
        errors.get("field_ticket").map(String::as_str),
        Some("Ticket is required for this access."),
        "{errors:?}"
    );
    alice.fill("Ticket", "ticket 7").await.expect("typed");
    let errors = errors_of(&alice).await;
    assert_eq!(
        errors.get("field_ticket").map(String::as_str),
        Some("Ticket must match ^(INC|CHG)-[0-9]+$."),
        "{errors:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.sim.calls_to("chat.postMessage").is_empty(),
        "nothing is sent for an invalid request"
    );
    assert!(audit_entries_of(&app, "request.submitted").await.is_empty());

    alice.fill("Ticket", "INC-4711").await.expect("typed");
    alice
        .fill("Change date", "2026-12-24")
        .await
        .expect("date picked");
    assert!(matches!(
        alice.submit().await.expect("answered"),
        SubmitOutcome::Closed
    ));

    let card = dm_containing(&app.sim.person("bob"), "deploy the hotfix").await;
    let text = card.visible_text();
    for shown in [
        "Ticket:",
        "INC-4711",
        "Schema:",
        "orders",
        "Change date:",
        "2026-12-24",
    ] {
        assert!(text.contains(shown), "the card shows {shown:?}: {text}");
    }
    dm_containing(&alice, "INC-4711").await;
    let submitted = audit_entries_of(&app, "request.submitted").await;
    assert_eq!(
        submitted[0]["detail"]["fields"],
        serde_json::json!({"ticket": "INC-4711", "schema": "orders", "change_date": "2026-12-24"})
    );

    // Both approvers (bob and the database's owner, carol) approve; carol's
    // provisioning task names the ticket too.
    app.sim
        .person("bob")
        .click("Approve")
        .await
        .expect("bob approves");
    let carol = app.sim.person("carol");
    dm_containing(&carol, "deploy the hotfix").await;
    carol.click("Approve").await.expect("carol approves");
    let task = dm_containing(&carol, "Mark complete").await;
    assert!(
        task.visible_text().contains("INC-4711"),
        "{}",
        task.visible_text()
    );
    app.stop().await;
}

#[tokio::test]
async fn policy_reads_the_form_and_a_date_that_does_not_exist_is_refused_at_its_field() {
    let app = spawn_app().await;
    let alice = open_orders_write(&app).await;
    alice
        .fill("Schema", "payments")
        .await
        .expect("schema offered");
    alice.fill("Ticket", "INC-4711").await.expect("typed");
    let errors = errors_of(&alice).await;
    let refusal = errors.get("entitlement").cloned().unwrap_or_default();
    assert!(
        refusal.contains("payments schema need a change ticket"),
        "the example policy's reason is shown: {errors:?}"
    );

    // A date that does not exist (a forged payload; Slack's picker cannot send it)
    // is refused at its field.
    alice.fill("Ticket", "CHG-12").await.expect("typed");
    alice.fill("Change date", "2026-02-30").await.expect("set");
    let errors = errors_of(&alice).await;
    assert_eq!(
        errors,
        [(
            "field_change_date".to_owned(),
            "Change date must be a date (YYYY-MM-DD).".to_owned()
        )]
        .into(),
    );
    assert!(audit_entries_of(&app, "request.submitted").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_one_line_request_for_an_entitlement_with_a_form_opens_the_modal_to_fill_it_in() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    let outcome = alice
        .slash(
            "/c1",
            "request orders-db readwrite 1h deploy the hotfix",
            "general",
        )
        .await;
    assert!(outcome.acked);
    let modal = alice.wait_for_modal(WAIT).await.expect("the modal opens");
    let shown = modal.to_string();
    assert!(shown.contains("a few more details"), "{shown}");
    assert!(
        shown.contains("field_ticket"),
        "the form is in the modal: {shown}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(audit_entries_of(&app, "request.submitted").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_dm_request_without_the_required_form_says_what_is_missing_and_where_to_fill_it_in() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice
        .send_dm("request orders-db readwrite for 1h because deploy the hotfix")
        .await;
    dm_containing(&alice, "deploy the hotfix").await;
    eventually(WAIT, "c1bot offers Submit", || async {
        alice
            .dms()
            .iter()
            .any(|m| m.buttons().contains(&"Submit".to_owned()))
    })
    .await;
    alice.click("Submit").await.expect("alice submits");
    let answer = dm_containing(&alice, "Use `/c1 request` to fill in the request form").await;
    let text = answer.visible_text();
    assert!(
        text.contains("Ticket is required for this access."),
        "{text}"
    );
    assert!(
        text.contains("Schema is required for this access."),
        "{text}"
    );
    assert!(audit_entries_of(&app, "request.submitted").await.is_empty());
    app.stop().await;
}
