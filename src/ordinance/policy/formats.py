"""Output formats for evaluations: pure functions from an Evaluation to text.

``text`` (people), ``json`` (the stable schema of :meth:`Evaluation.to_dict`), ``sarif``
(SARIF 2.1.0 for code-scanning dashboards), ``junit`` (one testcase per rule, passes
included) and ``github`` (workflow commands, plus a Markdown step summary from
:func:`render_markdown`). :func:`explain_pack` renders a pack for a reviewer.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ordinance.policy.evaluate import Evaluation, Finding
from ordinance.policy.pack import PolicyPack
from ordinance.policy.results import Status

__all__ = [
    "FORMATS",
    "explain_pack",
    "render",
    "render_github",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_sarif",
    "render_text",
    "sarif_log",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://example.invalid/ordinance/docs/policies"


def _label(ev: Evaluation) -> str:
    return f"{ev.version.ref} → {ev.stage}"


def _headline(ev: Evaluation) -> str:
    c = ev.counts()
    parts = [f"{n} {s}" for s, n in c.items() if n]
    return f"{_label(ev)}: {ev.verdict.upper()} ({', '.join(parts)}; {len(ev.findings)} rules)"


# --------------------------------------------------------------------------- text / json


def render_text(ev: Evaluation) -> str:
    lines = [_headline(ev)]
    for p in ev.packs:
        lines.append(f"policy {p.name} {p.version}  {p.uri}  sha256:{p.sha256[:16]}…")
    width = max((len(f.key) for f in ev.findings), default=10)
    for f in ev.findings:
        sev = "" if f.status in (Status.PASS, Status.NOT_APPLICABLE) else f" [{f.severity}]"
        lines.append(f"  {f.status.upper():<14} {f.key:<{width}}  {f.result.detail}{sev}")
        if f.waiver is not None:
            lines.append(
                f"  {'':<14} {'':<{width}}  waived by {f.waiver.id} ({f.waiver.approved_by}, "
                f"until {f.waiver.expires_at.date().isoformat()}): {f.waiver.justification}"
            )
        if f.blocking or f.warning:
            lines.append(f"  {'':<14} {'':<{width}}  {f.spec.text}")
            if f.spec.references:
                lines.append(f"  {'':<14} {'':<{width}}  see {'; '.join(f.spec.references)}")
    for w in ev.waivers:
        lines.append(f"waiver {w.waiver.id} ({w.waiver.rule}): {w.status} — {w.detail}")
    return "\n".join(lines) + "\n"


def render_json(ev: Evaluation) -> str:
    return json.dumps(ev.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


# --------------------------------------------------------------------------- SARIF


def _uri(file: str, root: Path | None) -> str:
    path = Path(file)
    if not path.is_absolute():
        return path.as_posix()
    if root is not None:
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_uri()


def _sarif_kind_level(f: Finding) -> tuple[str, str]:
    if f.status == Status.PASS:
        return "pass", "none"
    if f.status == Status.NOT_APPLICABLE:
        return "notApplicable", "none"
    level = "error" if f.severity == "block" else "warning"
    return "fail", level


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def sarif_log(ev: Evaluation, *, root: Path | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log: one reportingDescriptor per rule, one result per rule (passes
    included, ``kind: pass``); waived results carry an accepted external suppression."""
    from ordinance import __version__

    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for i, f in enumerate(ev.findings):
        rules.append(
            {
                "id": f.key,
                "name": f.spec.type,
                "shortDescription": {"text": f.spec.text},
                "fullDescription": {"text": f.spec.describe()},
                "helpUri": INFORMATION_URI,
                "defaultConfiguration": {"level": "error" if f.severity == "block" else "warning"},
                "properties": {"tags": list(f.spec.references), "type": f.spec.type},
            }
        )
        kind, level = _sarif_kind_level(f)
        result: dict[str, Any] = {
            "ruleId": f.key,
            "ruleIndex": i,
            "kind": kind,
            "level": level,
            "message": {"text": f"{ev.version.ref}: {f.result.detail}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.spec.source.file, root)},
                        "region": {"startLine": f.spec.source.line or 1},
                    },
                    "logicalLocations": [{"fullyQualifiedName": ev.version.ref, "kind": "module"}],
                }
            ],
            "partialFingerprints": {"ordinanceRule/v1": f"{f.key}:{ev.version.model.name}"},
            "properties": _jsonable(
                {
                    "status": str(f.status),
                    "severity": f.severity,
                    "measured": f.result.measured,
                    "threshold": f.result.threshold,
                    "evidence": list(f.result.evidence),
                }
            ),
        }
        if f.waiver is not None:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{f.waiver.id}: {f.waiver.justification} "
                    f"(approved by {f.waiver.approved_by}, expires "
                    f"{f.waiver.expires_at.isoformat()})",
                }
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ordinance",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": {
                    "id": f"ordinance/check/{ev.version.model.name}/{ev.stage}/{ev.version.version}"
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "endTimeUtc": ev.to_dict()["evaluated_at"],
                    }
                ],
                "results": results,
                "properties": {
                    "model": ev.version.model.name,
                    "version": ev.version.version,
                    "stage": ev.stage,
                    "verdict": ev.verdict,
                    "policies": [p.to_dict() for p in ev.packs],
                },
            }
        ],
    }


