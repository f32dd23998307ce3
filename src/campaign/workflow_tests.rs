use chrono::{Duration, TimeZone};

use super::*;
use crate::campaign::model::{ReviewerRule, Scope, Source};
use crate::campaign::progress::{progress, progress_by_reviewer, status_line};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn later(minutes: i64) -> DateTime<Utc> {
    now() + Duration::minutes(minutes)
}

fn item(id: u32, beneficiary: &str, resource: &str, reviewer: Option<&str>) -> Item {
    Item {
        id,
        beneficiary: beneficiary.into(),
        resource: resource.into(),
        entitlement: "readonly".into(),
        source: Source::Grant {
            request_id: format!("REQ-{id}"),
        },
        reviewer: reviewer.map(str::to_owned),
        decision: None,
    }
}

/// frank reviews 1, 2 and his own 3; carol reviews 4; nobody reviews 5.
fn items() -> Vec<Item> {
    vec![
        item(1, "alice", "aws-prod", Some("frank")),
        item(2, "erin", "aws-prod", Some("frank")),
        item(3, "frank", "aws-prod", Some("frank")),
        item(4, "bob", "orders-db", Some("carol")),
        item(5, "bob", "dev-sandbox", None),
    ]
}

/// CMP-1, owned by owen and olga, due in a week.
fn draft() -> Campaign {
    Campaign::draft(
        "CMP-1",
        "Q4 <prod> review",
        vec!["owen".into(), "olga".into()],
        Scope {
            spaces: vec!["prod".into()],
            ..Scope::default()
        },
        ReviewerRule::ResourceOwners,
        now() + Duration::days(7),
        "owen",
        now(),
    )
}

fn by(user: &str) -> Actor {
    Actor::new(user)
}

fn step(campaign: &Campaign, action: CampaignAction, actor: &str) -> (Campaign, Vec<Effect>) {
    apply(campaign, action, &by(actor), later(1)).unwrap_or_else(|r| panic!("refused: {r:?}"))
}

fn refused(campaign: &Campaign, action: CampaignAction, actor: &str) -> Refusal {
    apply(campaign, action, &by(actor), later(1)).expect_err("refused")
}

fn start(items: Vec<Item>) -> CampaignAction {
    CampaignAction::Start { items }
}

fn running() -> Campaign {
    step(&draft(), start(items()), "owen").0
}

fn attach(id: &str, name: &str) -> CampaignAction {
    CampaignAction::AttachChannel {
        id: id.into(),
        name: name.into(),
        created: true,
    }
}

fn with_channel(campaign: &Campaign) -> Campaign {
    step(campaign, attach("C0REVIEW01", "access-review"), "owen").0
}

fn status() -> Effect {
    Effect::UpdateStatusMessage {
        channel: "C0REVIEW01".into(),
    }
}

fn dm(reviewer: &str) -> Effect {
    Effect::UpdateReviewerDm {
        reviewer: reviewer.into(),
    }
}

fn invite(users: &[&str]) -> Effect {
    Effect::InviteToChannel {
        channel: "C0REVIEW01".into(),
        users: users.iter().map(|u| u.to_string()).collect(),
    }
}

fn posts_to_channel(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::UpdateStatusMessage { .. } | Effect::InviteToChannel { .. }
    )
}

const UNASSIGNED: &str =
    "CMP-1: nobody could be found to review item(s) 5; reassign them to a reviewer.";

// --- start ------------------------------------------------------------------

#[test]
fn starting_dms_each_reviewer_their_items_and_tells_owners_of_unassigned_ones() {
    let (next, effects) = step(&draft(), start(items()), "olga");
    assert_eq!(
        next.state,
        CampaignState::Running {
            started_at: later(1),
            started_by: "olga".into()
        }
    );
    assert_eq!(next.items, items());
    assert_eq!(
        effects,
        [
            Effect::DmReviewer {
                reviewer: "carol".into(),
                items: vec![4]
            },
            Effect::DmReviewer {
                reviewer: "frank".into(),
                items: vec![1, 2, 3]
            },
            Effect::TellOwners {
                text: UNASSIGNED.into()
            },
        ]
    );
}

