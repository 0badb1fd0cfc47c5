"""Shared values for the approvals tests: the clock, the people, a workspace (packs: helpers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import seeded_signer, small_manifest, write_packs
from ordinance.approvals import Member, Roster, apply_roster
from ordinance.signing import Ed25519Signer
from ordinance.workspace import Workspace, init_workspace

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


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


def make_people() -> People:
    return People(
        vera=seeded_signer(1, "vera@example.com"),
        rita=seeded_signer(2, "rita@example.com"),
        eddie=seeded_signer(3, "eddie@example.com"),
        alice=seeded_signer(4, "alice@example.com"),
        mallory=seeded_signer(5, "mallory@example.com"),
    )


def make_workspace(root: Path, db_url: str) -> Workspace:
    return init_workspace(
        root / ".ordinance",
        db_url=db_url,
        origin="ordinance.local/test",
        policies=write_packs(root / "packs"),
    )


def build_versions(root: Path, db_url: str, people: People) -> Workspace:
    """A workspace with toy@1.0.0, 2.0.0, 3.0.0 registered (a minute apart from T0) and the
    roster applied at T0."""
    ws = make_workspace(root, db_url)
    for i, version in enumerate(("1.0.0", "2.0.0", "3.0.0")):
        ws.register(small_manifest(root / f"v{version}", version=version), now=T0 + i * MINUTE)
    apply_roster(ws, people.roster(), actor="admin", now=T0)
    return ws
