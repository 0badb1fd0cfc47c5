"""The ``/v1`` API routes: thin over the core, one capability per route.

Synchronous routes run in the server's thread pool; every write is one database
transaction in the core (registration, attachment, evaluation, approval, promotion), so a
killed server leaves each of them done or not done.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ordinance.errors import AuthError, InputError
from ordinance.server.auth import Principal, require
from ordinance.storage import check_digest, receive_async

if TYPE_CHECKING:
    from ordinance.server._cache import ReadCache
    from ordinance.workspace import Workspace

T = TypeVar("T")

router = APIRouter(prefix="/v1")

Reader = Annotated[Principal, Depends(require("read"))]
_DIGEST = r"^[0-9a-f]{64}$"


def _ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


async def _cached(request: Request, key: Any, read: Callable[[], T], *, stamped: bool = False) -> T:
    """``read()`` (in the thread pool), or its answer from less than a second ago.

    Concurrent misses of one key share one read. ``stamped``: the answer depends only on
    what the log holds (a verified registry read), so it stays good while the log's size
    is what it was before the read; the size itself is one small query, read at most once
    a second (and again after every write this process answers)."""
    cache: ReadCache = request.app.state.reads
    hit = cache.get(key)
    if hit is not None:
        got: T = hit
        return got
    stamp: int | None = None
    if stamped:
        stamp = await _cached(request, ("log-size",), lambda: _ws(request).audit_log().size())
        stale = cache.stale(key)
        if stale is not None and stale[1] == stamp:
            cache.put(key, stale[0], cache.generation, stamp)  # good for another ttl
            kept: T = stale[0]
            return kept
    generation = cache.generation
    pending = cache.inflight.get(key)
    if pending is not None and pending[0] == generation:
        shared = await asyncio.shield(pending[1])
        if shared is not _FAILED:
            joined: T = shared
            return joined
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    cache.inflight[key] = (generation, fut)
    value: Any = _FAILED
    try:
        value = await run_in_threadpool(read)
        cache.put(key, value, generation, stamp)
        return value  # type: ignore[no-any-return]
    finally:
        fut.set_result(value)  # waiters of a failed read try on their own
        if cache.inflight.get(key, (None, None))[1] is fut:
            del cache.inflight[key]


_FAILED = object()


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- service


@router.get("/health", tags=["service"])
def health(request: Request) -> dict[str, Any]:
    """Liveness (no authentication): the log's origin, verifier key and size."""
    ws = _ws(request)
    log = ws.audit_log()
    return {"status": "ok", "origin": log.origin, "vkey": log.vkey, "size": log.size()}


@router.get("/whoami", tags=["service"])
def whoami(who: Reader) -> dict[str, Any]:
    """The caller's identity, scope and capabilities."""
    return {
        "identity": who.identity,
        "scope": who.scope,
        "via": who.via,
        "capabilities": sorted(who.capabilities),
    }


@router.get("/config", tags=["service"])
def config(request: Request, who: Reader) -> dict[str, Any]:
    """The workspace's stages and configured policy packs (what clients need to sign)."""
    from ordinance.gate import policy_digests

    ws = _ws(request)
    return {
        "stages": list(ws.config.stages),
        "initial_stage": ws.config.initial_stage,
        "exclusive_stages": list(ws.config.exclusive_stages),
        "policies": {s: list(p) for s, p in ws.config.policies.items()},
        "policy_digests": {s: policy_digests(ws, s) for s in ws.config.policies},
        "log_origin": ws.config.log_origin,
    }


# --------------------------------------------------------------------------- blobs


@router.head("/blobs/sha256/{digest}", tags=["evidence"])
def blob_exists(
    digest: Annotated[str, Field(pattern=_DIGEST)], request: Request, who: Reader
) -> Response:
    """200 when the blob is stored, 404 otherwise (clients skip uploads they need not do)."""
    return Response(status_code=200 if _ws(request).evidence.has(check_digest(digest)) else 404)


