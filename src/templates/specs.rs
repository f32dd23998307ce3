//! What c1bot's code gives each template, declared here so an admin's edit is checked
//! against it at load (start-up, SIGHUP, `c1bot check`): the values a template may
//! use (`{{name}}`), those it must use, its list and option slots, and the controls
//! (buttons and inputs) the code routes on, which must stay.
//!
//! Pure data; the checks are in `super::check`.

use super::Kind;
use crate::controls::{Button, CampaignButton, DmButton, Modal as ModalId};

/// One template's contract with the code.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    /// Every value the code sets: `{{name}}` may use these and no other.
    pub vars: &'static [&'static str],
    /// Values the template must use: a button or a modal stops working without them.
    pub required: &'static [&'static str],
    /// `{{blocks:slot:item}}` slots the code fills, with their item template.
    pub lists: &'static [(&'static str, &'static str)],
    /// `{{options:slot}}` slots the code fills; each must stay.
    pub options: &'static [&'static str],
    /// Controls the code routes on, which must stay: an `action_id` (a
    /// [`Button`]'s id), or `block_id/action_id` for a modal's input (its value is
    /// read by both).
    pub controls: &'static [&'static str],
    /// Buttons the code draws with this template, writing their id into its
    /// `{{action}}` (not in the file, so not checked there).
    pub drawn: &'static [&'static str],
    /// A modal's `callback_id`s (a [`Modal`](crate::controls::Modal)'s ids): the
    /// one in the file, or those the code writes into its `{{callback_id}}`.
    pub callbacks: &'static [&'static str],
}

const fn spec(name: &'static str, kind: Kind, vars: &'static [&'static str]) -> Spec {
    Spec {
        name,
        kind,
        vars,
        required: &[],
        lists: &[],
        options: &[],
        controls: &[],
        drawn: &[],
        callbacks: &[],
    }
}

impl Spec {
    const fn required(mut self, required: &'static [&'static str]) -> Spec {
        self.required = required;
        self
    }
    const fn lists(mut self, lists: &'static [(&'static str, &'static str)]) -> Spec {
        self.lists = lists;
        self
    }
    const fn options(mut self, options: &'static [&'static str]) -> Spec {
        self.options = options;
        self
    }
    const fn controls(mut self, controls: &'static [&'static str]) -> Spec {
        self.controls = controls;
        self
    }
    const fn drawn(mut self, drawn: &'static [&'static str]) -> Spec {
        self.drawn = drawn;
        self
    }
    const fn callbacks(mut self, callbacks: &'static [&'static str]) -> Spec {
        self.callbacks = callbacks;
        self
    }
}

use Kind::{Blocks, Home, Message, Modal};

/// The values of a request card (`app::notify`'s base and step).
const REQUEST: &[&str] = &[
    "request_id",
    "requester",
    "resource",
    "entitlement",
    "space",
    "duration",
    "justification",
    "form_fields",
    "requested_at",
    "step",
    "rule",
    "approvers",
];
const ID: &[&str] = &["request_id"];

