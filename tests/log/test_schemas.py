"""The demo's log, end to end: every entry validates against its predicate's JSON Schema
(docs/schemas/log/), the log passes deep verification with only its vkey, and so does the
exported bundle through the CLI (`log verify --bundle B --vkey K --deep`, nothing else)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from ordinance._cli import main
from ordinance.log import TransparencyLog

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas" / "log"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TransparencyLog, str]:
    from ordinance import demo as demo_mod
    from ordinance.approvals import approve
    from ordinance.errors import OrdinanceError
    from ordinance.signing import Ed25519Signer
    from ordinance.workspace import init_workspace

    directory = tmp_path_factory.mktemp("demo")
    ws = init_workspace(directory / ".ordinance", origin="ordinance.local/demo")
    state = demo_mod.DemoState(directory=directory, ws=ws)
    for step in demo_mod._steps():
        # reports write no log entries; explain's only entries are evidence attachments,
        # written below directly (explain itself is exercised by the metrics tests)
        if step.__name__ in ("step_reports", "step_explain"):
            continue
        step(state, 600, 7, lambda _s: None)
    note = directory / "review-notes.md"
    note.write_text("# independent review\n")
    ws.attach_evidence("credit-risk", "1.1.0", note, kind="validation_report", actor="demo")
    # one refused submission: an approval signed by a key no roster lists
    with pytest.raises(OrdinanceError):
        approve(
            ws,
            "credit-risk",
            "1.1.0",
            "production",
            Ed25519Signer.generate("eve@x"),
            now=datetime.now(UTC),
        )
    # one decline (an approver's signed "no" with a reason), by the validator's demo key
    from ordinance.approvals import decline
    from ordinance.signing import load_signer

    decline(
        ws,
        "credit-risk",
        "1.1.0",
        "staging",
        load_signer(directory / "keys" / "vera.key"),
        "declined for staging: the age gap needs a second look",
        now=datetime.now(UTC),
    )
    # a waiver request and its decline (the server's records)
    from datetime import timedelta

    from ordinance.approvals import decline_waiver_request, request_waiver

    asked = request_waiver(
        ws,
        "credit-risk",
        "1.1.0",
        "fairness-false-positive-rate",
        requester="dev@bank.example",
        justification="the age gap is a sampling artefact",
        expires_at=datetime.now(UTC) + timedelta(days=7),
        stages=["production"],
        now=datetime.now(UTC),
    )
    decline_waiver_request(
        ws,
        asked.digest,
        reviewer="rita@bank.example",
        reason="show the artefact first, then ask again",
        now=datetime.now(UTC),
    )
    log = ws.audit_log()
    vkey = ws.vkey()
    return directory, log, vkey


def _schemas() -> dict[str, dict[str, object]]:
    out = {}
    for path in SCHEMAS.glob("*-v1.schema.json"):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        ptype = schema["properties"].get("predicateType", {}).get("const")  # type: ignore[union-attr]
        if ptype:
            out[str(ptype)] = schema
    return out


def test_every_entry_validates(demo: tuple[Path, TransparencyLog, str]) -> None:
    _dir, log, _vkey = demo
    schemas = _schemas()
    envelope = json.loads((SCHEMAS / "envelope-v1.schema.json").read_text())
    seen = set()
    for entry in log.entries():
        env = json.loads(entry.envelope)
        jsonschema.validate(env, envelope)
        stmt = json.loads(base64.b64decode(env["payload"]))
        assert stmt["predicateType"] in schemas, stmt["predicateType"]
        jsonschema.validate(stmt, schemas[stmt["predicateType"]])
        seen.add(stmt["predicateType"])
    # the demo writes (nearly) every kind of entry
    assert len(seen) >= 8, sorted(seen)


def test_demo_log_verifies_deep_with_only_its_vkey(
    demo: tuple[Path, TransparencyLog, str], tmp_path: Path
) -> None:
    directory, log, vkey = demo
    report = log.verify(vkey, deep=True)
    assert report.ok, report.reason
    bundle = directory / "audit-bundle"
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    assert (
        main(
            [
                "log",
                "verify",
                "--bundle",
                str(bundle),
                "--vkey",
                str(tmp_path / "log.vkey"),
                "--deep",
            ]
        )
        == 0
    )
