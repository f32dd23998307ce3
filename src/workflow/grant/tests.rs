use chrono::{Duration as ChronoDuration, TimeZone};

use super::*;
use crate::workflow::request::{AccessDuration, Decision, State, Step};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn timing() -> Timing {
    Timing {
        remind_before_expiry: Duration::from_secs(15 * 60),
        revoke_overdue_after: Duration::from_secs(3600),
    }
}

pub(crate) fn manual(people: &[&str]) -> Via {
    Via::Manual {
        assignees: people.iter().map(|p| p.to_string()).collect(),
        after_failure: None,
    }
}

fn webhook() -> Via {
    Via::Automatic {
        provisioner: "webhook".into(),
    }
}

fn owners(people: &[&str]) -> BTreeSet<UserId> {
    people.iter().map(|p| p.to_string()).collect()
}

/// REQ-1042: alice asked for 4 h; bob approved.
fn approved() -> AccessRequest {
    AccessRequest {
        id: "REQ-1042".into(),
        requester: "alice".into(),
        beneficiary: "alice".into(),
        resource: "aws-prod".into(),
        entitlement: "readonly".into(),
        duration: AccessDuration::For(Duration::from_secs(4 * 3600)),
        justification: "incident 4711".into(),
        created_at: now(),
        decide_by: now() + ChronoDuration::hours(24),
        steps: vec![Step::new(
            "lead",
            ["bob".to_string()],
            super::super::request::Quorum::Any,
        )],
        state: State::Approved { auto: false },
        decisions: vec![Decision {
            step: 0,
            by: "bob".into(),
            approved: true,
            reason: None,
            at: now(),
        }],
        grant: None,
        extends: None,
        fields: Default::default(),
        starts_at: None,
        emergency: None,
    }
}

fn step(request: &AccessRequest, action: GrantAction, at: DateTime<Utc>) -> GrantTransition {
    apply(request, action, at, timing()).expect("applies")
}

fn refused(request: &AccessRequest, action: GrantAction, at: DateTime<Utc>) -> GrantRefusal {
    apply(request, action, at, timing()).expect_err("refused")
}

fn provisioning(via: Via) -> AccessRequest {
    step(&approved(), GrantAction::Start { via }, now()).request
}

/// Active since `now()`, until `now() + 4 h`.
fn active() -> AccessRequest {
    step(
        &provisioning(manual(&["carol", "dave"])),
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "carol".into(),
        },
        now(),
    )
    .request
}

pub(crate) fn expired(via: Via) -> AccessRequest {
    step(
        &active(),
        GrantAction::Expire { via },
        now() + ChronoDuration::hours(4),
    )
    .request
}

fn state(request: &AccessRequest) -> GrantState {
    request.grant.as_ref().expect("a grant").state.clone()
}

#[test]
fn approval_posts_a_manual_task_to_the_assignees() {
    let t = step(
        &approved(),
        GrantAction::Start {
            via: manual(&["carol"]),
        },
        now(),
    );
    assert_eq!(state(&t.request), GrantState::Provisioning);
    assert_eq!(t.effects, [GrantEffect::PostTask(TaskKind::Grant)]);
}

#[test]
fn an_automatic_provisioner_is_scheduled_to_run_at_once() {
    let t = step(&approved(), GrantAction::Start { via: webhook() }, now());
    assert_eq!(
        t.effects,
        [GrantEffect::Schedule {
            timer: TimerKind::Provisioner,
            at: now()
        }]
    );
}

#[test]
fn provisioning_starts_once_and_only_after_approval() {
    let mut pending = approved();
    pending.state = State::Pending { step: 0 };
    assert_eq!(
        refused(
            &pending,
            GrantAction::Start {
                via: manual(&["carol"])
            },
            now()
        ),
        GrantRefusal::NotApproved
    );
    assert_eq!(
        refused(
            &provisioning(manual(&["carol"])),
            GrantAction::Start {
                via: manual(&["carol"])
            },
            now()
        ),
        GrantRefusal::AlreadyStarted
    );
}

