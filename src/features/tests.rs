use super::*;
use crate::app::handler::HANDLED_EVENTS;
use crate::slack::web::methods::TokenKind;

#[test]
fn the_registry_lists_each_feature_once_in_id_order() {
    for (index, feature) in ALL.iter().enumerate() {
        assert_eq!(feature.id as usize, index, "{:?}", feature.id);
        assert_eq!(super::feature(feature.id).id, feature.id);
    }
}

#[test]
fn every_bot_method_belongs_to_a_feature() {
    for method in methods::ALL.iter().filter(|m| m.token == TokenKind::Bot) {
        assert!(
            ALL.iter().any(|f| f.methods.contains(method)),
            "{} is in no feature",
            method.name
        );
    }
}

#[test]
fn the_handled_events_are_the_features_events() {
    let mut events = Enabled::all().events();
    events.sort_unstable();
    let mut handled = HANDLED_EVENTS.to_vec();
    handled.sort_unstable();
    assert_eq!(events, handled);
}

#[test]
fn core_needs_exactly_the_scopes_required_to_start() {
    let core: Vec<&str> = feature(FeatureId::Core)
        .needed_scopes()
        .into_iter()
        .collect();
    let mut required = CORE_SCOPES.to_vec();
    required.sort_unstable();
    assert_eq!(core, required);
}

#[test]
fn channel_scopes_come_only_with_campaign_channels() {
    let without = Enabled::with([
        FeatureId::AccessReviews,
        FeatureId::DmRequests,
        FeatureId::UserGroups,
    ]);
    let scopes = without.scopes();
    for channel_scope in [
        "channels:manage",
        "channels:join",
        "channels:read",
        "groups:read",
        "groups:write",
    ] {
        assert!(!scopes.contains_key(channel_scope), "{channel_scope}");
        assert!(
            Enabled::all().scopes().contains_key(channel_scope),
            "{channel_scope}"
        );
    }
    assert_eq!(
        stopped_by(&Enabled::all(), "channels:manage"),
        [FeatureId::CampaignChannels]
    );
}

#[test]
fn campaign_channels_need_access_reviews() {
    let enabled = Enabled::with([FeatureId::CampaignChannels]);
    assert!(!enabled.contains(FeatureId::CampaignChannels));
    assert!(enabled.contains(FeatureId::Core));
}

#[test]
fn dm_requests_bring_im_history_and_the_message_im_event() {
    let on = Enabled::with([FeatureId::DmRequests]);
    assert!(on.scopes().contains_key("im:history"));
    assert!(on.events().contains(&"message.im"));
    let off = Enabled::with([]);
    assert!(!off.scopes().contains_key("im:history"));
    assert_eq!(off.events(), ["app_home_opened"]);
}
