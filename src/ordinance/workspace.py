"""An Ordinance workspace: config, database, evidence store and keys under one directory.

Layout of ``.ordinance/`` (or ``$ORDINANCE_HOME``)::

    config.yaml        workspace settings (database URL without password, stages, log origin,
                       policies, evidence backend); safe to commit
    secrets.yaml       secrets that must not be committed (the database password), 0600
    ordinance.db          the embedded SQLite database (unless ``db`` points elsewhere)
    evidence/sha256/   content-addressed evidence files
    keys/log.key       the log's Ed25519 private key (0600); keys/log.vkey its verifier key

:meth:`Workspace.open` reads the config only; it never creates tables or directories.
:func:`init_workspace` and :meth:`Workspace.upgrade_schema` are the explicit steps that do.

A :class:`Workspace` is the composition root: it builds the narrow collaborators (the
registry, the gate, the signing log, the evidence store, the database) and hands them to the
pipelines that do the work, :mod:`ordinance.promotion` (:meth:`Workspace.promotion`) and
:mod:`ordinance.registration` (:meth:`Workspace.registration`), which never see the workspace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ordinance._yamlloc import load_document, parse_as
from ordinance.errors import (
    InfrastructureError,
    InputError,
    LocatedInputError,
    Location,
    OrdinanceError,
)
from ordinance.model import (
    DEFAULT_RISK_TIERS,
    DEFAULT_STAGES,
    RISK_TIER_PATTERN,
)
from ordinance.storage import EvidenceBackend, EvidenceConfig, open_evidence_store
from ordinance.store._engine import make_engine

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from ordinance.gate import Gate
    from ordinance.ledger import Ledger
    from ordinance.log import TransparencyLog
    from ordinance.policy import Evaluation as PolicyEvaluation
    from ordinance.promotion import PromotionParts
    from ordinance.registration import AttachResult, RegisterResult, RegistrationParts
    from ordinance.signing import Signer
    from ordinance.store.registry import SqlRegistry

HOME_DIRNAME = ".ordinance"
CONFIG_FILE = "config.yaml"
SECRETS_FILE = "secrets.yaml"


class ConfigError(LocatedInputError):
    """The workspace config file does not parse or validate."""


class LogConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    origin: str = Field(default="ordinance.local/workspace", pattern=r"^[^\s+]+$")
    key: str = "keys/log.key"


class WorkspaceConfig(BaseModel):
    """``config.yaml``: validated on open."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ordinance: int = 1
    db: str | None = None
    stages: tuple[str, ...] = DEFAULT_STAGES
    initial_stage: str = "development"
    exclusive_stages: tuple[str, ...] = ("production",)
    log: LogConfig = LogConfig()
    policies: dict[str, list[str]] = Field(default_factory=dict)
    #: the risk tiers versions may declare, each with the packs it adds at every stage that
    #: has policies (``{low: [], high: [./packs/high.yaml]}``); default: the EU AI Act's four
    #: tiers, adding nothing
    risk_tiers: dict[str, list[str]] | None = None
    roster: str | None = None
    evidence: EvidenceConfig = EvidenceConfig()
    #: settings of ``ordinance serve`` (OIDC issuers, limits), parsed by the server package
    server: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _stages_ok(self) -> WorkspaceConfig:
        if len(set(self.stages)) != len(self.stages) or not self.stages:
            raise ValueError("stages must be a non-empty list of distinct names")
        for s in (self.initial_stage, *self.exclusive_stages, *self.policies):
            if s not in self.stages:
                raise ValueError(f"stage {s!r} is not in stages {list(self.stages)}")
        if self.risk_tiers is not None:
            import re

            if not self.risk_tiers:
                raise ValueError("risk_tiers, when given, must name at least one tier")
            for t in self.risk_tiers:
                if not re.fullmatch(RISK_TIER_PATTERN, t):
                    raise ValueError(f"bad risk tier name {t!r} (lowercase letters, digits, _ -)")
        return self

    @property
    def tier_names(self) -> tuple[str, ...]:
        """The risk tiers a version may declare."""
        return DEFAULT_RISK_TIERS if self.risk_tiers is None else tuple(self.risk_tiers)

    @property
    def log_origin(self) -> str:
        return self.log.origin


def default_home(cwd: Path | None = None) -> Path:
    env = os.environ.get("ORDINANCE_HOME")
    if env:
        return Path(env)
    return (cwd or Path.cwd()) / HOME_DIRNAME


