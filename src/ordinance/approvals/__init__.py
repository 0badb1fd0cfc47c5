"""The roster, roles, signed approvals, signed waivers, revocations and their collection.

One module per concept::

    roster       who holds which keys and roles (logged roster changes, roster_at)
    approval     signed approvals of a version for a stage
    decline      an approver's signed "no" to a version for a stage, with a reason
    waiver       signed waivers of one rule for one version
    waiver_request  asking for a waiver; granted by a signed waiver, or declined
    revocation   withdrawing an approval or waiver
    collect      re-verifying what was recorded, for the gate (with every rejection)

All times are injected (``now``); nothing here reads the wall clock except the entry points'
``now`` default.
"""

from __future__ import annotations

from ordinance.approvals._base import (
    APPROVAL_REFUSED,
    CLOCK_SKEW,
    REVOCATION,
    REVOKER_ROLES,
    ROSTER_ADMIN_ROLES,
    WAIVER_ROLES,
    ApprovalRecord,
    ApprovalRefused,
    Rejected,
    approvals_store,
    parse_when,
)
from ordinance.approvals.approval import (
    approval_statement,
    approve,
    record_approval,
    sign_approval,
)
from ordinance.approvals.collect import (
    Collected,
    collect_approvals,
    collect_waivers,
    list_signed,
    verified_approvals,
)
from ordinance.approvals.decline import (
    Decline,
    decline,
    decline_statement,
    declines_of,
    record_decline,
)
from ordinance.approvals.revocation import (
    find_own,
    record_revocation,
    revocation_statement,
    revoke,
)
from ordinance.approvals.roster import (
    Member,
    Roster,
    RosterChange,
    apply_roster,
    current_roster,
    load_roster,
    parse_roster,
    record_roster_change,
    roster_at,
    roster_change_statement,
    roster_diff,
    roster_vkeys,
)
from ordinance.approvals.waiver import record_waiver, sign_waiver, waive, waiver_statement
from ordinance.approvals.waiver_request import (
    RequestState,
    check_grant,
    decline_waiver_request,
    request_waiver,
    waiver_requests,
)

__all__ = [
    "APPROVAL_REFUSED",
    "CLOCK_SKEW",
    "REVOCATION",
    "REVOKER_ROLES",
    "ROSTER_ADMIN_ROLES",
    "WAIVER_ROLES",
    "ApprovalRecord",
    "ApprovalRefused",
    "Collected",
    "Decline",
    "Member",
    "Rejected",
    "RequestState",
    "Roster",
    "RosterChange",
    "apply_roster",
    "approval_statement",
    "approvals_store",
    "approve",
    "check_grant",
    "collect_approvals",
    "collect_waivers",
    "current_roster",
    "decline",
    "decline_statement",
    "decline_waiver_request",
    "declines_of",
    "find_own",
    "list_signed",
    "load_roster",
    "parse_roster",
    "parse_when",
    "record_approval",
    "record_decline",
    "record_revocation",
    "record_roster_change",
    "record_waiver",
    "request_waiver",
    "revocation_statement",
    "revoke",
    "roster_at",
    "roster_change_statement",
    "roster_diff",
    "roster_vkeys",
    "sign_approval",
    "sign_waiver",
    "verified_approvals",
    "waive",
    "waiver_requests",
    "waiver_statement",
]
