"""Reports the log vouches for: rendering is logged, `ordinance report verify` checks a file
(HTML or PDF), a tampered template's or an edited file's output fails; PDFs are PDF/A-3b,
tagged, with the JSON record embedded."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from helpers import run_cli
from ordinance import uris
from ordinance.workspace import Workspace


@pytest.fixture(scope="module")
def home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo workspace (these tests append rendering records to its log)."""
    target = tmp_path_factory.mktemp("binding") / ".ordinance"
    shutil.copytree(demo_home, target)
    return target


def test_rendering_is_logged_and_verifies(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = run_cli("--home", home, "report", "credit-risk@1.1.0", "--out", out)
    assert res.code == 0, res.err
    html = out.read_text()
    with Workspace.open(home) as ws:
        log = ws.audit_log()
        last = log.entry(log.size() - 1)
        vkey = ws.vkey()
    assert last.predicate_type == uris.RENDERING
    pred = last.statement["predicate"]
    import hashlib

    assert pred["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert pred["inputs"]["templates"]["shipped"] is True
    assert pred["inputs"]["log"]["root"] in html  # the base64 root the report prints
    assert "ordinance report verify" in html and vkey in html
    res = run_cli("--home", home, "report", "verify", out, "--vkey", vkey, "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["ok"] is True and data["log_index"] == last.index
    assert data["model"] == "credit-risk" and data["version"] == "1.1.0"
    # rendering again gives the same bytes: rendering records are not inputs
    again = tmp_path / "r2.html"
    assert run_cli("--home", home, "report", "credit-risk@1.1.0", "--out", again).code == 0
    assert again.read_bytes() == out.read_bytes()


def test_edited_output_fails(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert run_cli("--home", home, "report", "credit-risk@1.0.0", "--out", out).code == 0
    out.write_text(out.read_text().replace("status-fail", "status-pass"))
    res = run_cli("--home", home, "report", "verify", out)
    assert res.code == 1 and "no rendering record" in res.err


def test_tampered_template_output_fails(home: Path, tmp_path: Path) -> None:
    """A template override that prints 'pass' for a failing version is logged as custom and
    fails verification; its output is not the shipped templates' output either."""
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text("<p>{{ details.ref }}: pass</p>\n")
    out = tmp_path / "fake.html"
    res = run_cli(
        "--home", home, "report", "credit-risk@1.0.0", "--templates", templates, "--out", out
    )
    assert res.code == 0, res.err
    res = run_cli("--home", home, "report", "verify", out)
    assert res.code == 1 and "custom templates" in res.err
    res = run_cli("--home", home, "report", "verify", out, "--allow-custom-templates")
    assert res.code == 0, res.err


def test_wrong_key_fails(home: Path, tmp_path: Path) -> None:
    from ordinance.signing import generate_key, load_signer

    out = tmp_path / "c.md"
    assert run_cli("--home", home, "card", "credit-risk@1.1.0", "--out", out).code == 0
    key = tmp_path / "other.key"
    generate_key(key, "ordinance.local/demo")
    other = load_signer(key).verifier.vkey
    res = run_cli("--home", home, "report", "verify", out, "--vkey", other)
    assert res.code == 1


pikepdf = pytest.importorskip("pikepdf")
pytest.importorskip("weasyprint")


def test_pdf_is_pdfa3b_tagged_with_the_record_and_verifies(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    res = run_cli("--home", home, "report", "credit-risk@1.1.0", "--format", "pdf", "--out", out)
    assert res.code == 0, res.err
    pdf = pikepdf.open(io.BytesIO(out.read_bytes()))
    meta = pdf.open_metadata()
    assert meta.get("pdfaid:part") == "3" and meta.get("pdfaid:conformance") == "B"
    assert meta.get("pdfuaid:part") == "1"
    assert "/StructTreeRoot" in pdf.Root and pdf.Root.MarkInfo.Marked
    assert str(pdf.Root.Lang) == "en" and pdf.Root.ViewerPreferences.DisplayDocTitle
    assert len(pdf.Root.OutputIntents) == 1
    (name,) = pdf.attachments.keys()
    assert name == "ordinance-record.json"
    spec = pdf.attachments[name]
    assert str(spec.obj.AFRelationship) == "/Data"
    record = json.loads(spec.get_file().read_bytes())
    assert record["details"]["ref"] == "credit-risk@1.1.0"
    assert record["scope"]["packs"][0]["name"] == "baseline"
    assert spec.obj.objgen in {a.objgen for a in pdf.Root.AF}
    res = run_cli("--home", home, "report", "verify", out, "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["embedded_record"] is True
    # change one byte of text in a content-free place: the digest no longer matches
    data = bytearray(out.read_bytes())
    data[-10:-9] = b" "
    out.write_bytes(bytes(data))
    assert run_cli("--home", home, "report", "verify", out).code == 1


def test_the_demos_bundle_vouches_for_the_demos_reports(demo_home: Path, tmp_path: Path) -> None:
    """An auditor with only the demo's exported bundle and log.vkey checks every report the
    demo wrote, offline (the bundle is exported after the reports are rendered); an edited
    copy fails."""
    directory = demo_home.parent
    vkey = (directory / "log.vkey").read_text().strip()
    reports = sorted((directory / "reports").iterdir())
    assert len(reports) >= 5
    for f in reports:
        r = run_cli("report", "verify", f, "--bundle", directory / "audit-bundle", "--vkey", vkey)
        assert r.code == 0, (f.name, r.err)
    edited = tmp_path / "edited.html"
    html = next(f for f in reports if f.name.endswith("-report.html"))
    edited.write_text(html.read_text().replace("credit-risk", "credit-r1sk", 1))
    r = run_cli("report", "verify", edited, "--bundle", directory / "audit-bundle", "--vkey", vkey)
    assert r.code == 1 and "no rendering record" in r.err