@router.put("/blobs/sha256/{digest}", tags=["evidence"])
async def upload_blob(
    digest: str, request: Request, who: Annotated[Principal, Depends(require("upload"))]
) -> dict[str, Any]:
    """Upload a blob under its SHA-256. The body is streamed to a spool file while hashed;
    a body that does not hash to ``digest`` is refused (422) and nothing is stored. Safe to
    retry: a blob already stored is not stored again."""
    check_digest(digest)
    ws = _ws(request)
    got = await receive_async(
        request.stream(), digest, request.app.state.spool, max_bytes=request.app.state.max_upload
    )
    try:
        created = await run_in_threadpool(ws.evidence.put, got.path, digest)
    finally:
        got.path.unlink(missing_ok=True)
    return {"sha256": digest, "size": got.size, "created": created}


@router.get("/blobs/sha256/{digest}", tags=["evidence"])
def download_blob(digest: str, request: Request, who: Reader) -> FileResponse:
    """The blob's bytes (verified against its digest when it came from object storage)."""
    path = _ws(request).evidence.open_path(check_digest(digest))
    return FileResponse(path, media_type="application/octet-stream")


# --------------------------------------------------------------------------- registry


class RegisterBody(_Body):
    manifest_name: str = Field(description="The manifest's file name, e.g. manifest.yaml")
    manifest: str = Field(description="The manifest's exact bytes, base64")
    files: dict[str, str] = Field(
        default_factory=dict,
        description="Every file the manifest references, by path relative to the manifest "
        "(POSIX), mapped to its SHA-256; each must have been uploaded first",
    )


@contextmanager
def _staged(ws: Workspace, files: dict[str, str], spool: Path) -> Iterator[Path]:
    """A temporary directory holding ``files`` (relative path → uploaded blob)."""
    depth = 0
    for rel in files:
        p = PurePosixPath(rel)
        if p.is_absolute() or not rel or "\\" in rel:
            raise InputError(f"file path {rel!r}: give paths relative to the manifest")
        ups = 0
        for part in p.parts:
            if part == "..":
                ups += 1
            else:
                break
        if ".." in p.parts[ups:]:
            raise InputError(f"file path {rel!r}: '..' only at the start")
        depth = max(depth, ups)
    with tempfile.TemporaryDirectory(dir=spool, prefix="stage.") as tmp:
        base = Path(tmp).joinpath(*[f"d{i}" for i in range(depth)]) if depth else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        for rel, digest in files.items():
            src = ws.evidence.open_path(check_digest(digest))
            dest = Path(os.path.normpath(base / rel))
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest)
            except OSError:
                import shutil

                shutil.copyfile(src, dest)
        yield base


def _confined(manifest: Path, spool: Path) -> None:
    """Every file the manifest references must be one of the uploaded files: a path that
    leaves the staging directory (``../../srv/ordinance/keys/log.key``) would make the
    server read its own files as evidence."""
    from ordinance.client import manifest_files

    stage = manifest.resolve().parent
    while stage.parent != spool.resolve() and stage != stage.parent:
        stage = stage.parent
    for rel, p in manifest_files(manifest).items():
        try:
            p.resolve().relative_to(stage)
        except ValueError:
            raise InputError(
                f"{rel}: the manifest references a file that was not uploaded"
            ) from None


def _missing(ws: Workspace, files: dict[str, str]) -> list[str]:
    return sorted({d for d in files.values() if not ws.evidence.has(check_digest(d))})


@router.post("/versions", tags=["registry"])
def register(
    body: RegisterBody,
    request: Request,
    who: Annotated[Principal, Depends(require("register"))],
) -> dict[str, Any]:
    """Register the version a manifest describes. The server re-reads the manifest against
    the uploaded files, recomputes the identity and every digest, and logs the registration
    in the same transaction as the registry rows. Identical re-registration is a no-op."""
    ws = _ws(request)
    name = PurePosixPath(body.manifest_name).name
    if not name or name in (".", ".."):
        raise InputError("manifest_name: give a file name")
    try:
        raw = base64.b64decode(body.manifest, validate=True)
    except ValueError:
        raise InputError("manifest: not base64") from None
    missing = _missing(ws, body.files)
    if missing:
        raise InputError(f"upload these blobs first: {', '.join(d[:12] for d in missing)}")
    with _staged(ws, body.files, request.app.state.spool) as base:
        path = base / name
        path.write_bytes(raw)
        _confined(path, Path(request.app.state.spool))
        result = ws.register(path, now=_now(request))
    return {
        "version": result.version.model_dump(mode="json"),
        "created": result.created,
        "log_index": result.log_index,
    }


