# Tests for access.rego; run them with `c1bot policy test`.
# Each test_ rule passes when it evaluates to true.
package c1.access_test

import data.c1.access

# A full member, Alice, asking for ReadOnly on a production resource owned by Frank.
# Space tree: root -> prod (inherits) -> prod-eu (inherits); root -> vault (does not
# inherit); root -> dev (inherits, labelled dev).
base := {
	"action": "request",
	"request": {"timestamp_ns": 1763630043000000000},
	"slack": {
		"command": "/c1",
		"channel": {"id": "C0GENERAL1", "name": "general"},
		"team": {"id": "T0C1TEAM01", "name": "Acme"},
		"user": {
			"id": "U0ALICE001", "display_name": "alice", "real_name": "Alice Ng",
			"is_admin": false, "is_owner": false, "is_primary_owner": false,
			"is_restricted": false, "is_ultra_restricted": false, "is_stranger": false,
			"deleted": false, "has_2fa": true, "tz": "Europe/Berlin",
		},
	},
	"spaces": [
		{"id": "root", "name": "Root", "labels": [], "parent": null, "inherit": false, "ancestors": []},
		{"id": "prod", "name": "Production", "labels": ["prod"], "parent": "root", "inherit": true, "ancestors": ["root"]},
		{"id": "prod-eu", "name": "Production EU", "labels": ["prod"], "parent": "prod", "inherit": true, "ancestors": ["root", "prod"]},
		{"id": "vault", "name": "Vault", "labels": [], "parent": "root", "inherit": false, "ancestors": ["root"]},
		{"id": "dev", "name": "Development", "labels": ["dev"], "parent": "root", "inherit": true, "ancestors": ["root"]},
	],
	"resource": {"id": "aws-prod", "name": "AWS production", "space": "prod", "owners": ["U0FRANK001"], "labels": []},
	"entitlement": {"id": "readonly", "name": "ReadOnly", "max_duration_s": 28800, "default_duration_s": 3600, "permanent_allowed": false},
	"access_request": {
		"id": "REQ-1042", "requester": "U0ALICE001", "beneficiary": "U0ALICE001",
		"duration_s": 14400, "justification": "incident 1234", "state": "pending",
		"step": 0, "approvals": [],
	},
}

# `base` with `changes` merged in (recursively, objects only).
with_changes(changes) := object.union(base, changes)

as_user(changes) := with_changes({"slack": {"user": changes}})

frank := {"id": "U0FRANK001", "display_name": "frank", "real_name": "Frank Ode"}

bob := {"id": "U0BOB00001", "display_name": "bob", "real_name": "Bob Li"}

# --- read access and requests --------------------------------------------------

test_member_may_request_in_a_space_inheriting_from_root if {
	access.allow with input as base
	count(access.deny) == 0 with input as base
}

test_member_may_request_two_levels_below_root if {
	access.allow with input as with_changes({"resource": {"space": "prod-eu"}})
}

test_member_may_not_request_in_a_space_that_does_not_inherit if {
	not access.allow with input as with_changes({"resource": {"space": "vault"}})
}

test_member_may_list_the_catalog_without_a_resource if {
	catalog := object.remove(with_changes({"action": "view"}), ["resource", "entitlement", "access_request"])
	access.allow with input as catalog
	access.space_read == {"root"} with input as catalog
}

# --- who may not use the bot -------------------------------------------------------

test_guest_is_denied if {
	guest := as_user({"is_restricted": true})
	"guest accounts cannot use c1bot, and access is not granted to guests" in access.deny with input as guest
	not access.allow with input as guest
}

test_single_channel_guest_is_denied if {
	some message in access.deny with input as as_user({"is_ultra_restricted": true})
	startswith(message, "guest accounts")
}

test_deactivated_user_is_denied if {
	"your Slack account is deactivated" in access.deny with input as as_user({"deleted": true})
}

test_user_from_another_workspace_is_denied if {
	"users from other workspaces cannot use c1bot" in access.deny with input as as_user({"is_stranger": true})
}