@dataclass
class Workspace:
    """An opened workspace. Cheap to create; connects to the database on first use."""

    home: Path
    config: WorkspaceConfig
    db_url: str
    _engine: Engine | None = field(default=None, repr=False)
    #: connections the engine may hold at once (None: the default; the server sizes it to
    #: its request threads before first use)
    db_pool: int | None = field(default=None, repr=False)
    #: the log's signer when it is not the key file (``ordinance serve`` loads it once, or a
    #: KMS/PKCS#11 signer is injected here; see docs/deploy.md)
    log_signer: Signer | None = field(default=None, repr=False)
    _ledger: Ledger | None = field(default=None, repr=False)
    #: asks for the log key's passphrase when the key is encrypted and
    #: ``ORDINANCE_LOG_KEY_PASSPHRASE`` is not set (the CLI prompts on a terminal)
    passphrase_prompt: Callable[[], bytes] | None = field(default=None, repr=False)

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, home: Path | None = None, *, db_url: str | None = None) -> Workspace:
        home = home if home is not None else default_home()
        cfg_path = home / CONFIG_FILE
        if not cfg_path.exists() and not cfg_path.is_symlink():
            raise InputError(
                f"no Ordinance workspace at {home} (run `ordinance init`, or set ORDINANCE_HOME / --home)"
            )
        data, locator = load_document(cfg_path, ConfigError)
        config = parse_as(WorkspaceConfig, data or {}, locator, ConfigError)
        url = db_url or os.environ.get("ORDINANCE_DB") or config.db or _sqlite_url(home)
        return cls(home=home, config=config, db_url=_with_password(url, home))

    # -- parts ------------------------------------------------------------------------------
    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def log_key_path(self) -> Path:
        return self.home / self.config.log.key

    @property
    def log_vkey_path(self) -> Path:
        return self.log_key_path.with_suffix(".vkey")

    @cached_property
    def evidence(self) -> EvidenceBackend:
        return open_evidence_store(self.config.evidence, self.home)

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.db_url, pool=self.db_pool)
        return self._engine

    def gate(self) -> Gate:
        """The gate, built from this workspace's narrow collaborators (config, pack base
        directory, evidence store, champion lookup, approval store)."""
        from ordinance.approvals.collect import ApprovalCollector
        from ordinance.gate import Gate
        from ordinance.store._approval_tables import ApprovalStore

        return Gate(
            config=self.config,
            policy_base=self.home,
            evidence=self.evidence,
            champion=self.registry().find_version_in_stage,
            approvals=ApprovalCollector(ApprovalStore(self.engine(), guard=self.ledger())),
        )

    def registry(self) -> SqlRegistry:
        """The registry index, every read checked against the log (when there is one)."""
        from ordinance.store.registry import SqlRegistry

        return SqlRegistry(self.engine(), guard=self.ledger())

    def ledger(self) -> Ledger | None:
        """What checks index rows against the verified log; ``None`` without a log key."""
        if self._ledger is None and self.log_vkey_path.is_file():
            from ordinance.ledger import Ledger

            self._ledger = Ledger(self.log_reader())
        return self._ledger

    @contextmanager
    def write_transaction(self, what: str = "write") -> Iterator[Connection]:
        """One database transaction for writes that must land together or not at all
        (see :func:`ordinance.store.transaction.write_transaction`)."""
        from ordinance.store.transaction import write_transaction

        with write_transaction(self.engine(), what) as conn:
            yield conn

    def promotion(self) -> PromotionParts:
        """The promotion pipeline's collaborators, built once: the config, the database,
        the registry, the gate, and the signing log (opened when the pipeline asks)."""
        from ordinance.promotion import PromotionParts

        return PromotionParts(
            config=self.config,
            engine=self.engine(),
            registry=self.registry(),
            gate=self.gate(),
            open_log=lambda: self.require_log("promote"),
        )

    def audit_log(self) -> TransparencyLog:
        from ordinance.log import TransparencyLog, open_log

        if self.log_signer is not None:
            return TransparencyLog(
                self.engine(),
                self.log_signer,
                self.config.log_origin,
                trust_path=self.trusted_head_path,
            )
        return open_log(
            self.engine(),
            self.log_key_path,
            self.config.log_origin,
            passphrase=self._log_key_passphrase(),
            trust_path=self.trusted_head_path,
        )

    def _log_key_passphrase(self) -> bytes | None:
        """The log key's passphrase: ``ORDINANCE_LOG_KEY_PASSPHRASE``, else asked for once."""
        env = os.environ.get("ORDINANCE_LOG_KEY_PASSPHRASE")
        if env:
            return env.encode()
        if self.passphrase_prompt is None:
            return None
        from ordinance.signing import key_is_encrypted

        if not self.log_key_path.exists() or not key_is_encrypted(self.log_key_path):
            return None
        secret = self.passphrase_prompt()
        self.passphrase_prompt = lambda: secret  # ask once per process
        return secret

    @property
    def trusted_head_path(self) -> Path:
        """Where this workspace keeps the log head it has verified (see ``log/trusted.py``)."""
        return self.home / "state" / "log-head.json"

    def log_reader(self) -> TransparencyLog:
        """The audit log opened with the verifier key only (reads and verification)."""
        from ordinance.log import TransparencyLog

        return TransparencyLog.reader(
            self.engine(), self.vkey(), self.config.log_origin, trust_path=self.trusted_head_path
        )

    def vkey(self) -> str:
        try:
            return self.log_vkey_path.read_text().strip()
        except OSError as exc:
            raise InfrastructureError(f"cannot read the log verifier key: {exc}") from exc

    def upgrade_schema(self) -> tuple[str | None, str]:
        from ordinance.store.migrate import upgrade

        return upgrade(self.engine())

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._ledger = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the registration story (ordinance.registration) ------------------------------------
    def registration(self) -> RegistrationParts:
        """What registration and evidence attachment work with, built once."""
        from ordinance.registration import RegistrationParts

        return RegistrationParts(
            initial_stage=self.config.initial_stage,
            engine=self.engine(),
            registry=self.registry(),
            gate=self.gate(),
            evidence=self.evidence,
            require_log=self.require_log,
        )

    def register(self, manifest: Path, *, now: datetime | None = None) -> RegisterResult:
        """Register the version a manifest describes: validate, hash, store, log
        (see :func:`ordinance.registration.register`).

        Everything that can fail on bad input fails before anything is written. Re-registering
        an identical manifest is a no-op; a different manifest for the same version is refused.
        """
        from ordinance.registration import register

        return register(self.registration(), manifest, now=now)

    def attach_evidence(
        self,
        model: str,
        version: str,
        path: Path,
        *,
        kind: str,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        description: str = "",
        actor: str = "",
        now: datetime | None = None,
    ) -> AttachResult:
        """Attach a file produced after registration (a validation or drift report, an
        explainability artifact) to a version: stored by digest, recorded, and logged
        (see :func:`ordinance.registration.attach_evidence`).

        Evidence is append-only: attaching the same kind/name again with the same bytes is a
        no-op, with different bytes it is refused.
        """
        from ordinance.registration import attach_evidence

        return attach_evidence(
            self.registration(),
            model,
            version,
            path,
            kind=kind,
            name=name,
            attributes=attributes,
            description=description,
            actor=actor,
            now=now,
        )

    def can_log(self) -> bool:
        """Whether this workspace can sign log entries: an injected signer, or the key file."""
        return self.log_signer is not None or self.log_key_path.is_file()

    def _open_log(self) -> TransparencyLog | None:
        """The audit log, or None when the workspace has no log key. Callers that then take
        the writer lock open it first: decrypting the key can be slow."""
        if not self.can_log():
            return None
        return self.audit_log()

    def require_log(self, what: str) -> TransparencyLog:
        """The audit log for a write that must be logged; refuses (nothing written) when the
        workspace cannot log. Every command that writes calls it before writing."""
        if not self.can_log():
            raise InfrastructureError(
                f"cannot {what}: the workspace has no log key at {self.log_key_path}, and "
                "Ordinance writes nothing it cannot log (restore the key, or run "
                "`ordinance init` on a new workspace); nothing was written"
            )
        return self.audit_log()

    def append_to_log(
        self,
        statement: dict[str, Any],
        *,
        conn: Connection | None = None,
        log: TransparencyLog | None = None,
    ) -> int:
        """Append one statement to the audit log (refused when the workspace cannot log).

        With ``conn`` the append joins the caller's open transaction (see
        :meth:`TransparencyLog.append_statements_in`) and commits with it. ``log`` is the
        already opened audit log, if the caller has it.
        """
        if log is None:
            log = self.require_log("write to the log")
        if conn is not None:
            return log.append_statements_in(conn, [statement])[0]
        return log.append_statements([statement])[0]

    def record_evaluation(self, evaluation: PolicyEvaluation) -> int:
        """Store a policy evaluation and log it as a SLSA VSA; returns its log index."""
        from ordinance.recording import record_evaluation

        log = self.require_log("record the evaluation")
        return record_evaluation(
            evaluation, log=log, registry=self.registry(), engine=self.engine()
        )