@router.get("/models", tags=["registry"])
def models(request: Request, who: Reader) -> list[dict[str, Any]]:
    """Every model with its versions (full version records)."""
    rows = _ws(request).registry().list_models()
    return [
        {"model": m.model_dump(mode="json"), "versions": [v.model_dump(mode="json") for v in vs]}
        for m, vs in rows
    ]


@router.get(
    "/models/{model}/versions/{version}",
    tags=["registry"],
    response_model=dict[str, Any],
)
async def version(model: str, version: str, request: Request, who: Reader) -> Response:
    """One version (``latest`` for the newest), checked against the log; the answer is
    reused while the log has not grown (revalidated each second, see ``_cache.py``)."""

    def read() -> bytes:
        ws = _ws(request)
        v = ws.registry().get_version(model, None if version == "latest" else version)
        return json.dumps(v.model_dump(mode="json"), separators=(",", ":")).encode()

    body = await _cached(request, ("version", model, version), read, stamped=True)
    return Response(body, media_type="application/json")


class AttachBody(_Body):
    sha256: str = Field(pattern=_DIGEST)
    filename: str = Field(min_length=1, description="The file's name (media type, default name)")
    kind: str
    name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


@router.post("/models/{model}/versions/{version}/evidence", tags=["evidence"])
def attach(
    model: str,
    version: str,
    body: AttachBody,
    request: Request,
    who: Annotated[Principal, Depends(require("attach"))],
) -> dict[str, Any]:
    """Attach an uploaded blob as evidence of ``kind`` (logged; append-only)."""
    ws = _ws(request)
    fname = PurePosixPath(body.filename).name
    if not fname or fname in (".", ".."):
        raise InputError("filename: give a file name")
    if not ws.evidence.has(body.sha256):
        raise InputError(f"upload blob {body.sha256[:12]}… first")
    with _staged(ws, {fname: body.sha256}, request.app.state.spool) as base:
        res = ws.attach_evidence(
            model,
            version,
            base / fname,
            kind=body.kind,
            name=body.name,
            attributes=body.attributes,
            description=body.description,
            actor=who.identity,
            now=_now(request),
        )
    return {
        **res.evidence.model_dump(mode="json"),
        "created": res.created,
        "log_index": res.log_index,
    }


# --------------------------------------------------------------------------- checks


class CheckBody(_Body):
    model: str
    version: str
    stage: str
    format: str = "text"


@router.post("/checks", tags=["policy"])
def check(
    body: CheckBody,
    request: Request,
    who: Annotated[Principal, Depends(require("check"))],
) -> dict[str, Any]:
    """Evaluate the stage's configured policy packs on a version (with the recorded
    approvals and waivers), record the evaluation (a logged VSA) and return the rendered
    report in ``format`` (text, json, sarif, junit, github) with the verdict."""
    from ordinance.policy import render
    from ordinance.policy.formats import render_markdown
    from ordinance.server._ops import run_check

    ws = _ws(request)
    result = run_check(ws, body.model, body.version, body.stage, _now(request))
    evaluation = result.evaluation
    if evaluation is None:  # no policy governs the stage: unguarded, or closed if exclusive
        text = "\n".join([result.summary(), *(f"  - {r}" for r in result.reasons)]) + "\n"
        return {
            "ref": result.version.ref,
            "stage": body.stage,
            "verdict": result.verdict,
            "reasons": list(result.reasons),
            "counts": {},
            "blocking": [],
            "warnings": [],
            "output": text,
            "markdown": text,
        }
    output = render(evaluation, body.format)
    ws.record_evaluation(evaluation)
    return {
        "ref": evaluation.version.ref,
        "stage": body.stage,
        "verdict": result.verdict,
        "reasons": list(result.reasons),
        "counts": evaluation.counts(),
        "blocking": [f.key for f in evaluation.blocking],
        "warnings": [f.key for f in evaluation.findings if f.warning],
        "output": output,
        "markdown": render_markdown(evaluation),
    }


# --------------------------------------------------------------------------- approvals


class SignedBody(_Body):
    envelope: dict[str, Any] = Field(description="The DSSE envelope the member signed")
    model: str
    version: str
    stage: str | None = None