# --- approval ------------------------------------------------------------------------

test_resource_owner_may_approve if {
	approval := with_changes({"action": "approve", "slack": {"user": frank}})
	access.allow with input as approval
	count(access.deny) == 0 with input as approval
	access.space_write == {"prod"} with input as approval
}

test_admin_may_approve_in_every_space if {
	approval := with_changes({"action": "approve", "slack": {"user": object.union(bob, {"is_admin": true})}})
	access.allow with input as approval
	access.space_write == {"root", "prod", "prod-eu", "vault", "dev"} with input as approval
}

test_resource_owner_may_revoke_access_early if {
	access.allow with input as with_changes({"action": "revoke", "slack": {"user": frank}})
}

test_member_without_write_access_may_not_revoke if {
	not access.allow with input as with_changes({"action": "revoke", "slack": {"user": bob}})
}

test_member_without_write_access_may_not_approve if {
	not access.allow with input as with_changes({"action": "approve", "slack": {"user": bob}})
}

test_self_approval_is_denied if {
	# Alice owns the resource, so only the self-approval rule stands in her way.
	own := with_changes({"action": "approve", "resource": {"owners": ["U0ALICE001"]}})
	"you cannot approve your own request" in access.deny with input as own
}

test_approving_a_request_made_for_oneself_by_someone_else_is_denied if {
	on_behalf := with_changes({
		"action": "approve",
		"resource": {"owners": ["U0ALICE001"]},
		"access_request": {"requester": "U0BOB00001"},
	})
	"you cannot approve your own request" in access.deny with input as on_behalf
}

test_self_approval_is_allowed_on_resources_labelled_self_approval if {
	own := with_changes({"action": "approve", "resource": {"owners": ["U0ALICE001"], "labels": ["self-approval"]}})
	count(access.deny) == 0 with input as own
	access.allow with input as own
}

test_requesting_on_behalf_needs_write_access if {
	not access.allow with input as with_changes({"action": "request_on_behalf"})
	access.allow with input as with_changes({"action": "request_on_behalf", "slack": {"user": frank}})
}

test_own_access_is_reviewed_by_oneself_only_where_labelled if {
	not access.allow with input as with_changes({"action": "review_own_access"})
	access.allow with input as with_changes({"action": "review_own_access", "resource": {"labels": ["self-review"]}})
}

test_members_may_review_and_guests_may_not if {
	access.allow with input as with_changes({"action": "review"})
	count(access.deny) == 0 with input as with_changes({"action": "review"})
	some message in access.deny with input as object.union(as_user({"is_restricted": true}), {"action": "review"})
	startswith(message, "guest accounts")
	some single in access.deny with input as object.union(as_user({"is_ultra_restricted": true}), {"action": "review"})
	startswith(single, "guest accounts")
}

test_only_admins_manage_campaigns if {
	not access.allow with input as with_changes({"action": "manage_campaign"})
	access.allow with input as with_changes({"action": "manage_campaign", "slack": {"user": {"is_admin": true}}})
}

# --- auto-approval and duration ------------------------------------------------------

test_readonly_in_a_dev_space_is_auto_approved if {
	access.auto_approve with input as with_changes({"resource": {"space": "dev"}})
}

test_readonly_in_production_needs_an_approver if {
	not access.auto_approve with input as base
}

# --- scheduled access ------------------------------------------------------------------

days_ahead(days) := with_changes({"request": {
	"timestamp_ns": 1763630043000000000,
	"starts_at_ns": 1763630043000000000 + (((days * 24) * 3600) * 1000000000),
}})

test_production_access_may_be_scheduled_a_week_ahead if {
	access.allow with input as days_ahead(7)
	count(access.deny) == 0 with input as days_ahead(7)
}

test_production_access_may_not_be_scheduled_further_ahead if {
	"production access can be scheduled at most 7 days ahead" in access.deny with input as days_ahead(8)
}

