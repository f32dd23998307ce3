//! A break-glass draft as stored, version 1, in `Table::Sessions` under
//! `break-glass/<user>`: what the person asked for, kept between their first
//! submission and the confirm step, so the confirmation never trusts the view's
//! `private_metadata` (it only names the draft). One per person; a new ask
//! replaces it, taking the access removes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::Record;
use crate::workflow::submit::Form;

/// What the confirm step needs to take the access, and what it binds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Random; the confirm view's `private_metadata` names it.
    pub nonce: String,
    /// The channel the person asked from (for policy's `slack.channel`).
    pub channel: String,
    /// For an escalation: the open request being escalated (the form is unused).
    pub escalates: Option<String>,
    pub form: Form,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DraftV1 {
    n: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    ch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    j: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    f: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sa: Option<i64>,
    c: i64,
}

impl Record for Draft {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        let form = &self.form;
        serde_json::to_string(&DraftV1 {
            n: self.nonce.clone(),
            ch: self.channel.clone(),
            x: self.escalates.clone(),
            r: form.resource.clone(),
            e: form.entitlement.clone(),
            d: form.duration.clone(),
            j: form.justification.clone(),
            b: form.on_behalf_of.clone(),
            f: form.fields.clone(),
            sa: form.starts_at.map(|at| at.timestamp_millis()),
            c: self.created_at.timestamp_millis(),
        })
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        let v: DraftV1 = serde_json::from_str(data)?;
        Ok(Draft {
            nonce: v.n,
            channel: v.ch,
            escalates: v.x,
            form: Form {
                resource: v.r,
                entitlement: v.e,
                duration: v.d,
                justification: v.j,
                on_behalf_of: v.b,
                fields: v.f,
                starts_at: v.sa.and_then(DateTime::from_timestamp_millis),
                emergency: true,
            },
            created_at: DateTime::from_timestamp_millis(v.c).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_reads_back_as_written_and_is_always_an_emergency() {
        let draft = Draft {
            nonce: "n1".into(),
            channel: "C0GENERAL1".into(),
            escalates: None,
            form: Form {
                resource: Some("aws-prod".into()),
                entitlement: Some("admin".into()),
                duration: Some("3600".into()),
                justification: Some("database down <!here>".into()),
                on_behalf_of: None,
                fields: [("ticket".to_owned(), "INC-1".to_owned())].into(),
                starts_at: DateTime::from_timestamp_millis(1_800_000_000_000),
                emergency: true,
            },
            created_at: DateTime::from_timestamp_millis(1_700_000_000_000).unwrap_or_default(),
        };
        let text = draft.encode().expect("encodes");
        assert_eq!(Draft::decode(&text).expect("decodes"), draft);
    }
}