@router.get("/roster", tags=["approvals"])
def roster(request: Request, who: Reader, at: str | None = None) -> dict[str, Any]:
    """The roster in force now (or at ``at``, a date or time as ``roster show --at`` takes)."""
    from ordinance.approvals import parse_when, roster_at

    r = roster_at(_ws(request), parse_when(at) if at else _now(request))
    return {"digest": r.digest, **r.to_dict()}


class EnvelopeBody(_Body):
    envelope: dict[str, Any] = Field(description="The DSSE envelope the member signed")


@router.post("/roster-changes", tags=["approvals"])
def submit_roster_change(
    body: EnvelopeBody,
    request: Request,
    who: Annotated[Principal, Depends(require("sign"))],
) -> dict[str, Any]:
    """Record a roster change signed by a roster admin's own key (the caller): it must
    follow the roster in force (no lost update) and be signed by a ``roster-admin`` in it.
    The first roster is applied on the server's workspace."""
    from ordinance.approvals import record_roster_change, roster_at
    from ordinance.server._ops import parse_envelope

    ws = _ws(request)
    env = parse_envelope(body.envelope)
    found = roster_at(ws, _now(request)).signer_of(env)
    if found is None:
        raise AuthError("the envelope is not signed by a key in the roster; refused", status=403)
    if who.scope != "admin" and found[0].id != who.identity:
        raise AuthError(
            f"signed by {found[0].id} but submitted by {who.identity}: members submit what "
            "they sign themselves; refused",
            status=403,
        )
    return record_roster_change(ws, env, now=_now(request)).to_dict()


@router.post("/approvals", tags=["approvals"])
def submit_approval(
    body: SignedBody,
    request: Request,
    who: Annotated[Principal, Depends(require("sign"))],
) -> dict[str, Any]:
    """Record an approval signed by the caller's own key. Refused when the signer is not
    the caller, is the version's author (separation of duties), lacks the stage's
    approval roles, or the signature, subject or stage do not match."""
    from ordinance.approvals import record_approval
    from ordinance.server._ops import check_submitter, parse_envelope

    if body.stage is None:
        raise InputError("stage: required for an approval")
    ws = _ws(request)
    env = parse_envelope(body.envelope)
    check_submitter(ws, who, env, body.model, body.version, _now(request), "approve")
    rec = record_approval(
        ws, env, model=body.model, version=body.version, stage=body.stage, now=_now(request)
    )
    return rec.to_dict()


@router.post("/waivers", tags=["approvals"])
def submit_waiver(
    body: SignedBody,
    request: Request,
    who: Annotated[Principal, Depends(require("sign"))],
) -> dict[str, Any]:
    """Record a waiver signed by the caller's own key (same checks as approvals)."""
    from ordinance.approvals import record_waiver
    from ordinance.server._ops import check_submitter, parse_envelope

    ws = _ws(request)
    env = parse_envelope(body.envelope)
    check_submitter(ws, who, env, body.model, body.version, _now(request), "waive")
    return record_waiver(
        ws, env, model=body.model, version=body.version, now=_now(request)
    ).to_dict()


@router.post("/revocations", tags=["approvals"])
def submit_revocation(
    body: SignedBody,
    request: Request,
    who: Annotated[Principal, Depends(require("sign"))],
) -> dict[str, Any]:
    """Record a revocation signed by the caller's own key: the revoker must be the revoked
    approval's or waiver's approver, or hold a revoker role (checked by the core)."""
    from ordinance.approvals import record_revocation
    from ordinance.server._ops import check_submitter, parse_envelope

    ws = _ws(request)
    env = parse_envelope(body.envelope)
    check_submitter(ws, who, env, body.model, body.version, _now(request), "revoke")
    index = record_revocation(ws, env, now=_now(request))
    return {"log_index": index}


@router.post("/declines", tags=["approvals"])
def submit_decline(
    body: SignedBody,
    request: Request,
    who: Annotated[Principal, Depends(require("sign"))],
) -> dict[str, Any]:
    """Record a decline (a signed "no" with a reason) made with the caller's own key; checked
    like an approval, never counted as one."""
    from ordinance.approvals.decline import record_decline
    from ordinance.server._ops import check_submitter, parse_envelope

    if body.stage is None:
        raise InputError("stage: required for a decline")
    ws = _ws(request)
    env = parse_envelope(body.envelope)
    check_submitter(ws, who, env, body.model, body.version, _now(request), "decline")
    rec = record_decline(
        ws, env, model=body.model, version=body.version, stage=body.stage, now=_now(request)
    )
    return rec.to_dict()


