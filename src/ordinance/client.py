"""The client of ``ordinance serve``: what the CLI calls when ``ORDINANCE_URL`` is set.

Every call has a deadline: connecting gives up after 2 s and is retried at most twice with
backoff, so an unreachable server is an :class:`InfrastructureError` (exit 3) within ~8 s.
Reads and idempotent writes (uploads by digest, registration of an identical manifest,
attaching identical evidence) are also retried after a dropped connection or a 502/503/504;
a promotion or a signed submission is retried only when the request never reached the server.

Server errors come back as ``{"error": {"type", "message", "exit_code"}}`` and are raised as
the same error family, so a remote command exits with the code and message a local run would.

Private keys stay here: approvals and waivers are signed locally and only the envelope is sent.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ordinance.errors import (
    AuthError,
    CheckFailed,
    ConflictError,
    InfrastructureError,
    InputError,
    ManifestError,
    NotFoundError,
    OrdinanceError,
    VerificationError,
)

if TYPE_CHECKING:
    import httpx

    from ordinance.approvals import Roster
    from ordinance.model import Model, ModelVersion

__all__ = ["Remote", "remote_from_env"]

CONNECT_TIMEOUT = 2.0
ATTEMPTS = 3
_BACKOFF = (0.5, 1.0)
_CHUNK = 1 << 20
_RETRY_STATUS = (502, 503, 504)
_ERRORS: dict[str, type[OrdinanceError]] = {
    "CheckFailed": CheckFailed,
    "VerificationError": VerificationError,
    "ApprovalRefused": VerificationError,
    "NotFoundError": NotFoundError,
    "ConflictError": ConflictError,
    "DigestMismatch": InputError,
    "InfrastructureError": InfrastructureError,
}


def remote_from_env(url: str | None = None) -> Remote | None:
    """The server named by ``url`` or ``$ORDINANCE_URL``, with ``$ORDINANCE_TOKEN``."""
    url = url or os.environ.get("ORDINANCE_URL")
    if not url:
        return None
    token = os.environ.get("ORDINANCE_TOKEN")
    token_file = os.environ.get("ORDINANCE_TOKEN_FILE")
    if not token and token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"ORDINANCE_TOKEN_FILE {token_file}: {exc.strerror}") from None
    if not token:
        raise InputError("ORDINANCE_URL is set but ORDINANCE_TOKEN is not (an API or OIDC token)")
    timeout = float(os.environ.get("ORDINANCE_TIMEOUT", "300"))
    return Remote(url.rstrip("/"), token, read_timeout=timeout)


def _raise_for(resp: httpx.Response) -> None:
    try:
        err = resp.json()["error"]
        message, kind, code = str(err["message"]), str(err.get("type", "")), int(err["exit_code"])
    except (ValueError, KeyError, TypeError):
        text = resp.text.strip().splitlines()[0] if resp.text.strip() else resp.reason_phrase
        if resp.status_code == 422:
            raise InputError(f"server refused the request: {text}") from None
        raise InfrastructureError(f"server answered {resp.status_code}: {text}") from None
    if kind == "AuthError":
        raise AuthError(message, status=resp.status_code)
    cls = _ERRORS.get(kind)
    if cls is None:
        cls = {1: VerificationError, 2: InputError}.get(code, InfrastructureError)
    raise cls(message)


@dataclass
class Remote:
    """A connection to one server (``url``) as one credential (``token``)."""

    url: str
    token: str
    read_timeout: float = 300.0
    _client: httpx.Client | None = field(default=None, repr=False)

    # -- plumbing -------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=httpx.Timeout(self.read_timeout, connect=CONNECT_TIMEOUT),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        ok: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> httpx.Response:
        import httpx

        retry_body = kwargs.pop("retry_body", None)
        last: Exception | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(_BACKOFF[min(attempt - 1, len(_BACKOFF) - 1)])
                if retry_body is not None:
                    kwargs["content"] = retry_body()
            try:
                resp = self._http().request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = exc  # never reached the server: always safe to retry
                continue
            except httpx.TransportError as exc:
                if not idempotent:
                    raise InfrastructureError(
                        f"{self.url}: connection lost during {method} {path} ({exc}); "
                        "the outcome is unknown: check `ordinance history` before retrying"
                    ) from None
                last = exc
                continue
            if resp.status_code in _RETRY_STATUS and idempotent and attempt + 1 < ATTEMPTS:
                last = InfrastructureError(f"server answered {resp.status_code}")
                continue
            if resp.status_code in ok:
                return resp
            _raise_for(resp)
        raise InfrastructureError(
            f"cannot reach the Ordinance server at {self.url} "
            f"({type(last).__name__}: {last}; {ATTEMPTS} attempts)"
        )

    def get_json(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, idempotent=True, params=clean).json()

    def post_json(self, path: str, body: Mapping[str, Any], *, idempotent: bool) -> Any:
        return self.request("POST", path, idempotent=idempotent, json=dict(body)).json()

    # -- blobs ----------------------------------------------------------------------------
    def upload(self, path: Path) -> str:
        """Upload ``path`` under its SHA-256 (streamed; skipped when already stored)."""
        digest = _sha256_file(path)
        if (
            self.request(
                "HEAD", f"/v1/blobs/sha256/{digest}", idempotent=True, ok=(200, 404)
            ).status_code
            == 200
        ):
            return digest

        def body() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    yield chunk

        self.request(
            "PUT",
            f"/v1/blobs/sha256/{digest}",
            idempotent=True,
            content=body(),
            retry_body=body,
            headers={"Content-Type": "application/octet-stream"},
        )
        return digest

    def download(self, digest: str, dest: Path) -> None:
        """Fetch a blob into ``dest`` (atomically), checking its digest."""
        import httpx

        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        h = hashlib.sha256()
        try:
            with self._http().stream("GET", f"/v1/blobs/sha256/{digest}") as resp:
                if resp.status_code != 200:
                    resp.read()
                    _raise_for(resp)
                with tmp.open("wb") as f:
                    for chunk in resp.iter_bytes(_CHUNK):
                        h.update(chunk)
                        f.write(chunk)
        except httpx.TransportError as exc:
            tmp.unlink(missing_ok=True)
            raise InfrastructureError(f"cannot download from {self.url}: {exc}") from None
        if h.hexdigest() != digest:
            tmp.unlink(missing_ok=True)
            raise VerificationError(f"downloaded blob does not hash to {digest[:12]}…")
        os.replace(tmp, dest)

    # -- registry -------------------------------------------------------------------------
    def register(self, manifest: Path) -> tuple[ModelVersion, bool, int | None]:
        from ordinance.model import ModelVersion

        files = manifest_files(manifest)
        digests = {rel: self.upload(p) for rel, p in files.items()}
        data = self.post_json(
            "/v1/versions",
            {
                "manifest_name": manifest.name,
                "manifest": base64.b64encode(manifest.read_bytes()).decode(),
                "files": digests,
            },
            idempotent=True,
        )
        return (
            ModelVersion.model_validate(data["version"]),
            bool(data["created"]),
            data["log_index"],
        )

    def models(self) -> list[tuple[Model, list[ModelVersion]]]:
        from ordinance.model import Model, ModelVersion

        return [
            (
                Model.model_validate(row["model"]),
                [ModelVersion.model_validate(v) for v in row["versions"]],
            )
            for row in self.get_json("/v1/models")
        ]

    def version(self, model: str, version: str | None) -> ModelVersion:
        from ordinance.model import ModelVersion

        return ModelVersion.model_validate(
            self.get_json(f"/v1/models/{model}/versions/{version or 'latest'}")
        )

    def attach(self, model: str, version: str, path: Path, **fields: Any) -> dict[str, Any]:
        try:
            digest = self.upload(path)
        except FileNotFoundError:
            raise InputError(f"{path}: file not found") from None
        body = {"sha256": digest, "filename": path.name, **fields}
        result: dict[str, Any] = self.post_json(
            f"/v1/models/{model}/versions/{version}/evidence", body, idempotent=True
        )
        return result

    # -- policy, approvals, promotions ------------------------------------------------------
    def check(self, model: str, version: str, stage: str, fmt: str) -> dict[str, Any]:
        result: dict[str, Any] = self.post_json(
            "/v1/checks",
            {"model": model, "version": version, "stage": stage, "format": fmt},
            idempotent=True,
        )
        return result

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get_json("/v1/config")
        return result

    def roster(self) -> Roster:
        from ordinance.approvals import Roster

        data = self.get_json("/v1/roster")
        data.pop("digest", None)
        return Roster.from_dict(data)

    def submit(self, kind: str, envelope: dict[str, Any], **claim: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.post_json(
            f"/v1/{kind}", {"envelope": envelope, **claim}, idempotent=False
        )
        return result

    def promote(self, model: str, version: str, to: str, demote_to: str | None) -> dict[str, Any]:
        result: dict[str, Any] = self.post_json(
            "/v1/promotions",
            {"model": model, "version": version, "to": to, "demote_to": demote_to},
            idempotent=False,
        )
        return result

    def history(self, model: str, at: str | None, proofs: bool) -> dict[str, Any]:
        result: dict[str, Any] = self.get_json(
            f"/v1/models/{model}/history", at=at, proofs=str(proofs).lower()
        )
        return result

    def approvals(self, model: str, version: str | None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get_json("/v1/approvals", model=model, version=version)
        return result

    def attestation(self, model: str, version: str) -> bytes:
        return self.request(
            "GET", f"/v1/models/{model}/versions/{version}/attestation", idempotent=True
        ).content

    def render(self, **body: Any) -> tuple[bytes, int | None]:
        """A card or report rendered (and logged) by the server: its bytes and log index."""
        clean = {k: v for k, v in body.items() if v is not None}
        resp = self.request("POST", "/v1/renderings", idempotent=False, json=clean)
        index = resp.headers.get("X-Ordinance-Log-Index")
        return resp.content, None if index is None else int(index)

    def publish(self, out_dir: Path) -> list[Path]:
        """The server's static catalog, unpacked into ``out_dir``: regular files only, each
        name confined to ``out_dir`` (a hostile archive cannot write elsewhere)."""
        import io
        import tarfile

        resp = self.request("POST", "/v1/catalog", idempotent=False)
        written: list[Path] = []
        with tarfile.open(fileobj=io.BytesIO(resp.content), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = PurePosixPath(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts:
                    raise InputError(f"the server's catalog holds an unsafe entry {member.name!r}")
            out_dir.mkdir(parents=True, exist_ok=True)
            tar.extractall(out_dir, filter="data")
            written = [out_dir / m.name for m in tar.getmembers()]
        return written

    def rollback(self, model: str, to_version: str) -> dict[str, Any]:
        result: dict[str, Any] = self.post_json(
            "/v1/rollbacks", {"model": model, "to_version": to_version}, idempotent=False
        )
        return result

    def archive(self, model: str, version: str) -> dict[str, Any]:
        result: dict[str, Any] = self.post_json(
            "/v1/archives", {"model": model, "version": version}, idempotent=False
        )
        return result

    # -- log --------------------------------------------------------------------------------
    def log_entries(
        self, model: str | None, since: str | None, predicate_type: str | None
    ) -> Iterator[dict[str, Any]]:
        """Log entries as ``LogEntry.to_dict()`` rows, in log order, page by page."""
        after = -1
        while True:
            page = self.get_json(
                "/v1/log/entries",
                model=model,
                since=since,
                predicate_type=predicate_type,
                after=after,
            )
            yield from page["entries"]
            if page["next"] is None:
                return
            after = int(page["next"])

    def prove(self, index: int) -> str:
        return self.request("GET", f"/v1/log/proof/{index}", idempotent=True).text

    def consistency(self, old: int, new: int) -> list[str]:
        proof: list[str] = self.get_json("/v1/log/consistency", old=old, new=new)["proof"]
        return proof

    def checkpoint(self) -> str:
        return self.request("GET", "/v1/log/checkpoint", idempotent=True).text

    def vkey(self) -> str:
        return self.request("GET", "/v1/log/vkey", idempotent=True).text.strip()

    def bundle(self, out: Path) -> Path:
        """Download the server's audit bundle into ``out`` (new or empty directory)."""
        import tempfile

        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise InputError(f"{out} is not empty; export into a new directory")
        import httpx

        with tempfile.TemporaryFile() as buf:
            try:  # streamed to disk: a bundle of millions of entries never sits in memory
                with self._http().stream("GET", "/v1/log/bundle") as resp:
                    if resp.status_code != 200:
                        resp.read()
                        _raise_for(resp)
                    for chunk in resp.iter_bytes(_CHUNK):
                        buf.write(chunk)
            except httpx.TransportError as exc:
                raise InfrastructureError(
                    f"cannot download the bundle from {self.url}: {exc}"
                ) from None
            buf.seek(0)
            with tarfile.open(fileobj=buf, mode="r") as tar:
                for member in tar.getmembers():
                    name = PurePosixPath(member.name)
                    if not member.isfile() or len(name.parts) != 1 or name.name.startswith("."):
                        raise VerificationError(f"unexpected bundle member {member.name!r}")
                    src = tar.extractfile(member)
                    assert src is not None
                    (out / name.name).write_bytes(src.read())
        return out


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def manifest_files(manifest: Path) -> dict[str, Path]:
    """Every file a manifest references, by POSIX path relative to the manifest."""
    from ordinance._yamlloc import load_document, parse_as
    from ordinance.errors import Location
    from ordinance.identity import DEFAULT_IGNORE
    from ordinance.manifest import Manifest

    data, locator = load_document(manifest, ManifestError)
    if not isinstance(data, dict):
        raise ManifestError(Location(str(manifest), 1, 1), "a manifest must be a mapping")
    m = parse_as(Manifest, data, locator, ManifestError)
    base = manifest.parent
    refs: list[tuple[str, tuple[str | int, ...]]] = [(m.artifacts.path, ("artifacts", "path"))]
    refs += [
        (d.path, ("lineage", "datasets", i, "path"))
        for i, d in enumerate(m.lineage.datasets)
        if d.path is not None
    ]
    refs += [(e.path, ("evidence", i, "path")) for i, e in enumerate(m.evidence)]
    out: dict[str, Path] = {}
    for rel, where in refs:
        if PurePosixPath(rel).is_absolute() or Path(rel).is_absolute():
            raise ManifestError(
                locator.locate(where), f"{rel}: use a path relative to the manifest in server mode"
            )
        full = base / rel
        if not full.exists():
            raise ManifestError(locator.locate(where), f"file not found: {rel}")
        if full.is_dir():
            for dirpath, dirnames, filenames in os.walk(full):
                top = Path(dirpath) == full
                dirnames[:] = [d for d in dirnames if not (top and d in DEFAULT_IGNORE)]
                for fn in filenames:
                    if top and fn in DEFAULT_IGNORE:
                        continue
                    p = Path(dirpath) / fn
                    out[PurePosixPath(rel, p.relative_to(full).as_posix()).as_posix()] = p
        else:
            out[PurePosixPath(rel).as_posix()] = full
    return out
