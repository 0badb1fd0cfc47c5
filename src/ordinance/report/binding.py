"""Documents the log vouches for: a rendering record per output, and checking a file against it.

Rendering a report or card appends one in-toto statement (predicate type
:data:`ordinance.uris.RENDERING`) whose subject is the output's SHA-256 and whose predicate
names everything the output was built from: the context (canonical JSON digest), the
template set (digest, and whether it is Ordinance's shipped set), the log size and root it
was built from, the policies and evidence. Its ``renderedAt`` is the signed time of the
rendering.

:func:`verify_document` is the other half: given a file, it finds the rendering record for
that exact digest, proves the record's inclusion under a checkpoint signed by the verifier
key, checks the record's own signature, refuses an output of custom templates (unless
allowed), and for a PDF checks that the embedded JSON record is the context the log names.
A template override, an edited file or a render that was never logged fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance._canonical import canonical_json
from ordinance.errors import InputError, NotFoundError, VerificationError

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = [
    "EMBEDDED_RECORD_NAME",
    "RenderRecord",
    "VerifiedDocument",
    "context_digest",
    "record_rendering",
    "rendering_statement",
    "template_digest",
    "verify_document",
]

#: The file name of the JSON record a PDF carries as a PDF/A-3 associated file.
EMBEDDED_RECORD_NAME = "ordinance-record.json"
SUBJECT_NAME = "ordinance:rendering"


def context_digest(context: Mapping[str, Any]) -> str:
    """SHA-256 of the context's canonical JSON (RFC 8785)."""
    return hashlib.sha256(canonical_json(dict(context))).hexdigest()


def template_digest(override: Path | None = None) -> str:
    """SHA-256 over every template file the search path resolves (name and content digest)."""
    from ordinance.report._templates import environment

    env = environment(override)
    loader = env.loader
    assert loader is not None
    lines = []
    for name in sorted(loader.list_templates()):
        source, _filename, _uptodate = loader.get_source(env, name)
        lines.append(f"{name}\0{hashlib.sha256(source.encode('utf-8')).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class RenderRecord:
    """What one rendering produced and what it was built from."""

    document: str
    format: str
    output_sha256: str
    output_size: int
    context_sha256: str
    templates_sha256: str
    shipped_templates: bool
    context: Mapping[str, Any]

    def predicate(self, rendered_at: datetime) -> dict[str, Any]:
        from ordinance import __version__
        from ordinance.report.context import ts

        ctx = self.context
        details = ctx.get("details") or {}
        log = ctx.get("log") or {}
        repro = ctx.get("reproducibility") or {}
        return {
            "document": self.document,
            "format": self.format,
            "model": details.get("name"),
            "version": details.get("version"),
            "output": {"sha256": self.output_sha256, "size": self.output_size},
            "inputs": {
                "context": {"sha256": self.context_sha256},
                "templates": {
                    "sha256": self.templates_sha256,
                    "shipped": self.shipped_templates,
                },
                "log": {"size": log.get("size"), "root": log.get("root_base64")},
                "identity": {"sha256": (details.get("identity") or {}).get("sha256")},
                "policies": [
                    {"name": p["name"], "sha256": p["sha256"]} for p in repro.get("policies") or []
                ],
                "evidence": [
                    {"name": f"{e['kind']}/{e['name']}", "sha256": e["sha256"]}
                    for e in repro.get("evidence") or ctx.get("evidence") or []
                ],
            },
            "verdict": ctx.get("verdict"),
            "stage": (ctx.get("scope") or {}).get("stage"),
            "asOf": ctx.get("date"),
            "renderedAt": ts(rendered_at),
            "generator": {"name": "ordinance", "version": __version__},
        }


def rendering_statement(record: RenderRecord, rendered_at: datetime) -> dict[str, Any]:
    return {
        "_type": uris.STATEMENT_TYPE,
        "subject": [{"name": SUBJECT_NAME, "digest": {"sha256": record.output_sha256}}],
        "predicateType": uris.RENDERING,
        "predicate": record.predicate(rendered_at),
    }


def make_record(
    document: str,
    fmt: str,
    context: Mapping[str, Any],
    output: bytes,
    templates: Path | None,
) -> RenderRecord:
    used = template_digest(templates)
    shipped = used if templates is None else template_digest(None)
    return RenderRecord(
        document=document,
        format=fmt,
        output_sha256=hashlib.sha256(output).hexdigest(),
        output_size=len(output),
        context_sha256=context_digest(context),
        templates_sha256=used,
        shipped_templates=used == shipped,
        context=context,
    )


def record_rendering(ws: Workspace, record: RenderRecord, now: datetime) -> int | None:
    """Append the rendering record to the workspace's log (``None`` without a log key)."""
    return ws.append_to_log(rendering_statement(record, now))


@dataclass(frozen=True)
class VerifiedDocument:
    path: str
    sha256: str
    log_index: int
    checkpoint_size: int
    document: str
    format: str
    model: str | None
    version: str | None
    verdict: str | None
    rendered_at: str | None
    templates: str
    embedded_record: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "path": self.path,
            "sha256": self.sha256,
            "log_index": self.log_index,
            "checkpoint_size": self.checkpoint_size,
            "document": self.document,
            "format": self.format,
            "model": self.model,
            "version": self.version,
            "verdict": self.verdict,
            "rendered_at": self.rendered_at,
            "templates": self.templates,
            "embedded_record": self.embedded_record,
        }