@router.get("/approvals", tags=["approvals"])
def approvals(
    request: Request, who: Reader, model: str, version: str | None = None
) -> list[dict[str, Any]]:
    """Recorded approvals and waivers (with revocations) and declines (with reasons)."""
    from ordinance.approvals import list_signed

    return list_signed(_ws(request), model, version, declines=True)


# --------------------------------------------------------------------------- promotions


class PromoteBody(_Body):
    model: str
    version: str
    to: str
    demote_to: str | None = None


@router.post("/promotions", tags=["promotions"])
def promote(
    body: PromoteBody,
    request: Request,
    who: Annotated[Principal, Depends(require("promote"))],
) -> dict[str, Any]:
    """Run the promotion pipeline; the decision (allowed or denied) is logged either way.
    The actor is the caller's identity."""
    from ordinance.promotion import promote as run

    d = run(
        _ws(request).promotion(),
        body.model,
        body.version,
        body.to,
        who.identity,
        _now(request),
        demote_to=body.demote_to,
    )
    return {"decision": d.to_dict(), "summary": d.summary()}


class RollbackBody(_Body):
    model: str
    to_version: str


@router.post("/rollbacks", tags=["promotions"])
def rollback(
    body: RollbackBody,
    request: Request,
    who: Annotated[Principal, Depends(require("promote"))],
) -> dict[str, Any]:
    """Return a version that was in production to production (``ordinance rollback``; still
    policy checked, logged either way). The actor is the caller's identity."""
    from ordinance.promotion import rollback as run

    d = run(_ws(request).promotion(), body.model, body.to_version, who.identity, _now(request))
    return {"decision": d.to_dict(), "summary": d.summary()}


class ArchiveBody(_Body):
    model: str
    version: str


@router.post("/archives", tags=["promotions"])
def archive(
    body: ArchiveBody,
    request: Request,
    who: Annotated[Principal, Depends(require("promote"))],
) -> dict[str, Any]:
    """Move a version to the archive stage (``ordinance archive``; logged). The actor is the
    caller's identity."""
    from ordinance.promotion import archive as run

    d = run(_ws(request).promotion(), body.model, body.version, who.identity, _now(request))
    return {"decision": d.to_dict(), "summary": d.summary()}


@router.get("/models/{model}/history", tags=["promotions"])
def history(
    model: str,
    request: Request,
    who: Reader,
    at: str | None = None,
    proofs: bool = False,
) -> dict[str, Any]:
    """Every transition of ``model`` (up to ``at``), optionally with tlog-proofs."""
    from ordinance.approvals import parse_when
    from ordinance.stage_history import history as run

    return run(_ws(request), model, at=parse_when(at) if at else None, proofs=proofs).to_dict()


@router.get(
    "/models/{model}/versions/{version}/attestation",
    tags=["promotions"],
    response_class=PlainTextResponse,
)
def attestation(model: str, version: str, request: Request, who: Reader) -> str:
    """The latest promotion decision of the version as a DSSE-signed SLSA VSA (as logged)."""
    from ordinance.attest import attestation as run

    return run(_ws(request), model, version).decode()


# --------------------------------------------------------------------------- reports


class RenderBody(_Body):
    document: str = Field(pattern=r"^(card|report|portfolio)$")
    format: str = Field(pattern=r"^(md|html|pdf|json)$")
    model: str | None = None
    version: str | None = Field(default=None, description="default: the latest version")
    stage: str | None = Field(default=None, description="report: the stage it judges")
    packs: list[str] = Field(default_factory=list, description="report: packs to evaluate")
    public: bool = Field(default=False, description="card: leave out internal identifiers")
    since: str | None = Field(default=None, description="portfolio: from this date")
    until: str | None = Field(default=None, description="portfolio: up to this date")


_MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


