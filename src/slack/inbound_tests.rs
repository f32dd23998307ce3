use super::*;
use serde_json::json;

fn envelope(kind: EnvelopeKind, payload: Value) -> Envelope {
    Envelope::of(kind, payload)
}

fn command(response_url: &str) -> Inbound {
    Inbound::decode(&envelope(
        EnvelopeKind::SlashCommands,
        json!({"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/c1",
            "text": "help", "response_url": response_url, "trigger_id": "1.2.3"}),
    ))
}

fn event(event: Value) -> Inbound {
    Inbound::decode(&envelope(
        EnvelopeKind::EventsApi,
        json!({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event}),
    ))
}

fn message(extra: Value) -> Value {
    let mut event = json!({
        "type": "message", "channel": "D0ALICE001", "user": "U0ALICE001",
        "text": "hi", "ts": "1763630100.000200", "channel_type": "im"
    });
    if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            event.insert(k.clone(), v.clone());
        }
    }
    event
}

#[test]
fn a_slash_command_reads_its_text_and_where_to_answer() {
    match command("https://hooks.slack.com/x") {
        Inbound::Command(command) => {
            assert_eq!(
                (command.user_id.as_str(), command.channel_id.as_str()),
                ("U1", "C1")
            );
            assert_eq!(
                (command.command.as_str(), command.text.as_str()),
                ("/c1", "help")
            );
            assert_eq!(command.response_url, "https://hooks.slack.com/x");
        }
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn a_slash_command_without_a_usable_response_url_does_not_decode() {
    assert!(matches!(
        command("not a url"),
        Inbound::Unreadable {
            kind: EnvelopeKind::SlashCommands,
            ..
        }
    ));
}

#[test]
fn an_unknown_interaction_type_is_an_interaction_nothing_handles() {
    let inbound = Inbound::decode(&envelope(
        EnvelopeKind::Interactive,
        json!({"type": "future_interaction"}),
    ));
    assert_eq!(
        inbound,
        Inbound::Interaction(Interaction::Other {
            kind: "future_interaction".into()
        })
    );
}

#[test]
fn app_home_opened_names_who_opened_it_and_without_them_does_not_decode() {
    assert_eq!(
        event(json!({"type": "app_home_opened", "user": "U1", "tab": "home"})),
        Inbound::HomeOpened { user: "U1".into() }
    );
    assert!(matches!(
        event(json!({"type": "app_home_opened", "tab": "home"})),
        Inbound::Unreadable { .. }
    ));
}

#[test]
fn a_persons_own_message_in_a_dm_is_read() {
    assert_eq!(
        event(message(json!({}))),
        Inbound::DirectMessage(DirectMessage {
            user: "U0ALICE001".into(),
            channel: "D0ALICE001".into(),
            text: "hi".into(),
            ts: "1763630100.000200".into(),
        })
    );
}

#[test]
fn apps_edits_deletions_channels_and_blank_messages_are_not_for_c1bot() {
    for extra in [
        json!({"bot_id": "B0C1BOT001", "user": "U0C1BOT001"}),
        json!({"subtype": "bot_message", "bot_id": "B0OTHER001"}),
        json!({"subtype": "message_changed", "message": {"text": "edited"}}),
        json!({"subtype": "message_deleted"}),
        json!({"channel_type": "channel", "channel": "C0GENERAL1"}),
        json!({"text": "   "}),
    ] {
        assert!(
            matches!(event(message(extra.clone())), Inbound::NotForC1bot { .. }),
            "{extra}"
        );
    }
}

#[test]
fn other_events_are_not_for_c1bot_and_other_payloads_do_not_decode() {
    assert!(matches!(
        event(json!({"type": "reaction_added", "user": "U1"})),
        Inbound::NotForC1bot { .. }
    ));
    assert!(matches!(
        Inbound::decode(&envelope(
            EnvelopeKind::EventsApi,
            json!({"type": "app_rate_limited"})
        )),
        Inbound::Unreadable { .. }
    ));
}