#[test]
fn completing_the_task_starts_the_clock_and_schedules_expiry_and_its_reminder() {
    let done_at = now() + ChronoDuration::minutes(7);
    let t = step(
        &provisioning(manual(&["carol", "dave"])),
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "dave".into(),
        },
        done_at,
    );
    let grant = t.request.grant.as_ref().expect("grant");
    assert_eq!(grant.state, GrantState::Active);
    assert_eq!(grant.active_from, Some(done_at));
    let until = done_at + ChronoDuration::hours(4);
    assert_eq!(grant.expires_at, Some(until));
    assert_eq!(
        t.effects,
        [
            GrantEffect::UpdateTaskCopies(TaskKind::Grant),
            GrantEffect::TellActive,
            GrantEffect::Schedule {
                timer: TimerKind::Expiry,
                at: until
            },
            GrantEffect::Schedule {
                timer: TimerKind::ExpiryReminder,
                at: until - ChronoDuration::minutes(15)
            },
        ]
    );
}

#[test]
fn the_first_assignee_wins_and_a_second_click_is_told_who() {
    let again = refused(
        &active(),
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "dave".into(),
        },
        now(),
    );
    assert!(matches!(&again, GrantRefusal::TaskClosed { done: Some(d) } if d.by == "carol"));
    assert!(again
        .message("REQ-1042")
        .contains("already completed by <@carol>"));
}

#[test]
fn someone_who_is_not_an_assignee_cannot_complete_a_task() {
    for who in ["alice", "bob", "mallory"] {
        assert_eq!(
            refused(
                &provisioning(manual(&["carol"])),
                GrantAction::Complete {
                    kind: TaskKind::Grant,
                    by: who.into(),
                },
                now()
            ),
            GrantRefusal::NotAnAssignee,
            "{who}"
        );
    }
}

#[test]
fn cannot_complete_fails_the_request_and_tells_people_why() {
    let t = step(
        &provisioning(manual(&["carol"])),
        GrantAction::CannotComplete {
            kind: TaskKind::Grant,
            by: "carol".into(),
            reason: "no such account".into(),
            owners: owners(&["olga"]),
        },
        now(),
    );
    let grant = t.request.grant.as_ref().expect("grant");
    assert_eq!(grant.state, GrantState::Failed);
    let done = grant.provision.done.as_ref().expect("done");
    assert!(!done.completed);
    assert_eq!(done.detail.as_deref(), Some("no such account"));
    assert_eq!(
        t.effects,
        [
            GrantEffect::UpdateTaskCopies(TaskKind::Grant),
            GrantEffect::TellFailed
        ]
    );
}

#[test]
fn a_failed_automatic_provisioner_hands_the_task_to_the_fallback_assignees() {
    let t = step(
        &provisioning(webhook()),
        GrantAction::Automatic {
            kind: TaskKind::Grant,
            ok: false,
            detail: "HTTP 500 after 4 attempts".into(),
            fallback: owners(&["carol"]),
        },
        now(),
    );
    let grant = t.request.grant.as_ref().expect("grant");
    assert_eq!(grant.state, GrantState::Provisioning);
    assert_eq!(
        grant.provision.via,
        Via::Manual {
            assignees: owners(&["carol"]),
            after_failure: Some("HTTP 500 after 4 attempts".into())
        }
    );
    assert_eq!(t.effects, [GrantEffect::PostTask(TaskKind::Grant)]);
    // And the fallback assignee can now complete it.
    let done = step(
        &t.request,
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "carol".into(),
        },
        now(),
    );
    assert_eq!(state(&done.request), GrantState::Active);
}

#[test]
fn people_cannot_click_for_an_automatic_provisioner() {
    assert_eq!(
        refused(
            &provisioning(webhook()),
            GrantAction::Complete {
                kind: TaskKind::Grant,
                by: "carol".into(),
            },
            now()
        ),
        GrantRefusal::Automatic
    );
}

#[test]
fn a_successful_automatic_provisioner_activates_without_task_copies() {
    let t = step(
        &provisioning(webhook()),
        GrantAction::Automatic {
            kind: TaskKind::Grant,
            ok: true,
            detail: "HTTP 200".into(),
            fallback: owners(&["carol"]),
        },
        now(),
    );
    assert_eq!(state(&t.request), GrantState::Active);
    assert_eq!(t.effects[0], GrantEffect::TellActive);
}

