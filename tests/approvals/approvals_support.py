"""Shared values for the approvals tests: the clock, the policy packs, the people, a workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ordinance.approvals import Member, Roster
from ordinance.signing import Ed25519Signer
from ordinance.workspace import Workspace, init_workspace

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: prod-gate, version: "1"}
rules:
  - id: auc-floor
    type: metrics.threshold
    params: {metric: auc, min: 0.75}
    message: AUC must be at least 0.75.
  - id: two-approvals
    type: approvals.required
    params:
      roles: {model-validator: 1, risk-officer: 1}
      separation_of_duties: true
      max_age_days: 90
    message: A validator and a risk officer must approve.
"""

STAGING_PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: staging-gate, version: "1"}
rules:
  - id: auc-floor
    type: metrics.threshold
    params: {metric: auc, min: 0.5}
"""


@dataclass
class People:
    vera: Ed25519Signer  # model-validator
    rita: Ed25519Signer  # risk-officer
    eddie: Ed25519Signer  # ml-engineer
    alice: Ed25519Signer  # the author of the versions, also a model-validator
    mallory: Ed25519Signer  # not in the roster

    def roster(self, **overrides: frozenset[str]) -> Roster:
        roles = {
            "vera@example.com": frozenset({"model-validator"}),
            "rita@example.com": frozenset({"risk-officer"}),
            "eddie@example.com": frozenset({"ml-engineer"}),
            "alice@example.com": frozenset({"model-validator", "ml-engineer"}),
        }
        roles.update({f"{k}@example.com": v for k, v in overrides.items()})
        keys = {
            "vera@example.com": self.vera,
            "rita@example.com": self.rita,
            "eddie@example.com": self.eddie,
            "alice@example.com": self.alice,
        }
        return Roster(
            tuple(Member(id=i, roles=roles[i], keys=(keys[i].verifier,)) for i in sorted(keys))
        )


def _seeded(n: int, name: str) -> Ed25519Signer:
    return Ed25519Signer.from_seed(bytes([n]) * 32, name)


def make_people() -> People:
    return People(
        vera=_seeded(1, "vera@example.com"),
        rita=_seeded(2, "rita@example.com"),
        eddie=_seeded(3, "eddie@example.com"),
        alice=_seeded(4, "alice@example.com"),
        mallory=_seeded(5, "mallory@example.com"),
    )


def make_workspace(root: Path, db_url: str) -> Workspace:
    (root / "packs").mkdir(parents=True, exist_ok=True)
    (root / "packs" / "prod.yaml").write_text(PACK)
    (root / "packs" / "staging.yaml").write_text(STAGING_PACK)
    ws = init_workspace(
        root / ".ordinance",
        db_url=db_url,
        origin="ordinance.local/test",
        policies={
            "staging": [str(root / "packs" / "staging.yaml")],
            "production": [str(root / "packs" / "prod.yaml")],
        },
    )
    return ws