def _sqlite_url(home: Path) -> str:
    return f"sqlite:///{(home / 'ordinance.db').resolve()}"


def _with_password(url: str, home: Path) -> str:
    """Add the database password kept out of ``config.yaml``: ``$ORDINANCE_DB_PASSWORD``,
    else ``db_password`` in ``secrets.yaml`` (0600) next to the config."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return url
    if u.password is not None or u.get_backend_name() == "sqlite":
        return url
    password = os.environ.get("ORDINANCE_DB_PASSWORD")
    if password is None:
        secrets_path = home / SECRETS_FILE
        if secrets_path.is_file():
            try:
                data = yaml.safe_load(secrets_path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise InfrastructureError(f"cannot read {secrets_path}: {exc}") from None
            if isinstance(data, dict) and data.get("db_password") is not None:
                password = str(data["db_password"])
    if password is None:
        return url
    return u.set(password=password).render_as_string(hide_password=False)


def _split_password(db_url: str) -> tuple[str, str | None]:
    """The URL without its password (for ``config.yaml``) and the password."""
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    if u.password is None:
        return db_url, None
    return u._replace(password=None).render_as_string(hide_password=False), str(u.password)


def init_workspace(
    home: Path,
    *,
    db_url: str | None = None,
    origin: str | None = None,
    stages: tuple[str, ...] | None = None,
    policies: dict[str, list[str]] | None = None,
    evidence: EvidenceConfig | None = None,
    passphrase: bytes | None = None,
) -> Workspace:
    """Create (or re-open and upgrade) a workspace: directories, config, log key, schema.

    The log key is encrypted with ``passphrase`` (or ``ORDINANCE_LOG_KEY_PASSPHRASE``) when
    one is given; see docs/security.md for holding it.

    A database that already holds a log signed by another key is refused: a second
    workspace on a team database must not create a second, unusable log key (use
    ``ordinance serve`` and point clients at it with ``ORDINANCE_URL``).
    """
    cfg_path = home / CONFIG_FILE
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / "evidence").mkdir(exist_ok=True)
        (home / "keys").mkdir(mode=0o700, exist_ok=True)
        if not cfg_path.exists():
            cfg: dict[str, Any] = {"ordinance": 1}
            if db_url:
                # the password never goes into config.yaml (the file teams commit)
                cfg["db"], password = _split_password(db_url)
                if password is not None:
                    _write_secret(home / SECRETS_FILE, {"db_password": password})
            if evidence is not None:
                cfg["evidence"] = evidence.model_dump(exclude_defaults=True)
            if stages:
                cfg["stages"] = list(stages)
            cfg["log"] = {"origin": origin or f"ordinance.local/{_origin_name(home)}"}
            cfg["policies"] = (
                policies
                if policies is not None
                else {
                    "staging": ["ordinance:baseline"],
                    "production": ["ordinance:baseline"],
                }
            )
            try:
                WorkspaceConfig.model_validate(cfg)
            except Exception as exc:
                raise InputError(f"invalid workspace settings: {exc}") from None
            from ordinance._files import atomic_write_text

            atomic_write_text(
                cfg_path,
                "# Ordinance workspace configuration\n" + yaml.safe_dump(cfg, sort_keys=False),
            )
    except OSError as exc:
        raise InfrastructureError(f"cannot create workspace at {home}: {exc}") from exc
    ws = Workspace.open(home, db_url=db_url)
    try:
        ws.upgrade_schema()
        if not ws.log_key_path.exists():
            _refuse_second_key(ws)
            from ordinance.signing import generate_key

            env = os.environ.get("ORDINANCE_LOG_KEY_PASSPHRASE")
            generate_key(
                ws.log_key_path,
                ws.config.log_origin,
                passphrase or (env.encode() if env else None),
            )
    except BaseException:
        ws.close()
        raise
    return ws


def _refuse_second_key(ws: Workspace) -> None:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from ordinance.log.schema import checkpoints_t

    try:
        with ws.engine().connect() as conn:
            row = conn.execute(
                select(checkpoints_t.c.note).order_by(checkpoints_t.c.tree_size.desc()).limit(1)
            ).first()
    except SQLAlchemyError as exc:
        raise InfrastructureError(f"cannot read the log: {exc}") from exc
    if row is not None:
        signer = str(row[0]).split("\n\n", 1)[-1].strip().split("\n")[0]
        raise InputError(
            f"the database {_hide_password(ws.db_url)} already holds an audit log "
            f"({signer[:60]}…) and this workspace has no key for it: refusing to create a "
            "second log key. Run `ordinance serve` on the workspace that owns the log and use "
            "ORDINANCE_URL/ORDINANCE_TOKEN here, or restore that workspace's keys/"
        )


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _write_secret(path: Path, data: dict[str, Any]) -> None:
    from ordinance._files import atomic_write_text

    atomic_write_text(
        path,
        "# Ordinance secrets: never commit this file (0600)\n" + yaml.safe_dump(data),
        mode=0o600,
    )
    gitignore = path.parent / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, "secrets.yaml\nkeys/\n*.key\ncache/\nspool/\n")


def _origin_name(home: Path) -> str:
    base = home.resolve().parent.name if home.name == HOME_DIRNAME else home.resolve().name
    cleaned = "".join(c if c.isalnum() or c in "-._" else "-" for c in base).strip("-.")
    return cleaned or "workspace"


__all__ = [
    "ConfigError",
    "Location",
    "OrdinanceError",
    "Workspace",
    "WorkspaceConfig",
    "init_workspace",
]
