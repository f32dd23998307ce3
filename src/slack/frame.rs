//! Socket Mode frames: decoding what Slack sends on the websocket and encoding acks.
//!
//! Pure: no I/O. Decoding is in two stages on purpose. [`Frame::parse`] reads only the
//! outer shape (type, `envelope_id`, retry fields) so that every envelope can be acked
//! even when its payload is of a kind we do not model; [`Envelope::decode`] turns the
//! payload into slack-morphism's models afterwards, off the ack path.

use serde::Deserialize;
use serde_json::Value;

/// One text frame from Slack, as far as the transport needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Hello {
        num_connections: u32,
        app_id: String,
    },
    Disconnect {
        reason: DisconnectReason,
    },
    Envelope(Envelope),
    /// Valid JSON of a shape we do not know. Acked if it names an envelope id.
    Unknown {
        kind: String,
        envelope_id: Option<String>,
    },
}

/// Why Slack asks us to let go of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// Slack will close this link in about 10 s.
    Warning,
    /// Slack wants this link replaced now.
    RefreshRequested,
    /// Socket Mode was switched off in the app's settings: reconnecting cannot help.
    LinkDisabled,
    /// More than 10 links are open for this app.
    TooManyWebsockets,
    Other(String),
}

impl DisconnectReason {
    fn from_wire(reason: &str) -> Self {
        match reason {
            "warning" => Self::Warning,
            "refresh_requested" => Self::RefreshRequested,
            "link_disabled" => Self::LinkDisabled,
            "too_many_websockets" => Self::TooManyWebsockets,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Warning => "warning",
            Self::RefreshRequested => "refresh_requested",
            Self::LinkDisabled => "link_disabled",
            Self::TooManyWebsockets => "too_many_websockets",
            Self::Other(other) => other,
        }
    }
}

/// The three envelope classes Slack delivers over Socket Mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvelopeKind {
    EventsApi,
    SlashCommands,
    Interactive,
}

impl EnvelopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventsApi => "events_api",
            Self::SlashCommands => "slash_commands",
            Self::Interactive => "interactive",
        }
    }
}

/// An envelope whose outer fields are known and whose payload is still raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub envelope_id: String,
    pub kind: EnvelopeKind,
    pub accepts_response_payload: bool,
    pub retry_attempt: u32,
    pub retry_reason: String,
    pub payload: Value,
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    envelope_id: Option<String>,
    #[serde(default)]
    accepts_response_payload: bool,
    #[serde(default)]
    retry_attempt: Option<u32>,
    #[serde(default)]
    retry_reason: Option<String>,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    num_connections: Option<u32>,
    #[serde(default)]
    connection_info: Option<ConnectionInfo>,
}

#[derive(Deserialize)]
struct ConnectionInfo {
    app_id: Option<String>,
}

/// A text frame that is not JSON at all.
#[derive(Debug, thiserror::Error)]
#[error("socket frame is not JSON: {0}")]
pub struct FrameError(#[from] serde_json::Error);

impl Frame {
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let raw: RawFrame = serde_json::from_str(text)?;
        let kind = raw.kind.unwrap_or_default();
        let envelope_kind = match kind.as_str() {
            "hello" => {
                return Ok(Frame::Hello {
                    num_connections: raw.num_connections.unwrap_or(0),
                    app_id: raw
                        .connection_info
                        .and_then(|c| c.app_id)
                        .unwrap_or_default(),
                })
            }
            "disconnect" => {
                let reason = raw.reason.unwrap_or_default();
                return Ok(Frame::Disconnect {
                    reason: DisconnectReason::from_wire(&reason),
                });
            }
            "events_api" => EnvelopeKind::EventsApi,
            "slash_commands" => EnvelopeKind::SlashCommands,
            "interactive" => EnvelopeKind::Interactive,
            _ => {
                return Ok(Frame::Unknown {
                    kind,
                    envelope_id: raw.envelope_id,
                })
            }
        };
        let Some(envelope_id) = raw.envelope_id else {
            return Ok(Frame::Unknown {
                kind,
                envelope_id: None,
            });
        };
        Ok(Frame::Envelope(Envelope {
            envelope_id,
            kind: envelope_kind,
            accepts_response_payload: raw.accepts_response_payload,
            retry_attempt: raw.retry_attempt.unwrap_or(0),
            retry_reason: raw.retry_reason.unwrap_or_default(),
            payload: raw.payload,
        }))
    }
}

impl Envelope {
    /// A first delivery of `payload` as `kind`, for tests.
    #[cfg(test)]
    pub fn of(kind: EnvelopeKind, payload: Value) -> Envelope {
        Envelope {
            envelope_id: "e1".into(),
            kind,
            accepts_response_payload: false,
            retry_attempt: 0,
            retry_reason: String::new(),
            payload,
        }
    }

    /// The envelope as Slack's frame JSON, for the intake journal.
    pub fn to_frame(&self) -> Value {
        serde_json::json!({
            "type": self.kind.as_str(),
            "envelope_id": self.envelope_id,
            "accepts_response_payload": self.accepts_response_payload,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
            "payload": self.payload,
        })
    }