@router.post("/renderings", tags=["reports"])
def render(body: RenderBody, request: Request, who: Reader) -> Response:
    """Render a model card, a version's compliance report or the portfolio with the server's
    templates, from the facts the log vouches for, and log the rendering (its digest and
    inputs), so that ``ordinance report verify`` confirms the returned bytes. The log index
    of the rendering record is in the ``X-Ordinance-Log-Index`` header."""
    from ordinance.approvals import parse_when
    from ordinance.report import build_document, record_output, render_document

    ws = _ws(request)
    doc, fmt = body.document, body.format
    if doc != "portfolio" and not body.model:
        raise InputError("model: required for a card or a report")
    if doc != "portfolio" and (body.since or body.until):
        raise InputError("since/until: the portfolio's options")
    if doc != "report" and (body.stage or body.packs):
        raise InputError("stage/packs: a version's report's options")
    if body.public and doc != "card":
        raise InputError("public: a model card's option")
    ctx = build_document(
        ws,
        doc,
        model=body.model or "",
        version=body.version,
        stage=body.stage,
        packs=body.packs or None,
        public=body.public,
        since=parse_when(body.since, end_of_day=False) if body.since else None,
        until=parse_when(body.until) if body.until else None,
    )
    data = render_document(doc, ctx, fmt)
    index = record_output(ws, doc, fmt, ctx, data, now=_now(request))
    headers = {} if index is None else {"X-Ordinance-Log-Index": str(index)}
    return Response(data, media_type=_MEDIA[fmt], headers=headers)


@router.post("/catalog", tags=["reports"])
def catalog(request: Request, who: Reader) -> Response:
    """The static catalog (``ordinance publish``) rendered by the server with its templates,
    every page logged, as a gzipped tar of the site's files (names only, no directories)."""
    import io

    from ordinance.report import publish_catalog

    ws = _ws(request)
    with tempfile.TemporaryDirectory(prefix="ordinance-catalog-") as tmp:
        site = Path(tmp) / "site"
        written = publish_catalog(ws, site)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for f in sorted(written):
                tar.add(f, arcname=f.relative_to(site).as_posix(), recursive=False)
    return Response(buf.getvalue(), media_type="application/gzip")


# --------------------------------------------------------------------------- log


_CHECKPOINT_CACHE = "max-age=1"  # mutable: C2SP tlog-tiles, no caching beyond a few seconds


async def _checkpoint(request: Request) -> str:
    def read() -> str:
        return _ws(request).audit_log().latest_checkpoint()

    note: str = await _cached(request, ("checkpoint",), read)
    return note


@router.get("/log/checkpoint", tags=["log"], response_class=PlainTextResponse)
async def checkpoint(request: Request, who: Reader) -> PlainTextResponse:
    """The latest signed checkpoint note (at most a second old; a write this server
    answered is always in it)."""
    return PlainTextResponse(
        await _checkpoint(request), headers={"Cache-Control": _CHECKPOINT_CACHE}
    )


_IMMUTABLE = "private, max-age=31536000, immutable"
_PARTIAL = "private, max-age=60"


@router.get(
    "/log/tile/{path:path}",
    tags=["log"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def tile(path: str, request: Request, who: Reader) -> Response:
    """C2SP tlog-tiles under the prefix ``/v1/log``: hash tiles ``tile/<L>/<N>[.p/<W>]`` and
    entry bundles ``tile/entries/<N>[.p/<W>]``, byte for byte what ``ordinance log export
    --tiles`` writes (the checkpoint is ``/v1/log/checkpoint``). Full tiles never change and
    are cacheable for good; partial ones for a minute. Entry bundles are gzip-compressed
    when the client accepts it. 404 beyond the latest checkpoint; 400 for a malformed path."""
    from ordinance.log.tiles import TILE_WIDTH, parse_tile_path, read_tile

    rel = f"tile/{path}"
    ref = parse_tile_path(rel)
    body, ctype = read_tile(_ws(request).audit_log(), rel)
    headers = {"Cache-Control": _IMMUTABLE if ref.width == TILE_WIDTH else _PARTIAL}
    if ref.level is None and "gzip" in request.headers.get("accept-encoding", ""):
        import gzip

        body = gzip.compress(body, compresslevel=5, mtime=0)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(body, media_type=ctype, headers=headers)


@router.get("/log/vkey", tags=["log"], response_class=PlainTextResponse)
def vkey(request: Request, who: Reader) -> str:
    """The log's verifier key (pin it out of band; this answer is only a hint)."""
    return _ws(request).audit_log().vkey + "\n"


@router.get("/log/bundle", tags=["log"])
def bundle(request: Request, who: Reader) -> StreamingResponse:
    """An offline audit bundle (``ordinance log export``) as an uncompressed tar stream."""
    ws = _ws(request)
    tmp = tempfile.mkdtemp(dir=request.app.state.spool, prefix="bundle.")
    try:
        ws.audit_log().export(Path(tmp) / "bundle")
        buf = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response stream)
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for p in sorted((Path(tmp) / "bundle").iterdir()):
                tar.add(p, arcname=p.name, recursive=False)
        buf.seek(0)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)

    def chunks() -> Iterator[bytes]:
        with buf:
            while block := buf.read(1 << 20):
                yield block

    return StreamingResponse(chunks(), media_type="application/x-tar")


