"""The gate (issue 12): `check --stage S` and `promote --to S` agree, and it fails closed.

The property test drives the real commands (`ordinance check` through the CLI entry point,
`ordinance.promote` through the Python API) on one real SQLite workspace, rewriting its
config between examples: stages with and without packs, exclusive or not, signed waivers and
approvals present or not, risk tiers declared or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import run_cli, small_manifest
from ordinance import promote
from ordinance.approvals import Member, Roster, apply_roster, approve, waive
from ordinance.errors import InfrastructureError, ManifestError
from ordinance.signing import Ed25519Signer, generate_key, load_signer
from ordinance.workspace import Workspace, init_workspace

PASSING = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: passing, version: "1"}
rules:
  - id: auc
    type: metrics.threshold
    params: {metric: auc, min: 0.5}
"""
FAILING = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: failing, version: "1"}
rules:
  - id: auc-high
    type: metrics.threshold
    params: {metric: auc, min: 0.99}
"""
APPROVALS = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: approvals, version: "1"}
rules:
  - id: validator
    type: approvals.required
    params: {roles: {model-validator: 1}}
"""
HIGH_ONLY = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: high-only, version: "1"}
scope: {risk_tiers: [high]}
rules:
  - id: auc
    type: metrics.threshold
    params: {metric: auc, min: 0.5}
