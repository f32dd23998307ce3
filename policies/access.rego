# c1bot's example access policy. Edit it, or add more *.rego files beside it:
# every module is asked for every decision (see README.md for the input and rules).
package c1.access

# Default deny: nothing is allowed unless an `allow` rule below matches.
default allow := false

user := input.slack.user

spaces_by_id := {space.id: space | some space in input.spaces}

# --- who may use the bot at all ------------------------------------------------

# Deactivated accounts keep nothing, whatever else matches.
deny contains "your Slack account is deactivated" if user.deleted

# Guests (multi- and single-channel) only see part of the workspace; they may not
# request or approve access.
deny contains "guest accounts cannot use c1bot, and access is not granted to guests" if guest

# People from another workspace (Slack Connect) are not ours to grant access to.
deny contains "users from other workspaces cannot use c1bot" if user.is_stranger

guest if user.is_restricted

guest if user.is_ultra_restricted

# --- space grants ----------------------------------------------------------------

# Every full member may read (see and request in) the root space, and through it
# every child space that inherits.
space_read contains "root" if not guest

# Resource owners may approve in their resource's space.
space_write contains input.resource.space if user.id in input.resource.owners

# Workspace admins may approve everywhere.
space_write contains space.id if {
	user.is_admin
	some space in input.spaces
}

# --- decisions ---------------------------------------------------------------------

# Seeing and requesting a resource needs read access to its space.
allow if {
	input.action in {"request", "view"}
	granted(space_read, input.resource.space)
}

# Listing the catalog asks without a resource; the bot then shows only the entries in
# the decision's space_read.
allow if {
	input.action == "view"
	not input.resource
}

# Approving, and requesting for someone else, needs write access to the resource's space.
# The approvers the catalog names for the request's current step may decide it;
# the deny rules above still apply to them.
allow if {
	input.action == "approve"
	user.id in input.access_request.approvers
}

allow if {
	input.action in {"approve", "request_on_behalf"}
	granted(space_write, input.resource.space)
}

# Ending someone's access early is a write on the resource's space. (The person
# with the access, its requester and the request's approvers may always do it;
# c1bot asks policy only about everyone else.)
allow if {
	input.action == "revoke"
	granted(space_write, input.resource.space)
}

# Access review campaigns are for workspace admins.
allow if {
	input.action == "manage_campaign"
	user.is_admin
}

# Any full member may review access they are assigned in an access review; guests,
# deactivated accounts and people from other workspaces are refused by the deny
# rules above (c1bot asks when a campaign starts and when an item is reassigned).
allow if input.action == "review"

# In an access review nobody certifies or revokes their own access, except on a
# resource labelled "self-review" (c1bot asks only when the item is the reviewer's own).
allow if {
	input.action == "review_own_access"
	"self-review" in input.resource.labels
}

# Nobody approves access for themselves, as requester or as beneficiary, unless the
# resource is labelled "self-approval" (e.g. a break-glass sandbox).
# Resources labelled "self-approval" let the requester decide their own request
# (c1bot refuses self-approval unless a policy says this explicitly).
allow_self_approval if "self-approval" in input.resource.labels

deny contains "you cannot approve your own request" if {
	input.action == "approve"
	user.id in {input.access_request.requester, input.access_request.beneficiary}
	not "self-approval" in input.resource.labels
}

# ReadOnly access to development spaces needs no approver.
auto_approve if {
	input.action == "request"
	input.entitlement.id == "readonly"
	"dev" in spaces_by_id[input.resource.space].labels
}

# Scheduled access (a request with input.request.starts_at_ns) to a production space
# may start at most 7 days ahead: plans further out are made nearer the date. (c1bot
# itself refuses a start more than 30 days ahead, or in the past.)
deny contains "production access can be scheduled at most 7 days ahead" if {
	input.action == "request"
	"prod" in spaces_by_id[input.resource.space].labels
	input.request.starts_at_ns - input.request.timestamp_ns > ((7 * 24) * 3600) * 1000000000
}

# Admin entitlements are granted for at most 8 hours, whatever the entitlement allows.
max_duration := "8h" if input.entitlement.id == "admin"

# --- break-glass -------------------------------------------------------------------

# In an incident, a full member may take Admin on production at once (break-glass):
# granted without approval for at most the entitlement's break_glass_max_duration,
# the approvers, the resource's owners and the security channel told, and the
# approvers review it afterwards (Looks right / Revoke now). The deny rules above
# still apply (no guests, no deactivated accounts, no strangers).
break_glass if {
	input.action == "request"
	input.entitlement.id == "admin"
	"prod" in spaces_by_id[input.resource.space].labels
	not guest
}

# --- request forms -----------------------------------------------------------------

# Access in production needs a ticket: where the entitlement's request form has a
# `ticket` field (catalog `fields`), it must be filled in. The request cannot be
# submitted without it; the modal says so at the field. What was entered is in
# input.request.fields, well formed (a value that misses the field's pattern is
# left out), so a rule may also look at it.
require_fields contains "ticket" if {
	input.action == "request"
	"prod" in spaces_by_id[input.resource.space].labels
}

# Writes to the payments schema need a change ticket (CHG-…), not an incident.
deny contains "writes to the payments schema need a change ticket (CHG-…)" if {
	input.action == "request"
	input.request.fields.schema == "payments"
	not startswith(input.request.fields.ticket, "CHG-")
}

# --- step-up verification --------------------------------------------------------

# Before sensitive approvals (README.md, "Step-up verification"): when `require_step_up`
# holds for an approval, Approve asks the approver for a one-time code from their
# authenticator app, and the approval commits only with a valid one. Off unless a rule
# below matches.

# Per entitlement: approving access to a resource labelled "step-up" (in the
# catalog) needs a code, whoever approves.
require_step_up if {
	input.action == "approve"
	"step-up" in input.resource.labels
}

# Per approver: the Slack ids listed here verify every approval they make.
# Empty as shipped; add people whose accounts are worth more to an attacker.
step_up_approvers := set()

require_step_up if {
	input.action == "approve"
	input.slack.user.id in step_up_approvers
}

# --- helpers -----------------------------------------------------------------------

# True if `grants` (space_read or space_write) covers `space_id`: directly, or through
# an ancestor when the space and every space between it and that ancestor inherit.
# `ancestors` runs from the root down to the parent. c1bot extends the decision's
# space sets the same way; rules must do it themselves.
granted(grants, space_id) if space_id in grants

granted(grants, space_id) if {
	space := spaces_by_id[space_id]
	space.inherit
	some i, ancestor in space.ancestors
	ancestor in grants
	every between in array.slice(space.ancestors, i + 1, count(space.ancestors)) {
		spaces_by_id[between].inherit
	}
}