class EnvelopesBody(_Body):
    envelopes: list[str] = Field(
        description="DSSE envelopes (canonical JSON, base64), each signed by a roster member",
        max_length=10_000,
    )


@router.post("/log/envelopes", tags=["log"])
def append_envelopes(
    body: EnvelopesBody,
    request: Request,
    who: Annotated[Principal, Depends(require("log"))],
) -> dict[str, Any]:
    """Append a batch of pre-signed envelopes in one transaction (one checkpoint). Each must
    verify against a key of the roster in force; otherwise nothing is appended."""
    from ordinance.approvals import roster_at
    from ordinance.signing import Envelope

    ws = _ws(request)
    roster = roster_at(ws, _now(request))
    raws: list[bytes] = []
    for i, b64 in enumerate(body.envelopes):
        try:
            raw = base64.b64decode(b64, validate=True)
            env = Envelope.from_bytes(raw)
        except (ValueError, InputError) as exc:
            raise InputError(f"envelopes[{i}]: not a DSSE envelope: {exc}") from None
        if roster.signer_of(env) is None:
            raise AuthError(f"envelopes[{i}]: not signed by a key in the roster", status=403)
        raws.append(raw)
    log = ws.audit_log()
    with ws.write_transaction("appending envelopes") as conn:
        indexes = log.append_envelopes_in(conn, raws)
    return {"log_indexes": [indexes[0], indexes[-1]] if indexes else [], "count": len(indexes)}


@router.get("/log/entries", tags=["log"])
def log_entries(
    request: Request,
    who: Reader,
    model: str | None = None,
    since: str | None = None,
    predicate_type: str | None = None,
    after: Annotated[int, Field(ge=-1)] = -1,
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:
    """Log entries in log order (``ordinance log show``), filtered by subject name, logged
    time and predicate type, from index ``after + 1``; ``next`` is the ``after`` of the next
    page (``null`` at the end)."""
    from itertools import islice

    log = _ws(request).audit_log()
    it = log.entries(
        model=model, since=since, predicate_type=predicate_type, page=limit + 1, after=after
    )
    rows = list(islice(it, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "entries": [e.to_dict() for e in rows],
        "next": rows[-1].index if more else None,
    }


@router.get("/log/proof/{index}", tags=["log"], response_class=PlainTextResponse)
def log_proof(
    index: Annotated[int, Field(ge=0)], request: Request, who: Reader
) -> PlainTextResponse:
    """A C2SP tlog-proof for entry ``index`` against the latest checkpoint
    (``ordinance log prove``)."""
    return PlainTextResponse(_ws(request).audit_log().prove(index))


@router.get("/log/consistency", tags=["log"])
def log_consistency(
    request: Request,
    who: Reader,
    old: Annotated[int, Field(ge=1)],
    new: Annotated[int, Field(ge=1)],
) -> dict[str, Any]:
    """An RFC 6962 consistency proof from tree size ``old`` to ``new`` (base64 hashes;
    ``ordinance log consistency``)."""
    proof = _ws(request).audit_log().consistency(old, new)
    return {"old": old, "new": new, "proof": [base64.b64encode(h).decode() for h in proof]}


@router.get("/log/size", tags=["log"])
def log_size(request: Request, who: Reader) -> dict[str, Any]:
    """The log's size and root hash as of the latest checkpoint."""
    log = _ws(request).audit_log()
    return {"size": log.size(), "root": log.root().hex()}