#[test]
fn only_an_owner_starts_a_draft_once() {
    assert_eq!(
        refused(&draft(), start(items()), "frank"),
        Refusal::NotAnOwner
    );
    assert_eq!(
        refused(&running(), start(items()), "owen"),
        Refusal::AlreadyStarted
    );
    assert_eq!(
        Refusal::NotAnOwner.message("CMP-1"),
        "Only the owners of CMP-1 can do that."
    );
}

#[test]
fn a_campaign_with_nothing_in_scope_or_past_its_due_date_does_not_start() {
    assert_eq!(
        refused(&draft(), start(Vec::new()), "owen"),
        Refusal::NothingToReview
    );
    let mut due_now = draft();
    due_now.due = later(1);
    assert_eq!(
        refused(&due_now, start(items()), "owen"),
        Refusal::DueInPast
    );
}

#[test]
fn a_channel_attached_to_a_draft_gets_the_owners_then_the_reviewers_at_start() {
    let (drafted, effects) = step(&draft(), attach("C0REVIEW01", "access-review"), "owen");
    assert_eq!(effects, [invite(&["olga", "owen"]), status()]);
    let channel = drafted.channel.clone().expect("attached");
    assert!(channel.active && channel.created_by_c1bot);
    assert_eq!(channel.status_ts, None);

    let (_, effects) = step(&drafted, start(items()), "owen");
    assert_eq!(effects.first(), Some(&invite(&["carol", "frank"])));
    assert_eq!(effects.last(), Some(&status()));
    assert_eq!(effects.len(), 5);
}

// --- decisions --------------------------------------------------------------

#[test]
fn the_reviewer_certifies_an_item() {
    let (next, effects) = step(&running(), CampaignAction::Certify { item: 1 }, "frank");
    assert_eq!(
        next.item(1).and_then(|i| i.decision.clone()),
        Some(Review {
            verdict: Verdict::Certify,
            by: "frank".into(),
            at: later(1)
        })
    );
    assert_eq!(effects, [dm("frank")]);
    assert_eq!(progress(&next), (1, 5));
}

#[test]
fn revoking_starts_deprovisioning_and_updates_a_live_channel() {
    let (next, effects) = step(
        &with_channel(&running()),
        CampaignAction::Revoke { item: 4 },
        "carol",
    );
    assert_eq!(
        next.item(4)
            .and_then(|i| i.decision.as_ref())
            .map(|d| d.verdict),
        Some(Verdict::Revoke)
    );
    assert_eq!(
        effects,
        [dm("carol"), Effect::StartRevoke { item: 4 }, status()]
    );
}

#[test]
fn a_second_decision_is_refused_naming_who_decided() {
    let (certified, _) = step(&running(), CampaignAction::Certify { item: 1 }, "frank");
    for (action, who) in [
        (CampaignAction::Revoke { item: 1 }, "frank"),
        (CampaignAction::Certify { item: 1 }, "frank"),
        (CampaignAction::Revoke { item: 1 }, "carol"),
    ] {
        let refusal = refused(&certified, action, who);
        assert_eq!(
            refusal,
            Refusal::AlreadyDecided {
                verdict: Verdict::Certify,
                by: "frank".into()
            }
        );
        assert_eq!(
            refusal.message("CMP-1"),
            "This item of CMP-1 was already certified by <@frank>."
        );
    }
    let (revoked, _) = step(&running(), CampaignAction::Revoke { item: 4 }, "carol");
    assert_eq!(
        refused(&revoked, CampaignAction::Certify { item: 4 }, "carol").message("CMP-1"),
        "This item of CMP-1 was already revoked by <@carol>."
    );
}

