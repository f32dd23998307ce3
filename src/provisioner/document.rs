//! The JSON document a provisioner receives: a webhook's body, a command's stdin.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Grant,
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocUser {
    /// The Slack user id of the person who gets (or loses) the access.
    pub id: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocItem {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub operation: Operation,
    pub request_id: String,
    /// `<request_id>/<operation>`. A receiver must treat a repeat as done: after a
    /// crash between the call and recording its result, c1bot calls again.
    pub idempotency_key: String,
    pub user: DocUser,
    pub resource: DocItem,
    pub entitlement: DocItem,
    /// When the access ends; `None` for permanent access.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why access is being revoked ("expired", "revoked by U…: reason").
    pub reason: Option<String>,
    pub requested_by: String,
    pub approved_by: Vec<String>,
    /// The request form's extra fields by id (catalog `fields`), e.g. the ticket;
    /// `{}` when the entitlement asks for none.
    pub fields: BTreeMap<String, String>,
    pub sent_at: DateTime<Utc>,
}
