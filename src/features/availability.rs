//! Which turned-on features work now. A feature whose scopes the bot token lacks
//! (not approved yet under Admin-Approved Apps, or removed after start-up: Slack
//! answers `missing_scope`) waits for an admin; everything else goes on.
//!
//! Owns that state, its gauge (`c1bot_feature_waiting_for_scope{feature,scope}`) and
//! the sentences people, admins and `/readyz` read. Does not call Slack: the caller
//! hands in what Slack said (`granted`, `scope_missing`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::{feature, stopped_by, Enabled, FeatureId};
use crate::metrics::Metrics;

const GAUGE: &str = "c1bot_feature_waiting_for_scope";
const GAUGE_HELP: &str =
    "1 while a turned-on feature waits for a workspace admin to approve this bot scope.";

/// Where one feature stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    On,
    /// Turned off in the config (`[features]`).
    Off,
    /// Turned on, but the token lacks these scopes.
    Waiting(Vec<&'static str>),
}

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct Availability {
    inner: Arc<Mutex<State>>,
    metrics: Metrics,
}

struct State {
    enabled: Enabled,
    /// Feature -> scopes it waits for.
    waiting: BTreeMap<FeatureId, BTreeSet<&'static str>>,
}

/// A change worth a log line: `scope` is missing (or back) for `features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub scope: &'static str,
    pub features: Vec<FeatureId>,
    pub missing: bool,
}

