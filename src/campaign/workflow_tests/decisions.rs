//! Tests of starting a campaign and deciding its items.

use super::*;

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

#[test]
fn items_whose_access_ended_are_closed_counted_and_no_longer_decidable() {
    let (next, effects) = step(
        &running(),
        CampaignAction::CloseEnded { items: vec![1, 99] },
        "c1bot",
    );
    let closed = next
        .item(1)
        .and_then(|i| i.decision.as_ref())
        .expect("closed");
    assert_eq!(closed.verdict, Verdict::Ended);
    assert_eq!(crate::campaign::progress::progress(&next).0, 1);
    assert!(effects.contains(&dm("frank")), "{effects:?}");
    let refusal = refused(&next, CampaignAction::Certify { item: 1 }, "frank");
    assert!(
        refusal.message("CMP-1").contains("ended during the review"),
        "{}",
        refusal.message("CMP-1")
    );
    let (again, effects) = step(
        &next,
        CampaignAction::CloseEnded { items: vec![1] },
        "c1bot",
    );
    assert_eq!(again, next, "closing twice changes nothing");
    assert!(effects.is_empty());
}