/// Every template c1bot renders. Each must be in `blocks/`.
pub const SPECS: &[Spec] = &[
    spec("usage", Message, &["command", "intro"]),
    spec(
        "request_modal",
        Modal,
        &["private_metadata", "resource_placeholder"],
    )
    .required(&["private_metadata"])
    .options(&["entitlements", "durations"])
    .callbacks(&[ModalId::Request.id()])
    .controls(&[
        "resource/resource_select",
        "entitlement/entitlement_select",
        "duration/duration_select",
        "justification/justification_input",
        "on_behalf/on_behalf_select",
    ]),
    spec(
        "request_submitted",
        Message,
        &[
            "request_id",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "form_fields",
            "step",
            "rule",
            "approvers",
            "for_whom",
        ],
    )
    .required(ID)
    .controls(&[Button::Cancel.id()]),
    spec("request_for_you", Message, REQUEST)
        .required(ID)
        .controls(&[Button::Cancel.id()]),
    spec("approval_request", Message, REQUEST)
        .required(ID)
        .controls(&[Button::Approve.id(), Button::Deny.id()]),
    spec(
        "request_decided",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "form_fields",
            "requested_at",
            "outcome",
            "decided_by",
            "decided_at",
            "reason",
        ],
    ),
    spec(
        "deny_reason_modal",
        Modal,
        &["request_id", "requester", "resource", "entitlement"],
    )
    .required(ID)
    .callbacks(&[ModalId::Deny.id()])
    .controls(&["reason/reason_input"]),
    spec(
        "step_up_modal",
        Modal,
        &[
            "challenge",
            "request_id",
            "requester",
            "resource",
            "entitlement",
        ],
    )
    .required(&["challenge"])
    .callbacks(&[ModalId::StepUp.id()])
    .controls(&["code/code_input"]),
    spec(
        "step_up_enrol_modal",
        Modal,
        &["challenge", "request_id", "secret", "link"],
    )
    .required(&["challenge", "secret"])
    .callbacks(&[ModalId::StepUpEnrol.id()])
    .controls(&["code/code_input"]),
    spec(
        "requester_decision",
        Message,
        &[
            "request_id",
            "resource",
            "entitlement",
            "duration",
            "outcome",
            "decided_by",
            "decided_at",
            "detail",
        ],
    ),
    spec(
        "provisioning_task",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "form_fields",
            "approved_by",
            "note",
        ],
    )
    .required(ID)
    .controls(&[Button::TaskComplete.id(), Button::TaskFail.id()]),
    spec(
        "deprovisioning_task",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "form_fields",
            "active_from",
            "ended_by",
            "why",
            "note",
        ],
    )
    .required(ID)
    .controls(&[Button::RevokeComplete.id(), Button::RevokeFail.id()]),
    spec(
        "task_closed",
        Message,
        &["summary", "request_id", "outcome", "by", "at", "detail"],
    )
    .required(&["summary"]),
    spec(
        "break_glass_confirm_modal",
        Modal,
        &[
            "draft",
            "resource",
            "entitlement",
            "duration",
            "for_whom",
            "what_happens",
            "reason",
        ],
    )
    .required(&["draft"])
    .callbacks(&[ModalId::BreakGlass.id()])
    .controls(&["reason/reason_input"]),
    spec(
        "break_glass_review",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "form_fields",
            "taken_at",
            "reviewers",
        ],
    )
    .required(ID)
    .controls(&[Button::BreakGlassOk.id(), Button::BreakGlassRevoke.id()]),
    spec(
        "access_notice",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "title",
            "detail",
        ],
    )
    .required(&["detail"]),
    spec(
        "access_active",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "until",
            "granted_by",
        ],
    )
    .required(ID)
    .controls(&[Button::AccessDone.id()]),
    spec(
        "access_expiring",
        Message,
        &[
            "request_id",
            "requester",
            "resource",
            "entitlement",
            "space",
            "duration",
            "justification",
            "until",
        ],
    )
    .required(ID)
    .controls(&[Button::AccessExtend.id(), Button::AccessDone.id()]),
    spec(
        "reason_modal",
        Modal,
        &[
            "callback_id",
            "request_id",
            "title",
            "submit",
            "question",
            "hint",
        ],
    )
    .required(&["callback_id", "request_id", "question"])
    .callbacks(&[
        ModalId::TaskFail.id(),
        ModalId::Revoke.id(),
        ModalId::BreakGlassRevoke.id(),
    ])
    .controls(&["reason/reason_input"]),
    spec(
        "extend_modal",
        Modal,
        &["request_id", "resource", "entitlement", "until"],
    )
    .required(ID)
    .options(&["durations"])
    .callbacks(&[ModalId::Extend.id()])
    .controls(&[
        "duration/duration_select",
        "justification/justification_input",
    ]),
    spec(
        "activity_line",
        Message,
        &[
            "request_id",
            "requester",
            "beneficiary",
            "resource",
            "entitlement",
            "duration",
            "requested_at",
            "stage",
            "reason",
        ],
    ),
    spec("dm_step", Message, &["key", "title", "note", "so_far"])
        .required(&["key"])
        .lists(&[("offers", "dm_offer")])
        .controls(&[DmButton::Cancel.id()]),
    spec("dm_offer", Blocks, &["label", "value"])
        .required(&["value"])
        .controls(&[DmButton::Pick.id()]),
    spec(
        "dm_confirm",
        Message,
        &[
            "key",
            "resource",
            "entitlement",
            "duration",
            "reason",
            "note",
        ],
    )
    .required(&["key"])
    .controls(&[
        DmButton::Submit.id(),
        DmButton::Edit.id(),
        DmButton::Cancel.id(),
    ]),
    spec("dm_closed", Message, &["outcome", "so_far"]),
    spec("campaign_modal", Modal, &[])
        .lists(&[("groups", "campaign_groups_item")])
        .options(&["resources", "spaces", "entitlements", "due"])
        .callbacks(&[ModalId::Campaign.id()])
        .controls(&[
            "name/name_input",
            "resources/resources_select",
            "spaces/spaces_select",
            "entitlements/entitlements_select",
            "reviewers/reviewers_select",
            "owners/owners_select",
            "due/due_select",
        ]),
    spec("campaign_groups_item", Blocks, &[])
        .options(&["groups"])
        .controls(&["reviewer_groups_select"]),
    spec(
        "campaign_card",
        Message,
        &[
            "campaign_id",
            "name",
            "state",
            "scope",
            "owners",
            "due",
            "progress",
            "channel",
            "channel_state",
        ],
    )
    .lists(&[("buttons", "campaign_button")]),
    spec(
        "campaign_removal",
        Message,
        &[
            "campaign_id",
            "reviewer",
            "member",
            "entitlement",
            "resource",
            "state",
        ],
    )
    .required(&["campaign_id", "member", "entitlement", "resource"])
    .lists(&[("buttons", "campaign_button")]),
    spec(
        "campaign_button",
        Blocks,
        &["action", "label", "campaign_id"],
    )
    .required(&["action", "campaign_id"])
    // Drawn by `app::campaigns` (the owners' card, a removal notice).
    .drawn(&[
        CampaignButton::Start.id(),
        CampaignButton::End.id(),
        CampaignButton::Reassign.id(),
        CampaignButton::AddChannel.id(),
        CampaignButton::ChannelDeactivate.id(),
        CampaignButton::ChannelActivate.id(),
        CampaignButton::ChannelRemove.id(),
        CampaignButton::MarkRemoved.id(),
    ]),
    spec(
        "campaign_review",
        Message,
        &["campaign_id", "name", "due", "page", "closing"],
    )
    .lists(&[
        ("open", "campaign_review_item"),
        ("done", "campaign_reviewed_item"),
        ("all", "campaign_certify_all"),
    ]),
    spec("campaign_certify_all", Blocks, &["campaign_id", "count"])
        .required(&["campaign_id"])
        .controls(&[CampaignButton::CertifyAll.id()]),
    spec(
        "campaign_review_item",
        Blocks,
        &["beneficiary", "entitlement", "resource", "source", "value"],
    )
    .required(&["value"])
    .controls(&[CampaignButton::Certify.id(), CampaignButton::Revoke.id()]),
    spec(
        "campaign_reviewed_item",
        Blocks,
        &[
            "beneficiary",
            "entitlement",
            "resource",
            "source",
            "verdict",
            "value",
        ],
    ),
    spec("campaign_channel_modal", Modal, &["campaign_id"])
        .required(&["campaign_id"])
        .options(&["kinds"])
        .callbacks(&[ModalId::CampaignChannel.id()])
        .controls(&[
            "channel_kind/channel_kind_select",
            "channel_name/channel_name_input",
            "channel_description/channel_description_input",
        ]),
    spec("campaign_reassign_modal", Modal, &["campaign_id"])
        .required(&["campaign_id"])
        .options(&["items"])
        .callbacks(&[ModalId::CampaignReassign.id()])
        .controls(&["item/item_select", "reviewer/reviewer_select"]),
    spec(
        "campaign_status",
        Message,
        &[
            "campaign_id",
            "name",
            "state",
            "scope",
            "owners",
            "due",
            "progress",
            "reminders",
            "updated_at",
        ],
    ),
    spec(
        "campaign_reminder",
        Message,
        &["campaign_id", "name", "count", "due"],
    ),
    spec(
        "campaign_channel_reminder",
        Message,
        &["campaign_id", "name", "due", "progress", "reviewers"],
    ),
    spec("status", Message, &[]).lists(&[
        ("open_requests", "status_request_item"),
        ("active_grants", "status_grant_item"),
    ]),
    spec("status_request_item", Blocks, ITEM)
        .required(ID)
        .controls(&[Button::Cancel.id()]),
    spec("status_grant_item", Blocks, ITEM)
        .required(ID)
        .controls(&[Button::AccessRevoke.id()]),
    spec("home", Home, &["command", "updated_at"]).lists(&[
        ("notices", "home_notice_item"),
        ("my_requests", "home_request_item"),
        ("to_decide", "home_decision_item"),
        ("my_reviews", "home_review_item"),
        ("my_tasks", "home_task_item"),
        ("my_revokes", "home_revoke_item"),
        ("overdue", "home_overdue_item"),
        ("my_access", "status_grant_item"),
        ("my_campaigns", "home_campaign_item"),
    ]),
    spec("home_notice_item", Blocks, &["text"]),
    spec("home_request_item", Blocks, ITEM),
    spec("home_decision_item", Blocks, ITEM)
        .required(ID)
        .controls(&[Button::Approve.id(), Button::Deny.id()]),
    spec("home_task_item", Blocks, ITEM)
        .required(ID)
        .controls(&[Button::TaskComplete.id(), Button::TaskFail.id()]),
    spec("home_revoke_item", Blocks, ITEM)
        .required(ID)
        .controls(&[Button::RevokeComplete.id(), Button::RevokeFail.id()]),
    spec("home_overdue_item", Blocks, ITEM),
    spec(
        "home_review_item",
        Blocks,
        &["campaign_id", "name", "left", "due"],
    ),
    spec(
        "home_campaign_item",
        Blocks,
        &["campaign_id", "name", "state", "progress", "when", "at"],
    ),
];

/// The values of a request as a list item (`app::status::item`).
const ITEM: &[&str] = &[
    "request_id",
    "requester",
    "resource",
    "entitlement",
    "duration",
    "justification",
    "requested_at",
    "stage",
    "until",
    "since",
    "why",
    "assignees",
];

/// The spec of template `name`.
pub fn of(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_list_items_are_specified_as_blocks() {
        let mut names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SPECS.len());
        for spec in SPECS {
            for (slot, item) in spec.lists {
                let item_spec =
                    of(item).unwrap_or_else(|| panic!("{}: {slot} -> {item}", spec.name));
                assert_eq!(item_spec.kind, Kind::Blocks, "{item}");
            }
            for required in spec.required {
                assert!(spec.vars.contains(required), "{}: {required}", spec.name);
            }
        }
    }
}