test_development_access_may_be_scheduled_further_ahead if {
	count(access.deny) == 0 with input as object.union(days_ahead(20), {"resource": {"space": "dev"}})
}

test_admin_entitlement_is_limited_to_eight_hours if {
	access.max_duration == "8h" with input as with_changes({"entitlement": {"id": "admin", "name": "Admin"}})
}

test_other_entitlements_keep_their_own_maximum if {
	not access.max_duration with input as base
}

# --- request forms ---------------------------------------------------------------

orders_write(fields) := with_changes({
	"resource": {"id": "orders-db", "name": "Orders database", "space": "prod", "owners": ["U0CAROL001"]},
	"entitlement": {"id": "readwrite", "name": "ReadWrite"},
	"request": {"fields": fields},
})

test_a_ticket_is_required_in_production if {
	"ticket" in access.require_fields with input as orders_write({})
}

test_no_ticket_is_required_in_development if {
	not "ticket" in access.require_fields with input as with_changes({"resource": {"space": "dev"}})
}

test_payments_writes_need_a_change_ticket if {
	count(access.deny) == 1 with input as orders_write({"schema": "payments", "ticket": "INC-4711"})
	count(access.deny) == 1 with input as orders_write({"schema": "payments"})
	count(access.deny) == 0 with input as orders_write({"schema": "payments", "ticket": "CHG-12"})
	count(access.deny) == 0 with input as orders_write({"schema": "orders", "ticket": "INC-4711"})
}

test_the_form_is_unknown_while_entitlements_are_listed if {
	count(access.deny) == 0 with input as orders_write({})
	access.allow with input as orders_write({})
}

# --- break-glass -----------------------------------------------------------------

prod_admin := with_changes({"entitlement": {"id": "admin", "name": "Admin"}})

test_admin_in_production_may_be_taken_in_an_emergency if {
	access.break_glass with input as prod_admin
	access.allow with input as prod_admin
}

test_readonly_is_never_break_glass if {
	not access.break_glass with input as base
}

test_admin_in_development_is_not_break_glass if {
	not access.break_glass with input as with_changes({"entitlement": {"id": "admin"}, "resource": {"space": "dev"}})
}

test_a_guest_cannot_break_glass if {
	guest_admin := with_changes({"entitlement": {"id": "admin"}, "slack": {"user": {"is_restricted": true}}})
	not access.break_glass with input as guest_admin
	count(access.deny) > 0 with input as guest_admin
}

# --- step-up verification --------------------------------------------------------

# Frank, an owner of AWS production, approving Alice's request.
step_up_approval := {
	"action": "approve",
	"slack": {"user": {"id": "U0FRANK001", "display_name": "frank", "is_admin": false}},
	"resource": {"id": "aws-prod", "name": "AWS production", "space": "prod", "owners": ["U0FRANK001"], "labels": []},
	"entitlement": {"id": "admin", "name": "Admin", "max_duration_s": 28800, "default_duration_s": 3600, "permanent_allowed": false},
	"access_request": {"id": "REQ-1042", "requester": "U0ALICE001", "beneficiary": "U0ALICE001", "state": "pending", "step": 0, "approvals": [], "approvers": ["U0FRANK001"]},
}

step_up_labelled := object.union(step_up_approval, {"resource": {"labels": ["step-up"]}})

test_approving_a_resource_labelled_step_up_needs_a_code if {
	access.require_step_up with input as step_up_labelled
}

test_approving_an_unlabelled_resource_needs_no_code if {
	not access.require_step_up with input as step_up_approval
}

test_requesting_a_labelled_resource_needs_no_code if {
	not access.require_step_up with input as object.union(step_up_labelled, {"action": "request"})
}

test_a_listed_approver_needs_a_code_everywhere if {
	access.require_step_up with input as step_up_approval with access.step_up_approvers as {"U0FRANK001"}
}

test_an_approver_not_listed_needs_no_code if {
	not access.require_step_up with input as step_up_approval with access.step_up_approvers as {"U0BOB00001"}
}
