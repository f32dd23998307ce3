//! Tests of reassignment and the campaign channel.

use super::*;

// --- reassignment -----------------------------------------------------------

#[test]
fn a_late_reviewer_gets_the_item_and_is_invited_to_a_live_channel() {
    let live = with_channel(&running());
    let (next, effects) = step(
        &live,
        CampaignAction::Reassign {
            item: 1,
            to: "grace".into(),
        },
        "olga",
    );
    assert_eq!(
        effects,
        [
            dm("frank"),
            Effect::DmReviewer {
                reviewer: "grace".into(),
                items: vec![1]
            },
            invite(&["grace"]),
        ]
    );
    assert_eq!(
        refused(&next, CampaignAction::Certify { item: 1 }, "frank"),
        Refusal::NotTheReviewer {
            reviewer: Some("grace".into())
        }
    );
    step(&next, CampaignAction::Certify { item: 1 }, "grace");

    // carol is in the channel already: no second invitation.
    let (_, effects) = step(
        &next,
        CampaignAction::Reassign {
            item: 2,
            to: "carol".into(),
        },
        "olga",
    );
    assert!(!effects.iter().any(posts_to_channel), "{effects:?}");
}

#[test]
fn an_unassigned_item_is_assigned_without_a_channel_and_nobody_is_invited() {
    let (next, effects) = step(
        &running(),
        CampaignAction::Reassign {
            item: 5,
            to: "grace".into(),
        },
        "owen",
    );
    assert_eq!(
        effects,
        [Effect::DmReviewer {
            reviewer: "grace".into(),
            items: vec![5]
        }]
    );
    assert_eq!(
        next.item(5).and_then(|i| i.reviewer.as_deref()),
        Some("grace")
    );
}

#[test]
fn reassignment_is_for_owners_on_undecided_items_to_someone_new() {
    let to = |who: &str| CampaignAction::Reassign {
        item: 1,
        to: who.into(),
    };
    assert_eq!(
        refused(&running(), to("grace"), "frank"),
        Refusal::NotAnOwner
    );
    assert_eq!(
        refused(&running(), to("frank"), "owen"),
        Refusal::AlreadyTheReviewer
    );
    assert_eq!(
        refused(&draft(), to("grace"), "owen"),
        Refusal::NotRunning { state: "a draft" }
    );
    let (decided, _) = step(&running(), CampaignAction::Certify { item: 1 }, "frank");
    assert_eq!(
        refused(&decided, to("grace"), "owen"),
        Refusal::AlreadyDecided {
            verdict: Verdict::Certify,
            by: "frank".into()
        }
    );
}

#[test]
fn assigning_the_beneficiary_makes_a_self_review() {
    let (next, _) = step(
        &running(),
        CampaignAction::Reassign {
            item: 1,
            to: "alice".into(),
        },
        "owen",
    );
    assert_eq!(
        refused(&next, CampaignAction::Certify { item: 1 }, "alice"),
        Refusal::SelfReviewNotAllowed
    );
}

// --- the channel ------------------------------------------------------------

#[test]
fn a_second_channel_is_refused_until_the_first_is_removed() {
    let live = with_channel(&running());
    let refusal = refused(&live, attach("C0OTHER001", "other"), "owen");
    assert_eq!(
        refusal,
        Refusal::ChannelAlreadyAttached {
            name: "access-review".into()
        }
    );
    assert_eq!(
        refusal.message("CMP-1"),
        "CMP-1 already reports to #access-review; remove it before adding another."
    );
    let (removed, effects) = step(&live, CampaignAction::RemoveChannel, "owen");
    assert_eq!(
        effects,
        [status()],
        "the status message's last edit says so"
    );
    assert_eq!(removed.channel, None);
    let (again, effects) = step(
        &removed,
        CampaignAction::AttachChannel {
            id: "C0OTHER001".into(),
            name: "other".into(),
            created: false,
        },
        "olga",
    );
    assert_eq!(
        effects,
        [
            Effect::InviteToChannel {
                channel: "C0OTHER001".into(),
                users: ["carol", "frank", "olga", "owen"]
                    .map(String::from)
                    .to_vec()
            },
            Effect::UpdateStatusMessage {
                channel: "C0OTHER001".into()
            }
        ]
    );
    assert_eq!(again.channel.map(|c| c.created_by_c1bot), Some(false));
}

#[test]
fn only_owners_manage_the_channel() {
    let live = with_channel(&running());
    for action in [
        attach("C0OTHER001", "other"),
        CampaignAction::DeactivateChannel,
        CampaignAction::ActivateChannel,
        CampaignAction::RemoveChannel,
    ] {
        assert_eq!(refused(&live, action, "frank"), Refusal::NotAnOwner);
    }
}

#[test]
fn a_deactivated_channel_gets_no_posts_or_invitations_until_activated() {
    let (quiet, effects) = step(
        &with_channel(&running()),
        CampaignAction::DeactivateChannel,
        "owen",
    );
    assert_eq!(
        effects,
        [status()],
        "the status message's last edit says so"
    );
    let channel = quiet.channel.clone().expect("still attached");
    assert!(!channel.active);
    assert_eq!(
        refused(&quiet, CampaignAction::DeactivateChannel, "owen"),
        Refusal::ChannelAlreadyInactive
    );

    let (decided, effects) = step(&quiet, CampaignAction::Revoke { item: 1 }, "frank");
    assert_eq!(effects, [dm("frank"), Effect::StartRevoke { item: 1 }]);
    let (reassigned, effects) = step(
        &decided,
        CampaignAction::Reassign {
            item: 2,
            to: "grace".into(),
        },
        "owen",
    );
    assert!(!effects.iter().any(posts_to_channel), "{effects:?}");

    let (active, effects) = step(&reassigned, CampaignAction::ActivateChannel, "owen");
    assert_eq!(effects, [invite(&["grace"]), status()]);
    assert_eq!(
        refused(&active, CampaignAction::ActivateChannel, "owen"),
        Refusal::ChannelAlreadyActive
    );
}

#[test]
fn channel_actions_without_a_channel_are_refused() {
    for action in [
        CampaignAction::DeactivateChannel,
        CampaignAction::ActivateChannel,
        CampaignAction::RemoveChannel,
    ] {
        assert_eq!(refused(&running(), action, "owen"), Refusal::NoChannel);
    }
}