"""
PACKS = {"passing": PASSING, "failing": FAILING, "approvals": APPROVALS, "high-only": HIGH_ONLY}
STAGES = ("development", "staging", "production", "archived")


@dataclass
class Env:
    home: Path
    base: Path
    vera: Ed25519Signer
    rita: Ed25519Signer
    versions: count  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    base = tmp_path_factory.mktemp("gate")
    home = base / ".ordinance"
    init_workspace(home).close()
    for name, text in PACKS.items():
        (home / f"{name}.yaml").write_text(text)
    keys = base / "keys"
    keys.mkdir()
    generate_key(keys / "vera.key", "vera@example.com")
    generate_key(keys / "rita.key", "rita@example.com")
    vera, rita = load_signer(keys / "vera.key"), load_signer(keys / "rita.key")
    with Workspace.open(home) as ws:
        roster = Roster(
            (
                Member("vera@example.com", frozenset({"model-validator"}), (vera.verifier,)),
                Member("rita@example.com", frozenset({"risk-officer"}), (rita.verifier,)),
            )
        )
        apply_roster(ws, roster, actor="ops", now=datetime.now(UTC) - timedelta(hours=1))
    return Env(home, base, vera, rita, count(1))


def _write_config(home: Path, policies: dict[str, list[str]], exclusive: list[str]) -> None:
    cfg = yaml.safe_load((home / "config.yaml").read_text())
    cfg["policies"] = {s: [f"{p}.yaml" for p in ps] for s, ps in policies.items()}
    cfg["exclusive_stages"] = exclusive
    (home / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


configs = st.fixed_dictionaries(
    {
        "staging": st.lists(st.sampled_from(sorted(PACKS)), max_size=2, unique=True),
        "production": st.lists(st.sampled_from(sorted(PACKS)), max_size=2, unique=True),
        "exclusive": st.lists(st.sampled_from(["staging", "production"]), unique=True),
        "stage": st.sampled_from(["staging", "production"]),
        "tier": st.sampled_from([None, "high", "minimal"]),
        "approved": st.booleans(),
        "waived": st.booleans(),
    }
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cfg=configs)
def test_check_predicts_promote(env: Env, cfg: dict[str, Any]) -> None:
    policies = {s: cfg[s] for s in ("staging", "production") if cfg[s]}
    _write_config(env.home, policies, cfg["exclusive"])
    n = next(env.versions)
    version = f"1.0.{n}"
    model: dict[str, Any] = {"name": "toy", "owner": "team-a", "tags": ["t"]}
    if cfg["tier"] is not None:
        model["risk_tier"] = cfg["tier"]
    manifest = small_manifest(env.base / f"v{n}", version=version, model=model)
    stage = cfg["stage"]
    with Workspace.open(env.home) as ws:
        try:
            ws.register(manifest)
        except ManifestError as exc:
            # a configured pack scopes on the tier and the manifest declares none
            assert cfg["tier"] is None and "risk_tier is required" in exc.message
            assume(False)
        now = datetime.now(UTC)
        if cfg["approved"]:
            approve(ws, "toy", version, stage, env.vera, "ok", now=now - timedelta(seconds=2))
        if cfg["waived"]:
            waive(
                ws,
                "toy",
                version,
                "auc-high",
                "accepted for this test run",
                now + timedelta(days=1),
                env.rita,
                now=now - timedelta(seconds=1),
            )
    r = run_cli("--home", env.home, "check", f"toy@{version}", "--stage", stage, "--format", "json")
    assert r.code in (0, 1), r.err
    checked = json.loads(r.out)["verdict"]
    with Workspace.open(env.home) as ws:
        decision = promote(ws, "toy", version, stage, "ci@example.com")
    assert decision.verdict == checked, (cfg, decision.reasons)
    assert decision.allowed == (r.code == 0), (cfg, decision.reasons, r.err)
    if not policies.get(stage):
        # nothing configured: explicit, and an exclusive stage stays closed
        assert checked == ("fail" if stage in cfg["exclusive"] else "unguarded")


# --------------------------------------------------------------------------- scenarios


def _ws(tmp_path: Path, policies: dict[str, list[str]] | None = None) -> Path:
    home = tmp_path / ".ordinance"
    init_workspace(home, policies=policies).close()
    return home


def test_unconfigured_stage_is_visible_not_a_silent_pass(tmp_path: Path) -> None:
    """Hole 1: `policies: {production: [baseline]}`; check and promote to staging agree."""
    home = _ws(tmp_path, {"production": ["ordinance:baseline"]})
    with Workspace.open(home) as ws:
        ws.register(small_manifest(tmp_path / "v"))
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--format", "json")
    assert r.code == 0 and json.loads(r.out)["verdict"] == "unguarded"
    assert "no policy is configured for staging" in r.err
    with Workspace.open(home) as ws:
        d = promote(ws, "toy", "1.0.0", "staging", "ci@example.com")
    assert d.allowed and d.verdict == "unguarded"
    assert any("no policy is configured" in n for n in d.notes)


def test_exclusive_stage_never_opens_by_default(tmp_path: Path) -> None:
    home = _ws(tmp_path, {})
    with Workspace.open(home) as ws:
        ws.register(small_manifest(tmp_path / "v"))
        d = promote(ws, "toy", "1.0.0", "production", "ci@example.com")
    assert not d.allowed and "never opens by default" in d.reasons[0]
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "production")
    assert r.code == 1 and "never opens by default" in r.err


def test_missing_risk_tier_is_refused_when_a_pack_scopes_on_it(tmp_path: Path) -> None:
    """Hole 2: no risk_tier no longer means `limited` (and PASS with 12 not_applicable)."""
    home = _ws(tmp_path, {"production": ["ordinance:eu-ai-act-high-risk"]})
    model = {"name": "toy", "owner": "team-a"}
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "v", model=model))
    assert r.code == 2, r.err
    assert "risk_tier is required" in r.err and "eu-ai-act" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_missing_fact_errors_and_blocks_in_evaluation(tmp_path: Path) -> None:
    """A version registered before the pack was configured still cannot slip through."""
    home = _ws(tmp_path, {"staging": ["passing.yaml"]})
    (home / "passing.yaml").write_text(PASSING)
    (home / "high-only.yaml").write_text(HIGH_ONLY)
    model = {"name": "toy", "owner": "team-a"}
    with Workspace.open(home) as ws:
        ws.register(small_manifest(tmp_path / "v", model=model))
    _write_config(home, {"staging": ["high-only"]}, ["production"])
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--format", "json")
    d = json.loads(r.out)
    assert r.code == 1 and d["verdict"] == "fail"
    assert d["results"][0]["status"] == "error"
    assert "declares no risk tier" in d["results"][0]["detail"]


def test_no_rule_applied_is_not_a_pass(tmp_path: Path) -> None:
    home = _ws(tmp_path, {"staging": ["high-only.yaml"]})
    (home / "high-only.yaml").write_text(HIGH_ONLY)
    model = {"name": "toy", "owner": "team-a", "risk_tier": "minimal"}
    with Workspace.open(home) as ws:
        ws.register(small_manifest(tmp_path / "v", model=model))
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging")
    assert r.code == 1 and "nothing was checked, which is not a pass" in r.err


def test_unknown_risk_tier_and_configurable_tiers(tmp_path: Path) -> None:
    home = _ws(tmp_path, {"staging": ["ordinance:baseline"]})
    cfg = yaml.safe_load((home / "config.yaml").read_text())
    cfg["risk_tiers"] = {"low": [], "medium": [], "high": ["ordinance:baseline"]}
    (home / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    bad = {"name": "toy", "owner": "team-a", "risk_tier": "limited"}
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "a", model=bad))
    assert r.code == 2 and "is not one this workspace defines (low, medium, high)" in r.err
    none = {"name": "toy", "owner": "team-a"}
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "b", model=none))
    assert r.code == 2 and "risk_tier is required" in r.err
    ok = {"name": "toy", "owner": "team-a", "risk_tier": "medium"}
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "c", model=ok))
    assert r.code == 0, r.err


def test_no_unlogged_writes(tmp_path: Path) -> None:
    """Hole 6: without the log key, register and check refuse and write nothing."""
    home = _ws(tmp_path)
    (home / "keys" / "log.key").rename(tmp_path / "log.key.bak")
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "v"))
    assert r.code == 3 and "nothing was written" in r.err
    with Workspace.open(home) as ws:
        assert ws.registry().list_models() == []
        assert not any((home / "evidence").rglob("*.*"))
        with pytest.raises(InfrastructureError, match="no log key"):
            ws.register(small_manifest(tmp_path / "v"))
    (tmp_path / "log.key.bak").rename(home / "keys" / "log.key")
    with Workspace.open(home) as ws:
        ws.register(small_manifest(tmp_path / "v"))
    (home / "keys" / "log.key").rename(tmp_path / "log.key.bak")
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging")
    assert r.code == 3 and "--dry-run" in r.err
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--dry-run")
    assert r.code in (0, 1) and "dry run: the evaluation was not recorded" in r.err
    with Workspace.open(home) as ws:
        assert ws.registry().evaluations("toy", "1.0.0") == []