impl Availability {
    /// Everything turned on works until Slack says otherwise.
    pub fn new(enabled: Enabled, metrics: Metrics) -> Availability {
        Availability {
            inner: Arc::new(Mutex::new(State {
                enabled,
                waiting: BTreeMap::new(),
            })),
            metrics,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn enabled(&self) -> Enabled {
        self.state().enabled.clone()
    }

    pub fn status(&self, id: FeatureId) -> Status {
        let state = self.state();
        if !state.enabled.contains(id) {
            return Status::Off;
        }
        match state.waiting.get(&id) {
            Some(scopes) if !scopes.is_empty() => Status::Waiting(scopes.iter().copied().collect()),
            _ => Status::On,
        }
    }

    pub fn is_on(&self, id: FeatureId) -> bool {
        self.status(id) == Status::On
    }

    /// The token holds exactly `granted` (from `x-oauth-scopes`): features lacking a
    /// scope wait, features whose scopes are all there work again. Returns what changed.
    pub fn granted(&self, granted: &[String]) -> Vec<Change> {
        let mut state = self.state();
        let enabled = state.enabled.clone();
        let mut changes = Vec::new();
        for (scope, features) in enabled.scopes() {
            let missing = !granted.iter().any(|g| g == scope);
            let was = features
                .iter()
                .any(|f| state.waiting.get(f).is_some_and(|s| s.contains(scope)));
            for f in &features {
                let scopes = state.waiting.entry(*f).or_default();
                if missing {
                    scopes.insert(scope);
                } else {
                    scopes.remove(scope);
                }
            }
            if missing != was {
                changes.push(Change {
                    scope,
                    features: features.clone(),
                    missing,
                });
            }
            self.gauge(scope, &features, missing);
        }
        state.waiting.retain(|_, scopes| !scopes.is_empty());
        changes
    }

    /// Slack answered `missing_scope` naming `needed` (one scope, or several joined
    /// with commas when any would do): the features that need it wait.
    pub fn scope_missing(&self, needed: &str) -> Vec<Change> {
        let mut state = self.state();
        let enabled = state.enabled.clone();
        let mut changes = Vec::new();
        for wanted in needed.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((scope, _)) = enabled.scopes().into_iter().find(|(s, _)| *s == wanted) else {
                continue; // an optional scope no feature asks for
            };
            let features = stopped_by(&enabled, scope);
            let mut fresh = false;
            for f in &features {
                fresh |= state.waiting.entry(*f).or_default().insert(scope);
            }
            if fresh {
                self.gauge(scope, &features, true);
                changes.push(Change {
                    scope,
                    features,
                    missing: true,
                });
            }
        }
        changes
    }

    fn gauge(&self, scope: &str, features: &[FeatureId], missing: bool) {
        for f in features {
            let key = feature(*f).key.unwrap_or("core");
            let labels = [("feature", key), ("scope", scope)];
            self.metrics
                .set(GAUGE, GAUGE_HELP, &labels, if missing { 1.0 } else { 0.0 });
        }
    }

    /// Whether anything waits for an admin.
    pub fn any_waiting(&self) -> bool {
        !self.state().waiting.is_empty()
    }

    /// One sentence per waiting feature, for `/readyz` and admins' App Home.
    pub fn problems(&self) -> Vec<String> {
        let state = self.state();
        state
            .waiting
            .iter()
            .map(|(id, scopes)| waiting_sentence(*id, scopes.iter().copied()))
            .collect()
    }

    /// What a person who tries feature `id` is told when it does not work now;
    /// `None` when it works.
    pub fn refusal(&self, id: FeatureId) -> Option<String> {
        match self.status(id) {
            Status::On => None,
            Status::Off => Some(format!(
                "{} are turned off in c1bot's configuration; ask whoever runs c1bot.",
                feature(id).name
            )),
            Status::Waiting(scopes) => Some(format!(
                "{} Ask a workspace admin to approve it; nothing else is affected.",
                waiting_sentence(id, scopes.into_iter())
            )),
        }
    }
}

fn waiting_sentence<'a>(id: FeatureId, scopes: impl Iterator<Item = &'a str>) -> String {
    let scopes: Vec<String> = scopes.map(|s| format!("`{s}`")).collect();
    let (noun, until) = if scopes.len() == 1 {
        ("scope", "it is approved")
    } else {
        ("scopes", "they are approved")
    };
    format!(
        "{} wait for a workspace admin to approve c1bot's Slack {noun} {} (off until {until}).",
        feature(id).name,
        scopes.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    const ALL_BUT_CHANNEL_MANAGE: &[&str] = &[
        "commands",
        "chat:write",
        "users:read",
        "im:history",
        "im:write",
        "channels:join",
        "channels:read",
        "groups:read",
        "groups:write",
        "usergroups:read",
    ];

    #[test]
    fn a_missing_scope_stops_only_the_features_that_need_it() {
        let availability = Availability::new(Enabled::all(), Metrics::default());
        let changes = availability.granted(&scopes(ALL_BUT_CHANNEL_MANAGE));
        assert_eq!(
            changes,
            [Change {
                scope: "channels:manage",
                features: vec![FeatureId::CampaignChannels],
                missing: true
            }]
        );
        assert_eq!(
            availability.status(FeatureId::CampaignChannels),
            Status::Waiting(vec!["channels:manage"])
        );
        assert!(availability.is_on(FeatureId::Core));
        assert!(availability.is_on(FeatureId::AccessReviews));
        let refusal = availability
            .refusal(FeatureId::CampaignChannels)
            .expect("refused");
        assert!(
            refusal.contains("approve c1bot's Slack scope `channels:manage`"),
            "{refusal}"
        );
        assert_eq!(
            availability.metrics.value(
                GAUGE,
                &[
                    ("feature", "campaign_channels"),
                    ("scope", "channels:manage")
                ]
            ),
            1.0
        );
    }

    #[test]
    fn a_scope_approved_later_brings_the_feature_back() {
        let availability = Availability::new(Enabled::all(), Metrics::default());
        availability.granted(&scopes(ALL_BUT_CHANNEL_MANAGE));
        let mut all = scopes(ALL_BUT_CHANNEL_MANAGE);
        all.push("channels:manage".into());
        let changes = availability.granted(&all);
        assert_eq!(changes.len(), 1);
        assert!(!changes[0].missing);
        assert!(availability.is_on(FeatureId::CampaignChannels));
        assert!(!availability.any_waiting());
    }

    #[test]
    fn missing_scope_at_run_time_stops_the_feature_once() {
        let availability = Availability::new(Enabled::all(), Metrics::default());
        let first = availability.scope_missing("usergroups:read");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].features, [FeatureId::UserGroups]);
        assert!(availability.scope_missing("usergroups:read").is_empty());
        // Optional scopes no feature asks for change nothing.
        assert!(availability.scope_missing("channels:history").is_empty());
        assert_eq!(availability.problems().len(), 1);
    }

    #[test]
    fn a_feature_turned_off_is_off_whatever_the_token_holds() {
        let availability = Availability::new(
            Enabled::with([FeatureId::AccessReviews]),
            Metrics::default(),
        );
        assert!(availability
            .granted(&scopes(&["commands", "chat:write", "users:read"]))
            .is_empty());
        assert_eq!(
            availability.status(FeatureId::CampaignChannels),
            Status::Off
        );
        assert!(availability
            .refusal(FeatureId::CampaignChannels)
            .is_some_and(|r| r.contains("turned off")));
    }
}
