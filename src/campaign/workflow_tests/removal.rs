//! *Mark done* on a revoked catalog member's access: owners only, once, only there.

use super::*;

/// Running, with item 1 a catalog member's access that frank revoked and item 2 a
/// grant he revoked.
fn revoked_standing() -> Campaign {
    let mut items = items();
    items[0].source = Source::Standing;
    let running = step(&draft(), start(items), "owen").0;
    let once = step(&running, CampaignAction::Revoke { item: 1 }, "frank").0;
    step(&once, CampaignAction::Revoke { item: 2 }, "frank").0
}

#[test]
fn an_owner_marks_a_revoked_members_removal_done_once() {
    let campaign = revoked_standing();
    let (next, effects) = step(&campaign, CampaignAction::MarkRemoved { item: 1 }, "olga");
    let removal = next
        .item(1)
        .and_then(|i| i.removed.clone())
        .expect("marked");
    assert_eq!((removal.by.as_str(), removal.at), ("olga", later(1)));
    assert_eq!(effects, vec![Effect::UpdateRemovalNotice { item: 1 }]);
    assert_eq!(
        refused(&next, CampaignAction::MarkRemoved { item: 1 }, "owen"),
        Refusal::AlreadyRemoved { by: "olga".into() }
    );
    // After the campaign is completed the removal can still be marked.
    let ended = step(&campaign, CampaignAction::End, "owen").0;
    assert!(apply(
        &ended,
        CampaignAction::MarkRemoved { item: 1 },
        &by("owen"),
        later(2)
    )
    .is_ok());
}

#[test]
fn only_owners_mark_removals_and_only_of_revoked_catalog_members() {
    let campaign = revoked_standing();
    assert_eq!(
        refused(&campaign, CampaignAction::MarkRemoved { item: 1 }, "frank"),
        Refusal::NotAnOwner,
        "the reviewer is not an owner"
    );
    for item in [2, 3] {
        assert_eq!(
            refused(&campaign, CampaignAction::MarkRemoved { item }, "owen"),
            Refusal::NothingToMarkRemoved { item },
            "a grant (2) and an undecided item (3)"
        );
    }
    assert_eq!(
        refused(&campaign, CampaignAction::MarkRemoved { item: 99 }, "owen"),
        Refusal::NoSuchItem { item: 99 }
    );
}
