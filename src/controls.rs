//! c1bot's control vocabulary: every button `action_id` and every modal
//! `callback_id` the code routes on, each a variant with its id, in one place.
//!
//! The routers (`app::handler`, `app::journal::route`, the campaign and DM features)
//! match on [`Button`] and [`Modal`] rather than on strings, so a new variant that
//! nobody handles fails to compile; Rust code that draws a button or opens a modal
//! writes the variant's [`Button::id`] / [`Modal::id`]; and `templates::specs` names
//! the controls each template must keep through the same variants. Modal *inputs*
//! (`block_id`/`action_id` of a field, read from the view's state) are not here.
//!
//! Pure, no I/O.

/// Declares a control enum (and its families, each an enum of its own wrapped in one
/// variant): the variants, `id`, `from_id` and `ALL`, written once from one list so
/// that they cannot disagree.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $id:literal, )*
            ;
            $(
                $(#[$fmeta:meta])*
                $family:ident($inner:ident) {
                    $( $(#[$ivmeta:meta])* $ivariant:ident = $iid:literal, )*
                }
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            $( $(#[$fmeta])* $family($inner), )*
        }

        impl $name {
            /// Every variant, families included, each once.
            pub const ALL: &'static [Self] = &[
                $( Self::$variant, )*
                $( $( Self::$family($inner::$ivariant), )* )*
            ];

            /// The id Slack carries (`action_id` or `callback_id`).
            pub const fn id(self) -> &'static str {
                match self {
                    $( Self::$variant => $id, )*
                    $( Self::$family(inner) => inner.id(), )*
                }
            }

            /// The variant whose id is `id`; `None` for an id c1bot does not route.
            pub fn from_id(id: &str) -> Option<Self> {
                match id {
                    $( $id => Some(Self::$variant), )*
                    $( $( $iid => Some(Self::$family($inner::$ivariant)), )* )*
                    _ => None,
                }
            }
        }

        $(
            $(#[$fmeta])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub enum $inner {
                $( $(#[$ivmeta])* $ivariant, )*
            }

            impl $inner {
                /// Every variant of the family, each once.
                pub const ALL: &'static [Self] = &[ $( Self::$ivariant, )* ];

                /// The id Slack carries.
                pub const fn id(self) -> &'static str {
                    match self {
                        $( Self::$ivariant => $iid, )*
                    }
                }

                /// The variant whose id is `id`; `None` outside the family.
                pub fn from_id(id: &str) -> Option<Self> {
                    match id {
                        $( $iid => Some(Self::$ivariant), )*
                        _ => None,
                    }
                }
            }

            impl From<$inner> for $name {
                fn from(inner: $inner) -> Self {
                    Self::$family(inner)
                }
            }
        )*
    };
}

vocabulary! {
    /// A button c1bot routes clicks on, by its `action_id`.
    pub enum Button {
        /// An approver's *Approve* (journaled; may open the step-up modal).
        Approve = "approve",
        /// An approver's *Deny*: opens the reason modal ([`Modal::Deny`]).
        Deny = "deny",
        /// The requester's *Cancel*.
        Cancel = "cancel",
        /// A provisioner's *Mark complete* on a grant task.
        TaskComplete = "task_complete",
        /// *Can't complete* on a grant task: opens [`Modal::TaskFail`].
        TaskFail = "task_fail",
        /// *Mark complete* on a revoke task.
        RevokeComplete = "revoke_complete",
        /// *Can't complete* on a revoke task: opens [`Modal::TaskFail`].
        RevokeFail = "revoke_fail",
        /// The person's *I'm done* with their access.
        AccessDone = "access_done",
        /// *Extend* before access expires: opens [`Modal::Extend`].
        AccessExtend = "access_extend",
        /// *Revoke* on an active grant (status, App Home): opens [`Modal::Revoke`].
        AccessRevoke = "access_revoke",
        /// The break-glass review's *Looks right*.
        BreakGlassOk = "break_glass_ok",
        /// The break-glass review's *Revoke now*: opens [`Modal::BreakGlassRevoke`].
        BreakGlassRevoke = "break_glass_revoke",
        ;
        /// The buttons of a DM request conversation.
        Dm(DmButton) {
            Pick = "dm_pick",
            Submit = "dm_submit",
            Edit = "dm_edit",
            Cancel = "dm_cancel",
        }
        /// The campaign buttons (owners' card, reviewers' pages, removal notices).
        Campaign(CampaignButton) {
            Start = "campaign_start",
            End = "campaign_end",
            Certify = "campaign_certify",
            Revoke = "campaign_revoke",
            CertifyAll = "campaign_certify_all",
            /// Opens the channel modal ([`Modal::CampaignChannel`]).
            AddChannel = "campaign_add_channel",
            ChannelDeactivate = "campaign_channel_deactivate",
            ChannelActivate = "campaign_channel_activate",
            ChannelRemove = "campaign_channel_remove",
            /// Opens the reassign modal ([`Modal::CampaignReassign`]).
            Reassign = "campaign_reassign",
            /// An owner removed a revoked catalog member's access (value `CMP-1:<item>`).
            MarkRemoved = "campaign_mark_removed",
        }
    }
}

vocabulary! {
    /// A modal c1bot answers the submission of, by its `callback_id`.
    pub enum Modal {
        /// The request form (`/c1 request`).
        Request = "c1_request",
        /// The reason for a denial.
        Deny = "c1_deny",
        /// Step-up: the code of an enrolled approver.
        StepUp = "c1_step_up",
        /// Step-up: enrolment, then the first code.
        StepUpEnrol = "c1_step_up_enrol",
        /// Why a grant or revoke task cannot be completed (the reason modal).
        TaskFail = "c1_task_fail",
        /// Why active access is revoked (the reason modal).
        Revoke = "c1_revoke",
        /// *Extend*: how much longer, and why.
        Extend = "c1_extend",
        /// Break-glass: the confirm step.
        BreakGlass = "c1_break_glass",
        /// Break-glass review: why it is revoked (the reason modal).
        BreakGlassRevoke = "c1_break_glass_revoke",
        /// `/c1 campaign`: a new campaign.
        Campaign = "c1_campaign",
        /// A campaign's reviewer reassigned.
        CampaignReassign = "c1_campaign_reassign",
        /// A campaign's channel (new, or an existing one).
        CampaignChannel = "c1_campaign_channel",
        ;
    }
}

impl Button {
    /// Whether a click changes state, so it is journaled before its ack; the others
    /// open or update a modal (after the ack) and change nothing themselves.
    pub const fn journaled(self) -> bool {
        match self {
            Button::Approve
            | Button::Cancel
            | Button::TaskComplete
            | Button::RevokeComplete
            | Button::AccessDone
            | Button::BreakGlassOk
            | Button::Dm(_) => true,
            Button::Deny
            | Button::TaskFail
            | Button::RevokeFail
            | Button::AccessExtend
            | Button::AccessRevoke
            | Button::BreakGlassRevoke => false,
            Button::Campaign(campaign) => !campaign.opens_modal(),
        }
    }
}

impl CampaignButton {
    /// Whether the button opens a modal (after the ack) rather than deciding.
    pub const fn opens_modal(self) -> bool {
        match self {
            CampaignButton::AddChannel | CampaignButton::Reassign => true,
            CampaignButton::Start
            | CampaignButton::End
            | CampaignButton::Certify
            | CampaignButton::Revoke
            | CampaignButton::CertifyAll
            | CampaignButton::ChannelDeactivate
            | CampaignButton::ChannelActivate
            | CampaignButton::ChannelRemove
            | CampaignButton::MarkRemoved => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::specs::SPECS;
    use crate::templates::Kind;

    #[test]
    fn every_id_reads_back_as_its_variant_and_ids_are_unique() {
        let mut ids = std::collections::BTreeSet::new();
        for button in Button::ALL {
            assert_eq!(Button::from_id(button.id()), Some(*button), "{button:?}");
            assert!(ids.insert(button.id()), "{button:?}: id used twice");
        }
        for modal in Modal::ALL {
            assert_eq!(Modal::from_id(modal.id()), Some(*modal), "{modal:?}");
            assert!(ids.insert(modal.id()), "{modal:?}: id used twice");
        }
        for dm in DmButton::ALL {
            assert_eq!(DmButton::from_id(dm.id()), Some(*dm), "{dm:?}");
            assert!(Button::ALL.contains(&Button::Dm(*dm)), "{dm:?}");
        }
        for campaign in CampaignButton::ALL {
            assert_eq!(CampaignButton::from_id(campaign.id()), Some(*campaign));
            assert!(
                Button::ALL.contains(&Button::from(*campaign)),
                "{campaign:?}"
            );
        }
        for unknown in ["", "Approve", "campaign_", "dm_", "c1_", "resource_select"] {
            assert_eq!(Button::from_id(unknown), None, "{unknown}");
            assert_eq!(Modal::from_id(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn deciding_buttons_are_journaled_and_modal_openers_are_not() {
        for button in [
            Button::Approve,
            Button::Cancel,
            Button::TaskComplete,
            Button::RevokeComplete,
            Button::AccessDone,
            Button::BreakGlassOk,
            Button::Dm(DmButton::Pick),
            Button::Dm(DmButton::Submit),
            Button::Dm(DmButton::Edit),
            Button::Dm(DmButton::Cancel),
            Button::Campaign(CampaignButton::Certify),
            Button::Campaign(CampaignButton::Start),
            Button::Campaign(CampaignButton::MarkRemoved),
        ] {
            assert!(button.journaled(), "{button:?}");
        }
        for button in [
            Button::Deny,
            Button::TaskFail,
            Button::RevokeFail,
            Button::AccessExtend,
            Button::AccessRevoke,
            Button::BreakGlassRevoke,
            Button::Campaign(CampaignButton::AddChannel),
            Button::Campaign(CampaignButton::Reassign),
        ] {
            assert!(!button.journaled(), "{button:?}");
        }
    }

    /// A handler whose template lost its button (or a modal no template is drawn
    /// with) is an error: every button is a control some template must keep (or one
    /// the code draws into a template's `{{action}}`), every modal the callback of a
    /// modal template.
    #[test]
    fn every_control_is_in_some_templates_contract() {
        let missing: Vec<String> = Button::ALL
            .iter()
            .filter(|button| {
                !SPECS.iter().any(|spec| {
                    spec.controls.contains(&button.id()) || spec.drawn.contains(&button.id())
                })
            })
            .map(|button| format!("Button::{button:?} ('{}')", button.id()))
            .chain(
                Modal::ALL
                    .iter()
                    .filter(|modal| {
                        !SPECS.iter().any(|spec| {
                            spec.kind == Kind::Modal && spec.callbacks.contains(&modal.id())
                        })
                    })
                    .map(|modal| format!("Modal::{modal:?} ('{}')", modal.id())),
            )
            .collect();
        assert!(
            missing.is_empty(),
            "handled, but no template in templates::specs::SPECS has them: {missing:?}"
        );
    }
}
