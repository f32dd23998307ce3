//! Tests of ending, reminders, progress and storage.

use super::*;

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
            },
            status(),
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