def embedded_record(pdf: bytes) -> bytes | None:
    """The JSON record a PDF carries as an embedded file (``None`` if it has none)."""
    import io

    try:
        import pypdf
    except ImportError:  # pragma: no cover - pypdf comes with the pdf extra
        from ordinance.errors import MissingExtraError

        raise MissingExtraError("pdf", "pypdf") from None
    try:
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        files = reader.attachments
    except Exception as exc:  # pypdf raises many types on a damaged file
        raise VerificationError(f"not a readable PDF: {exc}") from None
    data = files.get(EMBEDDED_RECORD_NAME)
    return data[0] if data else None


def verify_document(
    ws: Workspace,
    path: Path,
    *,
    vkey: str | None = None,
    allow_custom_templates: bool = False,
) -> VerifiedDocument:
    """Check that the log vouches for the file at ``path`` (see the module docstring)."""
    from ordinance.log.proof import TlogProof, verify_tlog_proof
    from ordinance.log.store import TransparencyLog
    from ordinance.signing import Envelope, parse_vkey, verify_envelope

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if not ws.log_vkey_path.is_file() and vkey is None:
        raise NotFoundError("this workspace has no audit log to verify against")
    key_text = vkey if vkey is not None else ws.vkey()
    key = parse_vkey(key_text)
    log = TransparencyLog.reader(ws.engine(), key_text, ws.config.log_origin)
    found = None
    for entry in log.entries(predicate_type=uris.RENDERING):
        out = (entry.statement.get("predicate") or {}).get("output") or {}
        if out.get("sha256") == digest:
            found = entry
    if found is None:
        raise VerificationError(
            f"{path}: no rendering record in the log vouches for sha256:{digest}: the file "
            "was not rendered by Ordinance from this log, or it was changed afterwards"
        )
    proof = TlogProof.parse(log.prove(found.index))
    cp = verify_tlog_proof(proof, found.envelope, [key], origin=ws.config.log_origin)
    verify_envelope(Envelope.from_bytes(found.envelope), [key])
    return _checked(
        path, data, digest, found.index, found.statement, cp.size, allow_custom_templates
    )


def verify_document_in_bundle(
    bundle: Path, path: Path, *, vkey: str, allow_custom_templates: bool = False
) -> VerifiedDocument:
    """Check, offline, that an exported log bundle vouches for the file at ``path``: the
    bundle verifies against ``vkey`` (the log key the auditor trusts), and one of its
    rendering records, signed by that key, names the file's digest."""
    from ordinance.log.bundle import BundleSource, verify_bundle
    from ordinance.log.dsse import statement_info
    from ordinance.signing import Envelope, parse_vkey, verify_envelope

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    key = parse_vkey(vkey)
    report = verify_bundle(bundle, vkey)
    if not report.ok:
        raise VerificationError(f"{bundle}: the bundle does not verify: {report.reason}")
    found: tuple[int, bytes, Mapping[str, Any]] | None = None
    for batch in BundleSource(bundle).iter_entries():
        for index, raw, _ in batch:
            env = Envelope.from_bytes(raw)
            stmt = statement_info(env).statement
            if stmt.get("predicateType") != uris.RENDERING:
                continue
            out = (stmt.get("predicate") or {}).get("output") or {}
            if out.get("sha256") == digest:
                found = (index, raw, stmt)
    if found is None:
        raise VerificationError(
            f"{path}: no rendering record in {bundle} vouches for sha256:{digest}: the file "
            "was not rendered by Ordinance from this log, or it was changed afterwards"
        )
    verify_envelope(Envelope.from_bytes(found[1]), [key])
    return _checked(path, data, digest, found[0], found[2], report.size, allow_custom_templates)


def _checked(
    path: Path,
    data: bytes,
    digest: str,
    index: int,
    statement: Mapping[str, Any],
    checkpoint_size: int,
    allow_custom_templates: bool,
) -> VerifiedDocument:
    """What a rendering record says of the file, once the record is known to be logged."""
    pred = statement.get("predicate") or {}
    inputs = pred.get("inputs") or {}
    templates = inputs.get("templates") or {}
    if not templates.get("shipped") and not allow_custom_templates:
        raise VerificationError(
            f"{path}: logged at entry {index}, but rendered with custom templates "
            f"(sha256:{templates.get('sha256')}), not Ordinance's shipped ones; pass "
            "--allow-custom-templates to accept them"
        )
    has_record = False
    if pred.get("format") == "pdf":
        record = embedded_record(data)
        if record is None:
            raise VerificationError(f"{path}: the PDF carries no {EMBEDDED_RECORD_NAME}")
        want = (inputs.get("context") or {}).get("sha256")
        import json

        try:
            got = context_digest(json.loads(record))
        except ValueError:
            raise VerificationError(f"{path}: the embedded record is not JSON") from None
        if got != want:
            raise VerificationError(
                f"{path}: the embedded record (sha256:{got}) is not the one logged ({want})"
            )
        has_record = True
    return VerifiedDocument(
        path=str(path),
        sha256=digest,
        log_index=index,
        checkpoint_size=checkpoint_size,
        document=str(pred.get("document")),
        format=str(pred.get("format")),
        model=pred.get("model"),
        version=pred.get("version"),
        verdict=pred.get("verdict"),
        rendered_at=pred.get("renderedAt"),
        templates="shipped" if templates.get("shipped") else "custom",
        embedded_record=has_record,
    )