def render_sarif(ev: Evaluation, *, root: Path | None = None) -> str:
    return json.dumps(sarif_log(ev, root=root), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- JUnit


def render_junit(ev: Evaluation) -> str:
    """JUnit XML: a testsuite per pack, a testcase per rule. ``fail`` of a block rule is a
    ``<failure>``, ``error`` an ``<error>``, ``waived`` and ``not_applicable`` are
    ``<skipped>``; ``warn`` passes with the warning in ``<system-out>``."""
    root = ET.Element("testsuites", name=f"ordinance check {_label(ev)}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for pack in ev.packs:
        mine = [f for f in ev.findings if f.pack == pack.name]
        suite = ET.SubElement(
            root, "testsuite", name=pack.name, timestamp=ev.to_dict()["evaluated_at"]
        )
        props = ET.SubElement(suite, "properties")
        for k, v in (
            ("model", ev.version.model.name),
            ("version", ev.version.version),
            ("stage", ev.stage),
            ("verdict", ev.verdict),
            ("policy.sha256", pack.sha256),
        ):
            ET.SubElement(props, "property", name=k, value=v)
        counts = {"tests": len(mine), "failures": 0, "errors": 0, "skipped": 0}
        for f in mine:
            case = ET.SubElement(
                suite, "testcase", classname=f"ordinance.{pack.name}", name=f.spec.id, time="0"
            )
            measured = json.dumps(f.result.measured, default=str)
            body = f"{f.result.detail}\nmeasured: {measured}\n{f.spec.text}"
            if f.status == Status.FAIL:
                counts["failures"] += 1
                ET.SubElement(
                    case, "failure", message=f.result.detail, type=f.spec.type
                ).text = body
            elif f.status == Status.ERROR:
                counts["errors"] += 1
                ET.SubElement(case, "error", message=f.result.detail, type=f.spec.type).text = body
            elif f.status in (Status.WAIVED, Status.NOT_APPLICABLE):
                counts["skipped"] += 1
                why = (
                    f"waived by {f.waiver.id}: {f.waiver.justification}"
                    if f.waiver is not None
                    else f"not applicable: {f.result.detail}"
                )
                ET.SubElement(case, "skipped", message=why)
            if f.status == Status.WARN:
                ET.SubElement(case, "system-out").text = f"warning: {body}"
            elif f.status == Status.PASS:
                ET.SubElement(case, "system-out").text = f"pass: {f.result.detail}"
        for k, n in counts.items():
            suite.set(k, str(n))
            totals[k] += n
    for k, n in totals.items():
        root.set(k, str(n))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- GitHub


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render_github(ev: Evaluation, *, root: Path | None = None) -> str:
    """GitHub Actions workflow commands: ``::error`` for blocking results, ``::warning`` for
    warnings, ``::notice`` for waived ones and for the verdict."""
    lines = []
    for f in ev.findings:
        if f.blocking:
            cmd = "error"
        elif f.warning:
            cmd = "warning"
        elif f.status == Status.WAIVED:
            cmd = "notice"
        else:
            continue
        props = {
            "title": f"ordinance {f.key} ({f.status})",
            "file": _uri(f.spec.source.file, root),
            "line": str(f.spec.source.line or 1),
        }
        prop_text = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items())
        text = f"{ev.version.ref}: {f.result.detail}"
        if f.waiver is not None:
            text += f" (waived by {f.waiver.id}: {f.waiver.justification})"
        lines.append(f"::{cmd} {prop_text}::{_escape_data(text)}")
    lines.append(f"::notice title=ordinance verdict::{_escape_data(_headline(ev))}")
    return "\n".join(lines) + "\n"


_ICON = {
    Status.PASS: "✅",
    Status.FAIL: "❌",
    Status.WARN: "⚠️",
    Status.WAIVED: "🟡",
    Status.NOT_APPLICABLE: "➖",
    Status.ERROR: "🛑",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(ev: Evaluation) -> str:
    """A Markdown summary (for ``$GITHUB_STEP_SUMMARY`` or a merge request comment)."""
    out = [
        f"## Ordinance check: `{ev.version.ref}` → `{ev.stage}`: **{ev.verdict.upper()}**",
        "",
        ", ".join(f"{n} {s}" for s, n in ev.counts().items() if n),
        "",
        "| | rule | severity | result | references |",
        "|---|---|---|---|---|",
    ]
    for f in ev.findings:
        detail = f.result.detail
        if f.waiver is not None:
            detail += f" — waived by {f.waiver.id} until {f.waiver.expires_at.date()}"
        out.append(
            f"| {_ICON[f.status]} {f.status} | `{f.key}` | {f.severity} | {_cell(detail)} | "
            f"{_cell('; '.join(f.spec.references))} |"
        )
    if ev.waivers:
        out += ["", "| waiver | rule | status | detail |", "|---|---|---|---|"]
        for w in ev.waivers:
            out.append(f"| {w.waiver.id} | `{w.waiver.rule}` | {w.status} | {_cell(w.detail)} |")
    out += [
        "",
        "Policies: "
        + ", ".join(f"`{p.name}` {p.version} (sha256 `{p.sha256[:12]}…`)" for p in ev.packs),
        "",
    ]
    return "\n".join(out)


FORMATS: dict[str, Callable[[Evaluation], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
    "github": render_github,
    "markdown": render_markdown,
}


def render(ev: Evaluation, fmt: str) -> str:
    """Render ``ev`` in one of :data:`FORMATS`."""
    try:
        return FORMATS[fmt](ev)
    except KeyError:
        from ordinance.errors import InputError

        raise InputError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}") from None


# --------------------------------------------------------------------------- explain


def explain_pack(pack: PolicyPack) -> str:
    """The pack in plain sentences, for a reviewer who does not read YAML."""
    lines = [
        f"Policy pack {pack.name} {pack.version}"
        + (f" (owner: {pack.owner})" if pack.owner else "")
    ]
    if pack.description:
        lines.append(pack.description.strip())
    if pack.frameworks:
        lines.append(
            f"Maps to: {'; '.join(pack.frameworks)}. "
            "It supports, and does not certify, compliance with them."
        )
    lines.append(f"Applies to: {pack.scope.describe()}.")
    for s in pack.extends:
        lines.append(f"Builds on {s.uri} (sha256 {s.sha256[:12]}…).")
    lines.append(f"File: {pack.uri} (sha256 {pack.sha256}).")
    lines.append("")
    lines.append(f"{len(pack.rules)} rules:")
    for n, r in enumerate(pack.rules, 1):
        verb = "Blocks promotion unless" if r.severity == "block" else "Warns unless"
        lines.append(f"{n:>3}. [{r.id}] {verb} {r.describe()}.")
        if r.message:
            lines.append(f"     Why: {r.message}")
        for who, scope in r.scopes:
            if who.startswith("rule"):
                lines.append(f"     Only for {scope.describe()}.")
        if r.references:
            lines.append(f"     References: {'; '.join(r.references)}.")
    return "\n".join(lines) + "\n"