    /// An envelope back from [`Envelope::to_frame`]'s JSON (`None` if it is not one).
    pub fn from_frame(frame: &Value) -> Option<Envelope> {
        match Frame::parse(&frame.to_string()).ok()? {
            Frame::Envelope(envelope) => Some(envelope),
            _ => None,
        }
    }

    /// Keys under which a second delivery of the same thing is recognised.
    ///
    /// Slack may repeat an `envelope_id` across connections, and a retried event
    /// keeps its `event_id` while (possibly) getting a new envelope id.
    pub fn dedupe_keys(&self) -> Vec<String> {
        let mut keys = vec![format!("env:{}", self.envelope_id)];
        if self.kind == EnvelopeKind::EventsApi {
            if let Some(event_id) = self.payload.get("event_id").and_then(Value::as_str) {
                keys.push(format!("evt:{event_id}"));
            }
        }
        keys
    }

    /// The payload's own `type` (`view_submission`, `event_callback`, …), for logs and metrics.
    pub fn payload_type(&self) -> &str {
        self.payload
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// The ack frame for an envelope. `payload` is sent only where Slack reads one.
pub fn ack_frame(envelope_id: &str, payload: Option<&Value>) -> String {
    let frame = match payload {
        Some(payload) => serde_json::json!({ "envelope_id": envelope_id, "payload": payload }),
        None => serde_json::json!({ "envelope_id": envelope_id }),
    };
    frame.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_survives_the_journal_round_trip() {
        let text = r#"{"type":"interactive","envelope_id":"e1","accepts_response_payload":false,"payload":{"type":"block_actions","user":{"id":"U1"}}}"#;
        let Ok(Frame::Envelope(envelope)) = Frame::parse(text) else {
            panic!("an envelope");
        };
        assert_eq!(Envelope::from_frame(&envelope.to_frame()), Some(envelope));
    }
    use serde_json::json;

    fn envelope(text: &str) -> Envelope {
        match Frame::parse(text).expect("valid JSON") {
            Frame::Envelope(envelope) => envelope,
            other => panic!("expected an envelope, got {other:?}"),
        }
    }

    #[test]
    fn hello_is_recognised_with_its_app_id() {
        let frame = Frame::parse(
            r#"{"type":"hello","num_connections":2,"debug_info":{"host":"applink-1"},"connection_info":{"app_id":"A0C1BOT001"}}"#,
        )
        .expect("valid");
        assert_eq!(
            frame,
            Frame::Hello {
                num_connections: 2,
                app_id: "A0C1BOT001".into()
            }
        );
    }

    #[test]
    fn each_disconnect_reason_is_told_apart() {
        for (wire, reason) in [
            ("warning", DisconnectReason::Warning),
            ("refresh_requested", DisconnectReason::RefreshRequested),
            ("link_disabled", DisconnectReason::LinkDisabled),
            ("too_many_websockets", DisconnectReason::TooManyWebsockets),
            (
                "something_new",
                DisconnectReason::Other("something_new".into()),
            ),
        ] {
            let text =
                json!({"type":"disconnect","reason":wire,"debug_info":{"host":"h"}}).to_string();
            assert_eq!(
                Frame::parse(&text).expect("valid"),
                Frame::Disconnect { reason }
            );
        }
    }

    #[test]
    fn a_retried_event_shares_its_event_key_with_the_original() {
        let first = envelope(
            r#"{"envelope_id":"e1","type":"events_api","accepts_response_payload":false,"payload":{"event_id":"Ev1"}}"#,
        );
        let retry = envelope(
            r#"{"envelope_id":"e2","type":"events_api","accepts_response_payload":false,"retry_attempt":1,"retry_reason":"timeout","payload":{"event_id":"Ev1"}}"#,
        );
        assert_eq!(retry.retry_attempt, 1);
        assert!(retry
            .dedupe_keys()
            .iter()
            .any(|k| first.dedupe_keys().contains(k)));
    }

    #[test]
    fn an_unknown_envelope_type_keeps_its_envelope_id_for_the_ack() {
        let frame =
            Frame::parse(r#"{"envelope_id":"x1","type":"brand_new","payload":{}}"#).expect("valid");
        assert_eq!(
            frame,
            Frame::Unknown {
                kind: "brand_new".into(),
                envelope_id: Some("x1".into())
            }
        );
    }

    #[test]
    fn a_frame_that_is_not_json_is_an_error() {
        assert!(Frame::parse("not json").is_err());
    }

    #[test]
    fn ack_frames_carry_a_payload_only_when_given_one() {
        assert_eq!(ack_frame("e1", None), r#"{"envelope_id":"e1"}"#);
        let payload = json!({"text":"hi"});
        assert_eq!(
            ack_frame("e1", Some(&payload)),
            r#"{"envelope_id":"e1","payload":{"text":"hi"}}"#
        );
    }
}
