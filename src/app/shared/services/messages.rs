//! How handlers speak through [`Services`]: a notifier for a request's cards, a
//! line to the person who clicked, an ephemeral line, a modal, a refusal's audit, the
//! activity channel's line and what to say when looking people up failed.

use serde_json::json;

use crate::app::shared::notify::{Names, Notifier};
use crate::slack::web::methods;
use crate::workflow::request::AccessRequest;

use super::Services;

impl Services {
    pub fn notifier<'a>(&'a self, names: &'a Names) -> Notifier<'a> {
        Notifier {
            templates: self.templates(),
            names,
            provisioning: None,
        }
    }

    /// A line only the person who clicked sees, where they clicked: through the
    /// click's `response_url` (see [`Sender::tell`](crate::app::shared::journaled::Sender::tell)),
    /// sent through the outbox so it is retried and, once the URL has expired,
    /// delivered to their DM. It tells; it decides nothing.
    pub fn answer(&self, to: &crate::app::shared::journaled::Sender, text: &str) {
        let change = crate::store::Change::new()
            .at(self.now())
            .outbox(to.tell(text));
        let store = self.store.clone();
        self.tasks.spawn(async move {
            if let Err(error) = store.commit(change).await {
                tracing::warn!(%error, "could not queue an answer to a click");
            }
        });
    }

    /// An ephemeral line to one person, best effort (it tells, it decides nothing).
    pub fn tell(&self, channel: &str, user: &str, text: String) {
        let web = self.web.clone();
        let args = json!({ "channel": channel, "user": user, "text": text });
        self.tasks.spawn(async move {
            if let Err(error) = web.call(methods::CHAT_POST_EPHEMERAL, args).await {
                tracing::warn!(%error, "could not show an ephemeral message");
            }
        });
    }

    /// Opens a modal for the person whose click or command gave `trigger_id`
    /// (call it first: the trigger expires 3 s after the click).
    pub async fn open_view(&self, trigger_id: &str, view: serde_json::Value, what: &str) {
        let args = json!({ "trigger_id": trigger_id, "view": view });
        if let Err(error) = self.web.call(methods::VIEWS_OPEN, args).await {
            tracing::warn!(%error, what, "could not open a modal");
        }
    }

    /// A refused attempt is audited too: who tried what (`<action>.refused`) on which
    /// request, and why it was refused. Best effort: a failure is logged.
    pub async fn audit_refusal(&self, user: &str, request_id: &str, action: &str, why: String) {
        let change = crate::store::Change::new()
            .at(self.now())
            .audit(crate::store::AuditEvent {
                actor: user.to_owned(),
                action: format!("{action}.refused"),
                subject: request_id.to_owned(),
                detail: json!({ "why": why }),
            });
        if let Err(error) = self.store.commit(change).await {
            tracing::error!(%error, action, "cannot audit a refused action");
        }
    }

    /// The activity channel's line for `request` (a post when `first`), if configured.
    pub fn activity_line(
        &self,
        request: &AccessRequest,
        first: bool,
    ) -> Option<crate::store::OutboxMessage> {
        let names = self.names(request);
        crate::app::shared::activity::line(
            &self.activity,
            &self.templates(),
            &names,
            request,
            first,
        )
    }

    /// What to tell a person when looking up people failed: that user groups wait
    /// for an admin's approval, when they do, else `otherwise`.
    pub fn lookup_trouble(&self, otherwise: &str) -> String {
        match self
            .features
            .refusal(crate::features::FeatureId::UserGroups)
        {
            Some(waiting) => format!("Nothing was submitted: {waiting}"),
            None => otherwise.to_owned(),
        }
    }
}
