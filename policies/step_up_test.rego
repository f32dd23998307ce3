# Tests for step_up.rego; run them with `c1bot policy test`.
package c1.step_up_test

import data.c1.step_up

# Frank, an owner of AWS production, approving Alice's request.
approval := {
	"action": "approve",
	"slack": {"user": {"id": "U0FRANK001", "display_name": "frank", "is_admin": false}},
	"resource": {"id": "aws-prod", "name": "AWS production", "space": "prod", "owners": ["U0FRANK001"], "labels": []},
	"entitlement": {"id": "admin", "name": "Admin", "max_duration_s": 28800, "default_duration_s": 3600, "permanent_allowed": false},
	"access_request": {"id": "REQ-1042", "requester": "U0ALICE001", "beneficiary": "U0ALICE001", "state": "pending", "step": 0, "approvals": [], "approvers": ["U0FRANK001"]},
}

labelled := object.union(approval, {"resource": {"labels": ["step-up"]}})

test_approving_a_resource_labelled_step_up_needs_a_code if {
	step_up.require_step_up with input as labelled
}

test_approving_an_unlabelled_resource_needs_no_code if {
	not step_up.require_step_up with input as approval
}

test_requesting_a_labelled_resource_needs_no_code if {
	not step_up.require_step_up with input as object.union(labelled, {"action": "request"})
}

test_a_listed_approver_needs_a_code_everywhere if {
	step_up.require_step_up with input as approval with step_up.step_up_approvers as {"U0FRANK001"}
}

test_an_approver_not_listed_needs_no_code if {
	not step_up.require_step_up with input as approval with step_up.step_up_approvers as {"U0BOB00001"}
}
