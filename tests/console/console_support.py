"""A workspace for the console tests: the credit-risk story, two approvers, a roster admin.

* ``credit-risk@1.0.0`` (postcode proxy: fails the fairness rule) and ``@1.1.0`` (fair),
  both checked by CI for production, so both await approvals;
* the roster: ``admin@bank.example`` (roster-admin, CLI key), ``vera@bank.example``
  (validator, CLI key), ``rita@bank.example`` (risk-officer: enrolls a *browser* key during
  the test), ``alice@bank.example`` (the author);
* production needs one validator and one risk officer (``signoff.yaml``) besides the
  baseline pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ordinance.approvals import Roster, apply_roster
from ordinance.signing import Ed25519Signer, generate_key, load_signer
from ordinance.workspace import Workspace, init_workspace

SIGNOFF = {
    "apiVersion": "ordinance/v1",
    "kind": "PolicyPack",
    "metadata": {
        "name": "signoff",
        "version": "1.0.0",
        "owner": "model-risk",
        "description": "A validator and a risk officer sign off production.",
        "frameworks": [],
    },
    "rules": [
        {
            "id": "two-person-signoff",
            "type": "approvals.required",
            "params": {"roles": {"validator": 1, "risk-officer": 1}, "separation_of_duties": True},
            "scope": {"stages": ["production"]},
            "message": "A validator and a risk officer must approve production use.",
        }
    ],
}

#: Model names are refused at registration unless plain (``[A-Za-z0-9._-]``): the hostile
#: text goes where free text is allowed (description, owner, metric names, docs, URLs).
EVIL_NAME = "xss-model"
EVIL_OWNER = "<script>alert('owner')</script>{{ 7*7 }}"
EVIL_DESC = "javascript:alert('desc') <img src=x onerror=alert('img')> {{ config }}"
EVIL_METRIC = "<svg onload=alert('metric')>{{ 7*7 }}"
EVIL_URL = "javascript:alert('url')"


@dataclass
class Story:
    model: str
    hostile: bool
    home: Path
    keys: Path
    tokens: dict[str, str]
    admin_key: Path
    vera_key: Path


def roster_members(story: Story, extra: dict[str, list[str]] | None = None) -> list[Any]:
    """The story's roster as YAML-able members; ``extra`` adds keys per member id."""
    extra = extra or {}
    admin = load_signer(story.admin_key).vkey
    vera = load_signer(story.vera_key).vkey
    # rita has no CLI key: until her browser key is enrolled, a retired key stands in
    placeholder = Ed25519Signer.from_seed(b"\x01" * 32, "rita@bank.example/retired").vkey
    rita = list(extra.get("rita@bank.example", [])) or [placeholder]
    return [
        {"id": "admin@bank.example", "roles": ["roster-admin"], "keys": [admin]},
        {
            "id": "vera@bank.example",
            "roles": ["validator"],
            "keys": [vera, *extra.get("vera@bank.example", [])],
        },
        {"id": "rita@bank.example", "roles": ["risk-officer"], "keys": rita},
    ]


def write_roster(path: Path, members: list[Any]) -> Path:
    path.write_text(
        yaml.safe_dump({"apiVersion": "ordinance/v1", "kind": "Roster", "members": members})
    )
    return path


def build_story(base: Path, *, hostile: bool = False, rows: int = 2000) -> Story:
    from ordinance.examples.credit_risk import write_version

    home = base / ".ordinance"
    (base).mkdir(parents=True, exist_ok=True)
    (base / "signoff.yaml").write_text(yaml.safe_dump(SIGNOFF, sort_keys=False))
    ws = init_workspace(
        home,
        origin="ordinance.local/console",
        policies={
            "staging": ["ordinance:baseline"],
            "production": ["ordinance:baseline", str(base / "signoff.yaml")],
        },
    )
    keys = base / "keys"
    keys.mkdir()
    generate_key(keys / "admin.key", "admin@bank.example")
    generate_key(keys / "vera.key", "vera@bank.example")
    story = Story(
        model=EVIL_NAME if hostile else "credit-risk",
        hostile=hostile,
        home=home,
        keys=keys,
        tokens={},
        admin_key=keys / "admin.key",
        vera_key=keys / "vera.key",
    )
    try:
        from ordinance.tokens import TokenStore

        tokens = TokenStore(ws.engine())
        for who, identity, scope in (
            ("rita", "rita@bank.example", "member"),
            ("vera", "vera@bank.example", "member"),
            ("admin", "admin@bank.example", "admin"),
            ("alice", "alice@bank.example", "member"),
            ("reader", "auditor@bank.example", "reader"),
            ("ci", "ci@bank.example", "ci"),
        ):
            story.tokens[who] = tokens.create(identity, scope)[0]
        t0 = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
        apply_roster(
            ws,
            Roster.from_dict(
                {"apiVersion": "ordinance/v1", "kind": "Roster", "members": roster_members(story)}
            ),
            actor="bootstrap",
            now=t0,
        )
        for version, variant, parent in (("1.0.0", "proxy", None), ("1.1.0", "fair", "1.0.0")):
            w = write_version(
                base / f"v{version}", version=version, variant=variant, rows=rows, parent=parent
            )
            if hostile:
                _make_hostile(w.manifest)
            ws.register(w.manifest)
        registry = ws.registry()
        name = EVIL_NAME if hostile else "credit-risk"
        for version in ("1.0.0", "1.1.0"):  # CI's `ordinance check --stage production`
            result = ws.gate().evaluate(
                registry.get_version(name, version), "production", datetime.now(UTC)
            )
            assert result.evaluation is not None
            ws.record_evaluation(result.evaluation)
    finally:
        ws.close()
    return story


def _make_hostile(manifest: Path) -> None:
    doc = yaml.safe_load(manifest.read_text())
    doc["model"]["name"] = EVIL_NAME
    doc["model"]["description"] = EVIL_DESC
    doc["model"]["owner"] = EVIL_OWNER
    doc["model"]["tags"] = ["<b onmouseover=alert('tag')>t</b>"]
    doc["metrics"] = {EVIL_METRIC: 0.5, **doc["metrics"]}
    doc["documentation"]["summary"] = "<script>alert('summary')</script>"
    doc["lineage"]["code"]["repository"] = EVIL_URL
    doc["lineage"]["datasets"][0]["uri"] = EVIL_URL
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


def open_ws(story: Story) -> Workspace:
    return Workspace.open(story.home)
