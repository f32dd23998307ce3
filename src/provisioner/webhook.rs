//! One signed POST to a webhook provisioner; 2xx means done.

use std::time::Duration;

use super::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::{shown, Attempt};
use crate::catalog::WebhookSpec;

pub(super) async fn call(
    http: &reqwest::Client,
    webhook: &WebhookSpec,
    secret: &[u8],
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let signature = sign(secret, &timestamp, body);
    let sent = http
        .post(&webhook.url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(SIGNATURE_HEADER, signature)
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Attempt {
            ok: true,
            detail: format!("HTTP {}", response.status().as_u16()),
        },
        Ok(response) => Attempt {
            ok: false,
            detail: format!("HTTP {}", response.status().as_u16()),
        },
        Err(error) if error.is_timeout() => Attempt {
            ok: false,
            detail: format!("timed out after {}", shown(timeout)),
        },
        Err(error) => Attempt {
            ok: false,
            detail: format!("could not reach the webhook: {}", without_url(error)),
        },
    }
}

/// reqwest's error text names the URL, which may carry a token in its query.
fn without_url(error: reqwest::Error) -> String {
    let text = error.without_url().to_string();
    text.chars().take(300).collect()
}
