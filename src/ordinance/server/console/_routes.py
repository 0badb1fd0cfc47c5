"""Console routes: one handler per page, thin over :mod:`._views` and the core."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import mimetypes
import secrets
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ordinance.errors import InputError, NotFoundError, OrdinanceError
from ordinance.server.console import _views as views
from ordinance.server.console._security import (
    DOCUMENT_CSP,
    SESSION_COOKIE,
    Session,
    SessionStore,
    csrf_ok,
    same_origin,
    security_headers,
)
from ordinance.signing import Envelope
from ordinance.workspace import Workspace

__all__ = ["Principal", "console_router"]

_HERE = Path(__file__).resolve().parent
_STATIC = _HERE / "static"
_LOGIN_CSRF = "ordinance_login_csrf"
_MAX_FORM = 256 * 1024


class Authenticated(Protocol):
    """What ``authenticate`` returns for a good credential: at least the identity (the
    server's principals carry more). Roles always come from the roster."""

    @property
    def identity(self) -> str: ...


@dataclass(frozen=True)
class Principal:
    """A minimal :class:`Authenticated` (tests and embedders without the server's model)."""

    identity: str


Authenticate = Callable[[str], Authenticated | None]


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


class _Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def _href(value: Any) -> str | None:
    """A link target from model data: only absolute http(s) URLs; anything else is text."""
    text = str(value or "")
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return text
    return None


def _environment() -> jinja2.Environment:
    from ordinance.report._templates import num, short, svg

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(num=num, short=short, svg=svg, href=_href, jsonpretty=views.dumps)
    env.globals["url"] = _url
    return env


@functools.lru_cache(maxsize=4096)
def _q(value: str) -> str:
    return quote_plus(value)


def _url(path: str, **params: Any) -> str:
    """A console URL with its query (values URL-quoted; the template escapes the ``&``)."""
    query = "&".join(f"{k}={_q(str(v))}" for k, v in params.items() if v is not None and v != "")
    return f"/console{path}" + (f"?{query}" if query else "")


def console_router(
    workspace: Workspace | Callable[[], Workspace],
    authenticate: Authenticate,
    *,
    sessions: SessionStore | None = None,
    clock: Callable[[], datetime] | None = None,
    secure_cookie: bool = True,
) -> APIRouter:
    """The console's pages under ``/console``.

    ``workspace`` is the server's workspace (or a callable returning it);
    ``authenticate(token)`` returns the :class:`Principal` a token belongs to, or ``None``.
    """
    router = APIRouter(prefix="/console", include_in_schema=False)
    store = sessions or SessionStore()
    now_fn = clock or (lambda: datetime.now(UTC))
    env = _environment()
    cache = views.InventoryCache()
    router.console_cache = cache  # type: ignore[attr-defined]

    def ws() -> Workspace:
        return workspace() if callable(workspace) else workspace

    # ---------------------------------------------------------------- plumbing

    def session_of(request: Request) -> Session | None:
        return store.get(request.cookies.get(SESSION_COOKIE))

    def require(request: Request) -> Session:
        s = session_of(request)
        if s is not None and authenticate(s.credential) is None:
            store.close(s.id)  # the token was revoked or expired since login
            s = None
        if s is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise _Redirect(_url("/login", next=target))
        return s

    def page(
        request: Request,
        template: str,
        session: Session | None,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        flash = list(session.flash) if session is not None else []
        if session is not None:
            session.flash.clear()
        html = env.get_template(template).render(
            session=session,
            flash=flash,
            path=request.url.path,
            csrf=session.csrf if session is not None else "",
            **values,
        )
        resp = HTMLResponse(html, status_code=status)
        security_headers(resp.headers)
        return resp

    def require_signer(s: Session) -> None:
        if not s.can_sign:
            raise _Denied(403, f"{s.identity}'s token may not sign approvals or waivers")

    async def form_of(request: Request, session: Session) -> Mapping[str, str]:
        if not same_origin(request.headers, request.url.netloc):
            raise _Denied(403, "cross-origin request refused")
        length = int(request.headers.get("content-length") or 0)
        if length > _MAX_FORM:
            raise _Denied(413, "form too large")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not csrf_ok(session, fields.get("csrf") or request.headers.get("x-csrf-token")):
            raise _Denied(403, "missing or wrong CSRF token: reload the page and try again")
        return fields

    def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
        """Turn redirects, refusals and Ordinance errors into pages (never a traceback)."""
        import inspect

        async def run(request: Request, **kw: Any) -> Response:
            try:
                if inspect.iscoroutinefunction(handler):
                    result = await handler(request, **kw)
                else:
                    result = await run_in_threadpool(handler, request, **kw)
                return result  # type: ignore[no-any-return]
            except _Redirect as r:
                resp = RedirectResponse(r.location, status_code=303)
                security_headers(resp.headers)
                return resp
            except _Denied as d:
                return page(
                    request, "error.html.j2", session_of(request), d.status, message=d.message
                )
            except NotFoundError as exc:
                return page(request, "error.html.j2", session_of(request), 404, message=exc.message)
            except OrdinanceError as exc:
                status = getattr(exc, "status", None) or (400 if exc.exit_code in (1, 2) else 500)
                return page(
                    request, "error.html.j2", session_of(request), status, message=exc.message
                )

        functools.update_wrapper(run, handler)
        return run

    # ---------------------------------------------------------------- static

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        path = _STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js"):
            media = "text/javascript"
        resp = Response(path.read_bytes(), media_type=media)
        security_headers(resp.headers)
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    # ---------------------------------------------------------------- login

    @router.get("/")
    def root() -> Response:
        resp = RedirectResponse(_url("/inventory"), status_code=303)
        security_headers(resp.headers)
        return resp

    @router.get("/login")
    @guarded
    def login_form(request: Request, error: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        resp = page(
            request,
            "login.html.j2",
            None,
            401 if error else 200,
            login_csrf=token,
            next=_safe_next(request.query_params.get("next")),
            error=error,
        )
        resp.set_cookie(
            _LOGIN_CSRF,
            token,
            httponly=True,
            secure=secure_cookie,
            samesite="strict",
            path="/console/login",
            max_age=3600,
        )
        return resp

    @router.post("/login")
    @guarded
    async def login(request: Request) -> Response:
        if not same_origin(request.headers, request.url.netloc):
            raise _Denied(403, "cross-origin login refused")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        cookie = request.cookies.get(_LOGIN_CSRF) or ""
        if not cookie or not secrets.compare_digest(cookie, fields.get("csrf", "")):
            raise _Denied(403, "the login form expired: reload the page and try again")
        token = fields.get("token", "").strip()
        principal = authenticate(token) if token else None
        if principal is None:
            return login_form.__wrapped__(request, error="That token is not valid.")  # type: ignore[attr-defined,no-any-return]
        can = getattr(principal, "can", None)
        s = store.open(principal.identity, token, can_sign=bool(can("sign")) if can else True)
        resp = RedirectResponse(_safe_next(fields.get("next")), status_code=303)
        security_headers(resp.headers)
        resp.set_cookie(
            SESSION_COOKIE,
            s.id,
            httponly=True,
            secure=secure_cookie,
            samesite="strict",
            path="/console",
            max_age=int(store.lifetime.total_seconds()),
        )
        resp.delete_cookie(_LOGIN_CSRF, path="/console/login")
        return resp

    @router.post("/logout")
    @guarded
    async def logout(request: Request) -> Response:
        s = require(request)
        await form_of(request, s)
        store.close(s.id)
        resp = RedirectResponse(_url("/login"), status_code=303)
        security_headers(resp.headers)
        resp.delete_cookie(SESSION_COOKIE, path="/console")
        return resp

    # ---------------------------------------------------------------- read-only pages

    @router.get("/inventory")
    @guarded
    def inventory(
        request: Request,
        q: str = "",
        stage: str = "",
        tier: str = "",
        verdict: str = "",
        pending: str = "",
    ) -> Response:
        s = require(request)
        w = ws()
        flt = views.InventoryFilter(
            q=q[:200], stage=stage, tier=tier, verdict=verdict, pending=bool(pending)
        )
        models = cache.get(w, now_fn())
        shown = []
        for m in models:
            vs = flt.matches(m)
            if vs is not None:
                # links computed here: a template call per row costs more than the row
                shown.append(
                    (
                        m,
                        [
                            (
                                v,
                                _url("/version", model=v.model, version=v.version),
                                _url(
                                    "/version", model=v.model, version=v.version, stage=v.requested
                                ),
                            )
                            for v in vs
                        ],
                    )
                )
        return page(
            request,
            "inventory.html.j2",
            s,
            rows=shown,
            total=len(models),
            flt=flt,
            stages=list(w.config.stages),
            tiers=sorted({m.risk_tier for m in models}),
            verdicts=["pass", "warn", "fail", "not evaluated"],
        )

    @router.get("/version")
    @guarded
    def version(request: Request, model: str, version: str, stage: str = "") -> Response:
        s = require(request)
        w = ws()
        now = now_fn()
        data = views.version_view(
            w, model, version, stage=stage or None, now=now, models=cache.get(w, now)
        )
        from ordinance.approvals import current_roster

        member = current_roster(w).member(s.identity)
        return page(
            request, "version.html.j2", s, v=data, my_roles=sorted(member.roles) if member else []
        )

    @router.get("/evidence")
    @guarded
    def evidence(request: Request, model: str, version: str, sha256: str) -> Response:
        require(request)
        w = ws()
        v = w.registry().get_version(model, version)
        item = next((e for e in v.evidence if e.sha256 == sha256), None)
        if item is None:
            raise NotFoundError(f"{v.ref} has no evidence with digest {sha256[:12]}…")
        data = w.evidence.open_path(item.sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise _Denied(409, f"evidence {item.name} no longer matches its registered digest")
        return _download(data, item.name, "application/octet-stream")

    @router.get("/proof")
    @guarded
    def proof(request: Request, index: int) -> Response:
        require(request)
        w = ws()
        from ordinance.log.store import TransparencyLog

        log = TransparencyLog.reader(w.engine(), w.vkey(), w.config.log_origin)
        return _download(log.prove(index).encode(), f"entry-{index}.tlog-proof", "text/plain")

    @router.get("/history")
    @guarded
    def history(request: Request, model: str = "", at: str = "") -> Response:
        s = require(request)
        w = ws()
        when = None
        if at:
            from ordinance.approvals import parse_when

            when = parse_when(at)
        data = views.history_view(w, model or None, when)
        return page(
            request,
            "history.html.j2",
            s,
            h=data,
            model=model,
            at=at,
            names=sorted(m.name for m, _ in w.registry().list_models()),
        )

    @router.get("/reports")
    @guarded
    def reports(request: Request) -> Response:
        s = require(request)
        models = cache.get(ws(), now_fn())
        return page(request, "reports.html.j2", s, models=models, pdf=_pdf_available())

    @router.get("/reports/{document}")
    @guarded
    def report(
        request: Request, document: str, model: str = "", version: str = "", format: str = "html"
    ) -> Response:
        require(request)
        from ordinance.report import build_document, render_document

        w = ws()
        if document not in ("card", "report", "portfolio") or format not in (
            "html",
            "pdf",
            "md",
            "json",
        ):
            raise NotFoundError(f"no such report: {document} as {format}")
        ctx = build_document(w, document, model=model, version=version or None)
        name = (
            "portfolio"
            if document == "portfolio"
            else f"{model}-{ctx['details']['version']}-{document}"
        )
        data = render_document(document, ctx, format)
        # a document handed out is a document issued: logged like the CLI's, so that
        # `ordinance report verify` confirms a download
        from ordinance.report import record_output

        record_output(w, document, format, ctx, data, now=now_fn())
        media = {
            "html": "text/html; charset=utf-8",
            "pdf": "application/pdf",
            "md": "text/markdown; charset=utf-8",
            "json": "application/json",
        }[format]
        if format == "html":
            resp = Response(data, media_type=media)
            security_headers(resp.headers, csp=DOCUMENT_CSP)
            return resp
        return _download(data, f"{_safe_filename(name)}.{format}", media)

    @router.get("/audit")
    @guarded
    def audit(request: Request) -> Response:
        s = require(request)
        w = ws()
        return page(request, "audit.html.j2", s, a=views.audit_view(w))

    @router.get("/audit/bundle")
    @guarded
    def bundle(request: Request) -> Response:
        require(request)
        w = ws()
        from ordinance.log.store import TransparencyLog

        log = TransparencyLog.reader(w.engine(), w.vkey(), w.config.log_origin)
        with tempfile.TemporaryDirectory() as tmp:
            out = log.export(Path(tmp) / "audit-bundle")
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(out, arcname="audit-bundle")
        return _download(buf.getvalue(), "audit-bundle.tar.gz", "application/gzip")

    # ---------------------------------------------------------------- approvals

    @router.get("/inbox")
    @guarded
    def inbox(request: Request) -> Response:
        s = require(request)
        return page(
            request,
            "inbox.html.j2",
            s,
            box=views.inbox_view(ws(), s.identity, now=now_fn(), models=cache.get(ws(), now_fn())),
        )

    @router.get("/keys")
    @guarded
    def keys(request: Request) -> Response:
        s = require(request)
        from ordinance.approvals import current_roster

        member = current_roster(ws()).member(s.identity)
        return page(
            request,
            "keys.html.j2",
            s,
            enrolled=[] if member is None else sorted(k.vkey for k in member.keys),
            key_name=_key_name(s.identity),
        )

    def signoff_form(
        request: Request, model: str, version: str, stage: str, template: str, payload_of: Any
    ) -> Response:
        """The page on which an approver signs a statement about ``model@version`` for
        ``stage`` in the browser (an approval or a decline)."""
        s = require(request)
        w = ws()
        payload = payload_of(w, model, version, stage, s.identity, now_fn())
        v = w.registry().get_version(model, version)
        return page(
            request,
            template,
            s,
            model=model,
            version=version,
            stage=stage,
            author=v.author,
            payload_b64=base64.b64encode(payload).decode(),
            statement=json.loads(payload),
            key_name=_key_name(s.identity),
        )

    async def signoff_posted(
        request: Request, verb: str
    ) -> tuple[Session, Workspace, Envelope, str, str, str, datetime]:
        """A posted browser-signed statement, checked for session, CSRF and signer."""
        s = require(request)
        f = await form_of(request, s)
        require_signer(s)
        model, version, stage = f.get("model", ""), f.get("version", ""), f.get("stage", "")
        env_obj = _envelope(f.get("envelope", ""))
        w = ws()
        now = now_fn()
        _check_signer(w, env_obj, s.identity, model, version, now, verb)
        return s, w, env_obj, model, version, stage, now

    @router.get("/approve")
    @guarded
    def approve_form(request: Request, model: str, version: str, stage: str) -> Response:
        return signoff_form(
            request, model, version, stage, "approve.html.j2", views.approval_payload
        )

    @router.post("/approve")
    @guarded
    async def approve(request: Request) -> Response:
        s, w, env_obj, model, version, stage, now = await signoff_posted(request, "approve")
        from ordinance.approvals import record_approval

        rec = record_approval(w, env_obj, model=model, version=version, stage=stage, now=now)
        s.flash.append(
            f"Approval of {model}@{version} for {stage} recorded at log entry {rec.log_index} "
            f"(sha256 {rec.digest[:12]}…)."
        )
        raise _Redirect(_url("/version", model=model, version=version, stage=stage))

    # ------------------------------------------------------------ waiver requests

    def require_writer(s: Session) -> None:
        if not s.can_sign:
            raise _Denied(403, f"{s.identity}'s token is read-only")

    @router.get("/waiver-request")
    @guarded
    def waiver_request_form(
        request: Request, model: str, version: str, rule: str, stage: str = ""
    ) -> Response:
        s = require(request)
        v = ws().registry().get_version(model, version)
        return page(
            request,
            "waiver-request.html.j2",
            s,
            model=v.model.name,
            version=v.version,
            rule=rule,
            stage=stage,
        )

    @router.post("/waiver-request")
    @guarded
    async def waiver_request(request: Request) -> Response:
        s = require(request)
        f = await form_of(request, s)
        require_writer(s)
        model, version, stage = f.get("model", ""), f.get("version", ""), f.get("stage", "")
        try:
            days = int(f.get("days") or "30")
        except ValueError:
            raise InputError("the expiry must be a whole number of days") from None
        now = now_fn()
        from ordinance.approvals import request_waiver

        st = await run_in_threadpool(
            functools.partial(
                request_waiver,
                ws(),
                model,
                version,
                f.get("rule", ""),
                requester=s.identity,
                justification=f.get("justification", ""),
                expires_at=now + timedelta(days=days),
                stages=[stage] if stage else None,
                now=now,
            )
        )
        s.flash.append(
            f"Your request to waive {st.request.rule} for {model}@{version} was logged at entry "
            f"{st.log_index}; a risk officer reviews it in their inbox. It is not a waiver."
        )
        raise _Redirect(
            _url("/version", model=model, version=version, stage=stage or None) + "#waiver-requests"
        )

    @router.get("/waiver-request/grant")
    @guarded
    def waiver_request_grant(request: Request, digest: str) -> Response:
        s = require(request)
        w = ws()
        from ordinance.approvals import waiver_requests

        st = next((r for r in waiver_requests(w) if r.digest == digest), None)
        if st is None:
            raise NotFoundError(f"no waiver request {digest[:12]}…")
        r = st.request
        payload = views.waiver_payload(
            w,
            r.model,
            r.version,
            r.rule,
            s.identity,
            now_fn(),
            r.expires_at,
            list(r.stages) if r.stages else None,
            request=digest,
        )
        return page(
            request,
            "waive.html.j2",
            s,
            model=r.model,
            version=r.version,
            rule=r.rule,
            stage=",".join(r.stages or ()),
            days=None,
            expires=views.ts(r.expires_at),
            req=views.shown(st),
            payload_b64=base64.b64encode(payload).decode(),
            statement=json.loads(payload),
            key_name=_key_name(s.identity),
        )

    @router.get("/waiver-request/decline")
    @guarded
    def waiver_request_decline_form(request: Request, digest: str) -> Response:
        s = require(request)
        from ordinance.approvals import waiver_requests

        st = next((r for r in waiver_requests(ws()) if r.digest == digest), None)
        if st is None:
            raise NotFoundError(f"no waiver request {digest[:12]}…")
        return page(request, "waiver-request-decline.html.j2", s, req=views.shown(st))

    @router.post("/waiver-request/decline")
    @guarded
    async def waiver_request_decline(request: Request) -> Response:
        s = require(request)
        f = await form_of(request, s)
        require_writer(s)
        from ordinance.approvals import decline_waiver_request

        index = await run_in_threadpool(
            functools.partial(
                decline_waiver_request,
                ws(),
                f.get("digest", ""),
                reviewer=s.identity,
                reason=f.get("reason", ""),
                now=now_fn(),
            )
        )
        s.flash.append(f"You declined the waiver request; logged at entry {index}.")
        raise _Redirect(_url("/inbox"))

    @router.get("/decline")
    @guarded
    def decline_form(request: Request, model: str, version: str, stage: str) -> Response:
        return signoff_form(
            request, model, version, stage, "decline.html.j2", views.decline_payload
        )

    @router.post("/decline")
    @guarded
    async def decline(request: Request) -> Response:
        s, w, env_obj, model, version, stage, now = await signoff_posted(request, "decline")
        from ordinance.approvals import record_decline

        rec = await run_in_threadpool(
            record_decline, w, env_obj, model=model, version=version, stage=stage, now=now
        )
        s.flash.append(
            f"Your decline of {model}@{version} for {stage} was recorded at log entry "
            f"{rec.log_index} (sha256 {rec.digest[:12]}…)."
        )
        raise _Redirect(_url("/version", model=model, version=version, stage=stage) + "#declines")

    @router.get("/waive")
    @guarded
    def waive_form(
        request: Request, model: str, version: str, rule: str, stage: str = "", days: int = 30
    ) -> Response:
        s = require(request)
        w = ws()
        now = now_fn()
        days = min(max(days, 1), 365)
        payload = views.waiver_payload(
            w,
            model,
            version,
            rule,
            s.identity,
            now,
            now + timedelta(days=days),
            [stage] if stage else None,
        )
        return page(
            request,
            "waive.html.j2",
            s,
            model=model,
            version=version,
            rule=rule,
            stage=stage,
            days=days,
            expires=None,
            req=None,
            payload_b64=base64.b64encode(payload).decode(),
            statement=json.loads(payload),
            key_name=_key_name(s.identity),
        )

    @router.post("/waive")
    @guarded
    async def waive(request: Request) -> Response:
        s = require(request)
        f = await form_of(request, s)
        require_signer(s)
        model, version = f.get("model", ""), f.get("version", "")
        env_obj = _envelope(f.get("envelope", ""))
        w = ws()
        now = now_fn()
        _check_signer(w, env_obj, s.identity, model, version, now, "waive")
        from ordinance.approvals import check_grant, record_waiver

        granted = check_grant(w, env_obj)  # a waiver naming a request grants what it asked
        rec = record_waiver(w, env_obj, model=model, version=version, now=now)
        s.flash.append(
            f"Waiver of {rec.rule} for {model}@{version} recorded at log entry {rec.log_index}"
            + (f", granting {granted.request.requester}'s request." if granted else ".")
        )
        raise _Redirect(
            _url("/version", model=model, version=version, stage=f.get("stage") or None)
        )

    return router


# --------------------------------------------------------------------------- helpers


def _safe_next(value: str | None) -> str:
    """Only a path inside the console (no scheme, host or protocol-relative URL)."""
    text = value or ""
    if text.startswith("/console/") and not text.startswith("//") and "\\" not in text:
        parts = urlsplit(text)
        if not parts.scheme and not parts.netloc:
            return text
    return _url("/inventory")


def _safe_filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:120] or "download"


def _download(data: bytes, filename: str, media: str) -> Response:
    resp = Response(data, media_type=media)
    security_headers(resp.headers, csp=DOCUMENT_CSP)
    resp.headers["Content-Disposition"] = f'attachment; filename="{_safe_filename(filename)}"'
    return resp


def _pdf_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("weasyprint") is not None


def _key_name(identity: str) -> str:
    """The C2SP key name a browser key of ``identity`` carries (no spaces, no ``+``)."""
    return "".join("-" if (c.isspace() or c == "+") else c for c in identity) or "approver"


def _envelope(text: str) -> Any:
    from ordinance.signing import Envelope

    if not text:
        raise InputError("no signed envelope was submitted (is JavaScript enabled?)")
    if len(text) > 128 * 1024:
        raise InputError("the signed envelope is too large")
    try:
        data = json.loads(text)
    except ValueError:
        raise InputError("the signed envelope is not JSON") from None
    if not isinstance(data, dict):
        raise InputError("the signed envelope is not a JSON object")
    return Envelope.from_dict(data)


@dataclass(frozen=True)
class _Submitter:
    """The logged-in browser as the server's submission checks see it: always a member,
    so the envelope must be signed by the logged-in identity's own enrolled key."""

    identity: str
    scope: str = "member"


def _check_signer(
    w: Workspace, env: Any, identity: str, model: str, version: str, now: datetime, verb: str
) -> None:
    """The server's own checks, before anything is written: the signer is the logged-in
    identity's roster key, and not the version's author (separation of duties)."""
    from ordinance.server._ops import check_submitter

    check_submitter(w, _Submitter(identity), env, model, version, now, verb)  # type: ignore[arg-type]