#[test]
fn only_the_items_reviewer_decides_it_not_even_an_owner() {
    let refusal = refused(&running(), CampaignAction::Certify { item: 1 }, "carol");
    assert_eq!(
        refusal,
        Refusal::NotTheReviewer {
            reviewer: Some("frank".into())
        }
    );
    assert_eq!(
        refusal.message("CMP-1"),
        "This item of CMP-1 is for <@frank> to review."
    );
    assert_eq!(
        refused(&running(), CampaignAction::Revoke { item: 1 }, "owen"),
        Refusal::NotTheReviewer {
            reviewer: Some("frank".into())
        }
    );
    assert_eq!(
        refused(&running(), CampaignAction::Certify { item: 5 }, "owen"),
        Refusal::NotTheReviewer { reviewer: None }
    );
    assert_eq!(
        refused(&running(), CampaignAction::Certify { item: 9 }, "frank"),
        Refusal::NoSuchItem { item: 9 }
    );
}

#[test]
fn self_review_needs_policys_permission() {
    let refusal = refused(&running(), CampaignAction::Certify { item: 3 }, "frank");
    assert_eq!(refusal, Refusal::SelfReviewNotAllowed);
    assert_eq!(
        refusal.message("CMP-1"),
        "You cannot review your own access in CMP-1; ask an owner to reassign it."
    );
    let allowed = by("frank").allowed_self_review();
    let (next, effects) = apply(
        &running(),
        CampaignAction::Revoke { item: 3 },
        &allowed,
        later(2),
    )
    .expect("policy allows it");
    assert_eq!(
        next.item(3)
            .and_then(|i| i.decision.as_ref())
            .map(|d| d.by.as_str()),
        Some("frank")
    );
    assert_eq!(effects, [dm("frank"), Effect::StartRevoke { item: 3 }]);
}

#[test]
fn decisions_are_taken_only_while_running() {
    assert_eq!(
        refused(&draft(), CampaignAction::Certify { item: 1 }, "frank"),
        Refusal::NotRunning { state: "a draft" }
    );
    let (ended, _) = step(&running(), CampaignAction::End, "owen");
    for action in [
        CampaignAction::Certify { item: 1 },
        CampaignAction::Revoke { item: 1 },
        CampaignAction::CertifyAll,
    ] {
        assert_eq!(
            refused(&ended, action, "frank"),
            Refusal::NotRunning { state: "completed" }
        );
    }
    assert_eq!(
        Refusal::NotRunning { state: "completed" }.message("CMP-1"),
        "CMP-1 is not running (it is completed)."
    );
}

#[test]
fn certify_all_takes_the_actors_undecided_items_but_not_their_own_access() {
    let (one_done, _) = step(&running(), CampaignAction::Revoke { item: 1 }, "frank");
    let (next, effects) = step(&one_done, CampaignAction::CertifyAll, "frank");
    let verdicts: Vec<Option<Verdict>> = next
        .items
        .iter()
        .map(|i| i.decision.as_ref().map(|d| d.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            Some(Verdict::Revoke),
            Some(Verdict::Certify),
            None,
            None,
            None
        ]
    );
    assert_eq!(effects, [dm("frank")]);
    assert_eq!(
        refused(&next, CampaignAction::CertifyAll, "frank"),
        Refusal::NothingToCertify
    );
    assert_eq!(
        refused(&running(), CampaignAction::CertifyAll, "grace"),
        Refusal::NothingToCertify
    );
}

#[test]
fn certify_all_includes_own_access_when_policy_allows() {
    let (next, _) = apply(
        &running(),
        CampaignAction::CertifyAll,
        &by("frank").allowed_self_review(),
        later(1),
    )
    .expect("applies");
    assert_eq!(progress(&next), (3, 5));
}

