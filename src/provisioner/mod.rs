//! TEMPORARY interface placeholder while the provisioner module is written on the
//! `prov` branch; replaced by that module at merge. Not for a landing commit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::{Automatic, Catalog};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Grant,
    Revoke,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocUser {
    pub id: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocItem {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub operation: Operation,
    pub request_id: String,
    pub idempotency_key: String,
    pub user: DocUser,
    pub resource: DocItem,
    pub entitlement: DocItem,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub requested_by: String,
    pub approved_by: Vec<String>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub attempts: u32,
    pub elapsed: Duration,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Runner;

impl Runner {
    pub fn new(
        _catalog: &Catalog,
        _env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Runner> {
        Ok(Runner)
    }

    pub async fn run(&self, _spec: &Automatic, _document: &Document) -> Outcome {
        Outcome {
            ok: false,
            attempts: 0,
            elapsed: Duration::ZERO,
            detail: "placeholder".into(),
        }
    }
}