#[test]
fn expiry_before_its_time_is_not_due_and_after_it_starts_deprovisioning() {
    assert_eq!(
        refused(
            &active(),
            GrantAction::Expire {
                via: manual(&["carol"])
            },
            now() + ChronoDuration::hours(3)
        ),
        GrantRefusal::NotDue
    );
    let late = now() + ChronoDuration::hours(6);
    let t = step(
        &active(),
        GrantAction::Expire {
            via: manual(&["carol"]),
        },
        late,
    );
    let grant = t.request.grant.as_ref().expect("grant");
    assert_eq!(grant.state, GrantState::Deprovisioning);
    assert_eq!(grant.late_by(), Some(ChronoDuration::hours(2)));
    assert_eq!(
        t.effects,
        [
            GrantEffect::RetireOffers,
            GrantEffect::PostTask(TaskKind::Revoke),
            GrantEffect::Schedule {
                timer: TimerKind::RevokeOverdue,
                at: late + ChronoDuration::hours(1)
            }
        ]
    );
}

#[test]
fn an_expiry_timer_fires_once_a_second_firing_is_stale() {
    let once = expired(manual(&["carol"]));
    assert_eq!(
        refused(
            &once,
            GrantAction::Expire {
                via: manual(&["carol"])
            },
            now() + ChronoDuration::hours(5)
        ),
        GrantRefusal::Stale
    );
}

#[test]
fn completing_the_deprovisioning_task_revokes_and_tells_the_person() {
    let t = step(
        &expired(manual(&["carol"])),
        GrantAction::Complete {
            kind: TaskKind::Revoke,
            by: "carol".into(),
        },
        now() + ChronoDuration::hours(4) + ChronoDuration::minutes(3),
    );
    assert_eq!(state(&t.request), GrantState::Revoked);
    assert_eq!(
        t.effects,
        [
            GrantEffect::UpdateTaskCopies(TaskKind::Revoke),
            GrantEffect::TellRevoked
        ]
    );
}

#[test]
fn the_grant_task_cannot_be_completed_again_once_revoking() {
    assert!(matches!(
        refused(
            &expired(manual(&["carol"])),
            GrantAction::Complete {
                kind: TaskKind::Grant,
                by: "carol".into(),
            },
            now()
        ),
        GrantRefusal::TaskClosed { .. }
    ));
}

#[test]
fn an_overdue_revoke_reminds_first_then_escalates_to_the_owners() {
    let first = step(
        &expired(manual(&["carol"])),
        GrantAction::RevokeOverdue {
            owners: owners(&["olga"]),
        },
        now() + ChronoDuration::hours(5),
    );
    assert_eq!(
        first.effects[0],
        GrantEffect::RemindTask {
            kind: TaskKind::Revoke,
            to: vec!["carol".into()]
        }
    );
    assert!(!first
        .effects
        .iter()
        .any(|e| matches!(e, GrantEffect::EscalateTask { .. })));
    let second = step(
        &first.request,
        GrantAction::RevokeOverdue {
            owners: owners(&["olga", "carol"]),
        },
        now() + ChronoDuration::hours(6),
    );
    assert!(second.effects.contains(&GrantEffect::EscalateTask {
        kind: TaskKind::Revoke,
        to: vec!["olga".into()]
    }));
    // The owner may now complete it.
    let done = step(
        &second.request,
        GrantAction::Complete {
            kind: TaskKind::Revoke,
            by: "olga".into(),
        },
        now() + ChronoDuration::hours(6),
    );
    assert_eq!(state(&done.request), GrantState::Revoked);
}

#[test]
fn a_revoke_that_cannot_be_done_stays_open_and_goes_to_the_owners_at_once() {
    let t = step(
        &expired(manual(&["carol"])),
        GrantAction::CannotComplete {
            kind: TaskKind::Revoke,
            by: "carol".into(),
            reason: "console is down".into(),
            owners: owners(&["olga"]),
        },
        now() + ChronoDuration::hours(4),
    );
    assert_eq!(state(&t.request), GrantState::Deprovisioning);
    let task = t
        .request
        .grant
        .as_ref()
        .and_then(|g| g.deprovision.as_ref())
        .expect("task");
    assert_eq!(
        task.blocked,
        Some(Blocked {
            by: "carol".into(),
            reason: "console is down".into()
        })
    );
    assert!(t.effects.contains(&GrantEffect::EscalateTask {
        kind: TaskKind::Revoke,
        to: vec!["olga".into()]
    }));
}