#[test]
fn the_last_decision_tells_the_owners_all_is_reviewed() {
    let (c, _) = step(
        &running(),
        CampaignAction::Reassign {
            item: 5,
            to: "carol".into(),
        },
        "owen",
    );
    let (c, _) = apply(
        &c,
        CampaignAction::CertifyAll,
        &by("frank").allowed_self_review(),
        later(1),
    )
    .expect("applies");
    let (c, effects) = step(&c, CampaignAction::Certify { item: 4 }, "carol");
    assert_eq!(effects, [dm("carol")]);
    let (c, effects) = step(&c, CampaignAction::Revoke { item: 5 }, "carol");
    assert_eq!(
        effects,
        [
            dm("carol"),
            Effect::StartRevoke { item: 5 },
            Effect::TellOwners {
                text: "CMP-1: all 5 items are reviewed (4 certified, 1 revoked). End the campaign to complete it.".into()
            }
        ]
    );
    assert_eq!(status_line(&c), "5 of 5 reviewed");
}

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
    assert_eq!(effects, []);
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
    assert_eq!(effects, []);
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

#[test]
fn the_status_message_ts_is_kept_only_for_the_attached_channel() {
    let live = with_channel(&running());
    let posted = |channel: &str| CampaignAction::StatusPosted {
        channel: channel.into(),
        ts: "1700000000.000100".into(),
    };
    let (next, effects) = step(&live, posted("C0REVIEW01"), "c1bot");
    assert_eq!(effects, []);
    assert_eq!(
        next.channel.and_then(|c| c.status_ts).as_deref(),
        Some("1700000000.000100")
    );
    let (next, _) = step(&live, posted("C0GONE0001"), "c1bot");
    assert_eq!(next.channel.and_then(|c| c.status_ts), None);
}

// --- end --------------------------------------------------------------------

#[test]
fn ending_completes_with_one_final_status_update_and_a_summary() {
    let (c, _) = step(
        &with_channel(&running()),
        CampaignAction::Certify { item: 1 },
        "frank",
    );
    let (c, _) = step(&c, CampaignAction::Revoke { item: 4 }, "carol");
    let (ended, effects) = apply(&c, CampaignAction::End, &by("olga"), later(60)).expect("ends");
    assert_eq!(
        ended.state,
        CampaignState::Completed {
            started_at: later(1),
            at: later(60),
            by: "olga".into()
        }
    );
    assert_eq!(
        effects,
        [
            dm("frank"),
            status(),
            Effect::TellOwners {
                text: "CMP-1 is completed: 2 of 5 reviewed (1 certified, 1 revoked).".into()
            }
        ]
    );
}

#[test]
fn only_owners_end_and_only_a_running_campaign() {
    assert_eq!(
        refused(&running(), CampaignAction::End, "frank"),
        Refusal::NotAnOwner
    );
    assert_eq!(
        refused(&draft(), CampaignAction::End, "owen"),
        Refusal::NotRunning { state: "a draft" }
    );
    let (ended, _) = step(&running(), CampaignAction::End, "owen");
    assert_eq!(
        refused(&ended, CampaignAction::End, "owen"),
        Refusal::NotRunning { state: "completed" }
    );
}

#[test]
fn after_completion_nothing_more_is_posted_to_the_channel() {
    let (ended, _) = step(&with_channel(&running()), CampaignAction::End, "owen");
    let (quiet, _) = step(&ended, CampaignAction::DeactivateChannel, "owen");
    let (removed, _) = step(&ended, CampaignAction::RemoveChannel, "owen");
    let cases = [
        (&ended, CampaignAction::Certify { item: 1 }, "frank"),
        (&ended, CampaignAction::CertifyAll, "frank"),
        (
            &ended,
            CampaignAction::Reassign {
                item: 2,
                to: "grace".into(),
            },
            "owen",
        ),
        (&ended, CampaignAction::Remind, "c1bot"),
        (&ended, CampaignAction::End, "owen"),
        (&ended, CampaignAction::ActivateChannel, "owen"),
        (&ended, CampaignAction::DeactivateChannel, "owen"),
        (&ended, CampaignAction::RemoveChannel, "owen"),
        (&quiet, CampaignAction::ActivateChannel, "owen"),
        (&removed, attach("C0OTHER001", "other"), "owen"),
    ];
    for (campaign, action, who) in cases {
        let label = format!("{action:?}");
        if let Ok((_, effects)) = apply(campaign, action, &by(who), later(5)) {
            assert_eq!(effects, [], "{label}");
        }
    }
    assert_eq!(
        refused(&quiet, CampaignAction::ActivateChannel, "owen"),
        Refusal::CampaignCompleted
    );
    assert_eq!(
        refused(&removed, attach("C0OTHER001", "other"), "owen").message("CMP-1"),
        "CMP-1 is completed; nothing more is posted for it."
    );
}

