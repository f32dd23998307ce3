//! A person's step-up state as stored, version 1, in `Table::Sessions` under
//! `step-up/<user>` (both backends keep it like any record). Short keys, instants
//! as integer milliseconds, nothing written that is empty.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::decisions::step_up::state::{Allowance, Challenge, Enrolment, StepUp};
use crate::store::Record;

type Millis = i64;

fn millis(at: DateTime<Utc>) -> Millis {
    at.timestamp_millis()
}

fn instant(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepUpV1 {
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    allowance: Option<AllowanceV1>,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    enrolment: Option<EnrolmentV1>,
    #[serde(rename = "n", default, skip_serializing_if = "is_zero")]
    last_counter: u64,
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    failures: Vec<Millis>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    challenge: Option<ChallengeV1>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AllowanceV1 {
    by: String,
    at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EnrolmentV1 {
    /// The sealed secret: base64 of nonce ++ ciphertext.
    s: String,
    at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ChallengeV1 {
    id: String,
    r: String,
    x: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
}

impl Record for StepUp {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&StepUpV1::from(self))
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<StepUpV1>(data).map(StepUp::from)
    }
}

impl From<&StepUp> for StepUpV1 {
    fn from(s: &StepUp) -> Self {
        StepUpV1 {
            allowance: s.allowance.as_ref().map(|a| AllowanceV1 {
                by: a.by.clone(),
                at: millis(a.at),
            }),
            enrolment: s.enrolment.as_ref().map(|e| EnrolmentV1 {
                s: e.sealed_secret.clone(),
                at: millis(e.at),
            }),
            last_counter: s.last_counter,
            failures: s.failures.iter().copied().map(millis).collect(),
            challenge: s.challenge.as_ref().map(|c| ChallengeV1 {
                id: c.id.clone(),
                r: c.request_id.clone(),
                x: millis(c.expires_at),
                p: c.pending_secret.clone(),
                v: c.view_id.clone(),
            }),
        }
    }
}

impl From<StepUpV1> for StepUp {
    fn from(s: StepUpV1) -> Self {
        StepUp {
            allowance: s.allowance.map(|a| Allowance {
                by: a.by,
                at: instant(a.at),
            }),
            enrolment: s.enrolment.map(|e| Enrolment {
                sealed_secret: e.s,
                at: instant(e.at),
            }),
            last_counter: s.last_counter,
            failures: s.failures.into_iter().map(instant).collect(),
            challenge: s.challenge.map(|c| Challenge {
                id: c.id,
                request_id: c.r,
                expires_at: instant(c.x),
                pending_secret: c.p,
                view_id: c.v,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_state_survives_the_round_trip_and_an_empty_one_is_empty() {
        let at = DateTime::from_timestamp_millis(1_800_000_000_123).expect("in range");
        let state = StepUp {
            allowance: Some(Allowance {
                by: "admin".into(),
                at,
            }),
            enrolment: Some(Enrolment {
                sealed_secret: "c2VhbGVk".into(),
                at,
            }),
            last_counter: 60_000_000,
            failures: vec![at],
            challenge: Some(Challenge {
                id: "ch".into(),
                request_id: "REQ-1".into(),
                expires_at: at,
                pending_secret: Some("cGVuZGluZw".into()),
                view_id: Some("V1".into()),
            }),
        };
        let text = state.encode().expect("encodes");
        assert_eq!(StepUp::decode(&text).expect("decodes"), state);
        assert_eq!(StepUp::default().encode().expect("encodes"), "{}");
    }
}
