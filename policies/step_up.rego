# Step-up verification before sensitive approvals (README.md, "Step-up verification").
# When any module sets `require_step_up` for an approval, Approve asks the approver for
# a one-time code from their authenticator app, and the approval commits only with a
# valid one. Nothing sets it unless a rule below matches: off by default.
package c1.step_up

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