// --- reminders and progress ----------------------------------------------------

#[test]
fn a_reminder_goes_to_reviewers_with_undecided_items_and_owners_see_progress() {
    let (c, _) = step(&running(), CampaignAction::Certify { item: 4 }, "carol");
    let (next, effects) = step(&with_channel(&c), CampaignAction::Remind, "c1bot");
    assert_eq!(
        effects,
        [
            Effect::PostReminder {
                reviewers: vec!["frank".into()]
            },
            Effect::TellOwners {
                text: "CMP-1: 1 of 5 reviewed.".into()
            }
        ]
    );
    assert_eq!(next.reminders, 1);
    let (_, effects) = step(&running(), CampaignAction::Remind, "c1bot");
    assert_eq!(
        effects.first(),
        Some(&Effect::PostReminder {
            reviewers: vec!["carol".into(), "frank".into()]
        })
    );
}

#[test]
fn reminders_stop_at_the_due_date_when_nobody_waits_and_outside_a_run() {
    let c = running();
    assert_eq!(
        apply(&c, CampaignAction::Remind, &by("c1bot"), c.due).expect_err("due"),
        Refusal::PastDue
    );
    let (c, _) = apply(
        &c,
        CampaignAction::CertifyAll,
        &by("frank").allowed_self_review(),
        later(1),
    )
    .expect("applies");
    let (c, _) = step(&c, CampaignAction::Certify { item: 4 }, "carol");
    // Item 5 is undecided but has no reviewer to remind.
    assert_eq!(
        refused(&c, CampaignAction::Remind, "c1bot"),
        Refusal::NothingToRemind
    );
    assert_eq!(
        refused(&draft(), CampaignAction::Remind, "c1bot"),
        Refusal::NotRunning { state: "a draft" }
    );
}

#[test]
fn progress_counts_overall_and_per_reviewer() {
    let (c, _) = step(&running(), CampaignAction::Certify { item: 2 }, "frank");
    assert_eq!(progress(&c), (1, 5));
    assert_eq!(status_line(&c), "1 of 5 reviewed");
    let by_reviewer: Vec<(String, (usize, usize))> = progress_by_reviewer(&c).into_iter().collect();
    assert_eq!(
        by_reviewer,
        [("carol".into(), (0, 1)), ("frank".into(), (1, 3))]
    );
}

// --- storage ----------------------------------------------------------------

#[test]
fn a_campaign_round_trips_through_json_and_old_records_still_read() {
    let (c, _) = step(
        &with_channel(&running()),
        CampaignAction::Revoke { item: 1 },
        "frank",
    );
    let json = serde_json::to_string(&c).expect("serializes");
    let back: Campaign = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, c);

    let old = serde_json::json!({
        "id": "CMP-7",
        "name": "Old",
        "owners": ["owen"],
        "scope": { "resources": ["aws-prod"] },
        "reviewers": { "users": ["frank"] },
        "due": "2026-12-01T00:00:00Z",
        "state": { "state": "draft" },
        "created_by": "owen",
        "created_at": "2026-11-01T00:00:00Z"
    });
    let old: Campaign = serde_json::from_value(old).expect("an older record reads");
    assert_eq!(old.reviewers, ReviewerRule::Users(vec!["frank".into()]));
    assert_eq!(old.scope.resources, ["aws-prod"]);
    assert!(old.items.is_empty() && old.channel.is_none() && old.reminders == 0);
}
