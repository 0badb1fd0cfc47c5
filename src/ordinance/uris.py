"""Every URI Ordinance mints, under one base: predicate types, schema ids, the verifier id.

Signed records name their kind by these strings; changing one changes what verifiers accept, so they
live here and nowhere else.
"""

from __future__ import annotations

from typing import Final

BASE: Final = "https://ordinance.dev"

#: in-toto Statement envelope type (not ours; the standard one).
STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
#: SLSA Verification Summary Attestation (not ours): a recorded policy evaluation.
VSA: Final = "https://slsa.dev/verification_summary/v1"

# -- predicate types of log entries ---------------------------------------------------------------
REGISTRATION: Final = f"{BASE}/registration/v1"
TRANSITION: Final = f"{BASE}/transition/v1"
APPROVAL: Final = f"{BASE}/approval/v1"
APPROVAL_REFUSED: Final = f"{BASE}/approval-refused/v1"
#: An approver's signed "no": declines a version for a stage, with a reason (never counts).
DECLINE: Final = f"{BASE}/decline/v1"
REVOCATION: Final = f"{BASE}/revocation/v1"
WAIVER: Final = f"{BASE}/waiver/v1"
#: Someone asked for a waiver (the server's record of a logged-in user's request; not a waiver).
WAIVER_REQUEST: Final = f"{BASE}/waiver-request/v1"
#: A waiver-role holder declined a waiver request, with a reason (the server's record).
WAIVER_REQUEST_DECLINED: Final = f"{BASE}/waiver-request-declined/v1"
KEY_CHANGE: Final = f"{BASE}/key-change/v1"
EVIDENCE: Final = f"{BASE}/evidence/v1"
ROSTER_CHANGE: Final = f"{BASE}/roster-change/v1"
#: A report or card was rendered: the digest of the output and of everything it was built from.
RENDERING: Final = f"{BASE}/rendering/v1"

#: The verifier id recorded in VSAs.
VERIFIER_ID: Final = f"{BASE}/ordinance"

# -- schema ids of documents Ordinance writes -----------------------------------------------------
EXPLAINABILITY_SCHEMA: Final = f"{BASE}/explainability/v1"
EVALUATION_SCHEMA: Final = f"{BASE}/evaluation/v1"
MODEL_CARD_SCHEMA: Final = f"{BASE}/model-card/v1"
COMPLIANCE_REPORT_SCHEMA: Final = f"{BASE}/compliance-report/v1"
PORTFOLIO_SCHEMA: Final = f"{BASE}/portfolio-report/v1"
CATALOG_SCHEMA: Final = f"{BASE}/catalog/v1"
MANIFEST_SCHEMA_ID: Final = f"{BASE}/schemas/manifest-v1.schema.json"
