//! The shared handles every handler uses, and the small lookups they share: a
//! person's profile, a policy decision, catalog names, resolved approvers.
//!
//! Here the [`Services`] struct and its plain accessors; the handle types it carries
//! are in `handles`, policy and approver lookups in `lookups`, and the helpers that
//! send messages in `messages`.

mod lookups;
mod messages;

pub use crate::app::shared::handles::{HomeViewers, InjectedFaults, Shared};

use chrono::Utc;

use crate::app::shared::directory::Directory;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::{GrantsConfig, RequestsConfig};
use crate::policy::{NamedId, Policies};
use crate::slack::web::WebApi;
use crate::store::{Store, Table};
use crate::templates::Templates;
use crate::workflow::request::AccessRequest;

#[derive(Clone)]
pub struct Services {
    pub web: WebApi,
    pub store: Store,
    pub catalog: Catalog,
    /// Swapped on SIGHUP; read a snapshot with [`Services::templates`].
    pub templates: Shared<Templates>,
    /// Swapped on SIGHUP.
    pub policies: Shared<Policies>,
    pub directory: Directory,
    /// The slash command's name, e.g. `/c1`.
    pub command: String,
    pub team: NamedId,
    pub requests: RequestsConfig,
    pub grants: GrantsConfig,
    /// Every time c1bot stamps or compares goes through this clock.
    pub clock: Clock,
    pub home_viewers: HomeViewers,
    /// Homes owed a publish, coalesced per person.
    pub homes: crate::app::shared::home_refresh::HomeQueue,
    /// What follows a commit, subscribed to once (see [`crate::app::shared::commit_path`]).
    pub consequences: crate::app::shared::consequences::Consequences,
    /// Runs the entitlements' webhooks and commands.
    pub provisioners: crate::provisioner::Runner,
    /// Provisioner runs under way in this process.
    pub jobs: crate::app::shared::handles::Jobs,
    pub activity: crate::config::ActivityConfig,
    /// `[break_glass]`: the security channel and the review's reminders.
    pub break_glass: crate::config::BreakGlassConfig,
    pub metrics: crate::metrics::Metrics,
    /// Journal rows being processed in this process.
    pub intake: crate::app::shared::journaled::InFlight,
    /// Background work started by handlers (App Home publishes, provisioner runs,
    /// modal opens): shutdown waits for it, bounded.
    pub tasks: tokio_util::task::TaskTracker,
    /// Timers whose firing is failing now (the `c1bot_timers_failing` gauge).
    pub failing_timers: crate::app::shared::handles::FailingTimers,
    /// Marked by the timer loop while a burst of firings commits; the outbox sender
    /// yields to it.
    pub burst: crate::burst::Burst,
    /// Faults injected for drills (`C1BOT_FAULTS`).
    pub faults: InjectedFaults,
    /// Which features are on, and which wait for a scope.
    pub features: crate::features::Availability,
    /// Seals step-up secrets; `None` without `C1BOT_STEP_UP_KEY`.
    pub step_up: Option<crate::app::shared::seal::Sealer>,
}

impl Services {
    pub async fn load_request(
        &self,
        id: &str,
    ) -> anyhow::Result<Option<crate::store::Versioned<AccessRequest>>> {
        Ok(self.store.get::<AccessRequest>(Table::Requests, id).await?)
    }

    pub fn templates(&self) -> Templates {
        self.templates.get()
    }

    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    /// The grant workflow's configured timing.
    pub fn timing(&self) -> crate::workflow::grant::Timing {
        crate::workflow::grant::Timing {
            remind_before_expiry: self.grants.remind_before_expiry,
            revoke_overdue_after: self.grants.revoke_overdue_after,
        }
    }
}