#[test]
fn the_requester_an_approver_or_a_space_writer_may_revoke_early_nobody_else() {
    for (who, policy) in [("alice", false), ("bob", false), ("sam", true)] {
        let t = step(
            &active(),
            GrantAction::Revoke {
                by: who.into(),
                reason: "done".into(),
                via: manual(&["carol"]),
                policy_allows: policy,
            },
            now() + ChronoDuration::hours(1),
        );
        let grant = t.request.grant.as_ref().expect("grant");
        assert_eq!(grant.state, GrantState::Deprovisioning, "{who}");
        assert_eq!(
            grant.ending,
            Some(Ending::Revoked {
                by: who.into(),
                reason: "done".into()
            })
        );
        assert_eq!(grant.late_by(), None);
        assert_eq!(t.effects[0], GrantEffect::TellEnding);
    }
    assert_eq!(
        refused(
            &active(),
            GrantAction::Revoke {
                by: "mallory".into(),
                reason: "because".into(),
                via: manual(&["carol"]),
                policy_allows: false,
            },
            now()
        ),
        GrantRefusal::NotAllowedToRevoke
    );
}

#[test]
fn only_active_access_can_be_revoked() {
    assert_eq!(
        refused(
            &provisioning(manual(&["carol"])),
            GrantAction::Revoke {
                by: "alice".into(),
                reason: "x".into(),
                via: manual(&["carol"]),
                policy_allows: false,
            },
            now()
        ),
        GrantRefusal::NotActive {
            state: "provisioning"
        }
    );
}

#[test]
fn an_expiry_reminder_due_after_the_end_it_announces_is_skipped() {
    let access = active();
    let end = access
        .grant
        .as_ref()
        .and_then(|g| g.expires_at)
        .expect("an end");
    assert_eq!(
        refused(&access, GrantAction::RemindExpiry, end),
        GrantRefusal::Stale
    );
}

#[test]
fn the_expiry_reminder_is_offered_once() {
    let t = step(&active(), GrantAction::RemindExpiry, now());
    assert_eq!(t.effects, [GrantEffect::OfferExtension]);
    assert_eq!(
        refused(&t.request, GrantAction::RemindExpiry, now()),
        GrantRefusal::Stale
    );
}

#[test]
fn an_extension_takes_over_active_access_until_the_old_end_plus_the_time_asked() {
    let previous = active();
    let mut extension = approved();
    extension.id = "REQ-1043".into();
    extension.duration = AccessDuration::For(Duration::from_secs(2 * 3600));
    extension.extends = Some("REQ-1042".into());
    let at = now() + ChronoDuration::hours(3) + ChronoDuration::minutes(50);
    let (old, new) = extend(&previous, &extension, at, timing()).expect("extends");
    assert_eq!(
        state(&old),
        GrantState::Superseded {
            by: "REQ-1043".into()
        }
    );
    let grant = new.request.grant.as_ref().expect("grant");
    assert_eq!(grant.state, GrantState::Active);
    assert_eq!(grant.expires_at, Some(now() + ChronoDuration::hours(6)));
    assert_eq!(grant.continues.as_deref(), Some("REQ-1042"));
    // The old expiry timer, when it fires, finds nothing to do.
    assert_eq!(
        refused(
            &old,
            GrantAction::Expire {
                via: manual(&["carol"])
            },
            now() + ChronoDuration::hours(4)
        ),
        GrantRefusal::Stale
    );
}

#[test]
fn an_extension_of_access_that_already_ended_is_provisioned_afresh() {
    let ended = expired(manual(&["carol"]));
    let mut extension = approved();
    extension.id = "REQ-1043".into();
    assert!(extend(&ended, &extension, now(), timing()).is_none());
}

#[test]
fn permanent_access_has_no_expiry_timers() {
    let mut request = approved();
    request.duration = AccessDuration::Permanent;
    let started = step(
        &request,
        GrantAction::Start {
            via: manual(&["carol"]),
        },
        now(),
    )
    .request;
    let t = step(
        &started,
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "carol".into(),
        },
        now(),
    );
    assert_eq!(t.request.grant.as_ref().and_then(|g| g.expires_at), None);
    assert!(!t
        .effects
        .iter()
        .any(|e| matches!(e, GrantEffect::Schedule { .. })));
}

#[test]
fn a_grant_round_trips_through_json() {
    let request = expired(webhook());
    let json = serde_json::to_string(&request).expect("serializes");
    let back: AccessRequest = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, request);
}
