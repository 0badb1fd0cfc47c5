"""Waivers: a scoped, justified, approved and expiring exception to one rule.

A waiver file (``ordinance check --waivers FILE``)::

    apiVersion: ordinance/v1
    kind: Waivers
    waivers:
      - id: W-2026-001
        rule: fairness-fnr-ethnicity      # a rule id, or PACK/RULE-ID
        model: credit-risk                # exact name or glob
        versions: "1.0.*"                 # exact, glob, or range ">=1.0.0,<1.1.0"
        stages: [staging]                 # optional: only for these target stages
        justification: ...
        approved_by: risk-officer@bank.example
        approved_at: 2026-01-20           # optional
        expires: 2026-03-31               # a date (valid through that day, UTC) or timestamp

A waiver turns a failing (``fail``, ``warn`` or ``error``) result of the rule it names into
``waived``, never ``pass``. Every waiver given is reported with what became of it:
``applied``; ``unused`` (the rule passed, so nothing was waived); ``expired``;
``out_of_scope`` (another model, version or stage); ``unknown_rule``; ``not_yet_valid``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from ordinance._bounds import check_time
from ordinance._canonical import sha256_hex
from ordinance._yamlloc import parse_as
from ordinance.errors import Location, PolicyLoadError
from ordinance.model import ModelVersion
from ordinance.policy.pack import _Doc, _read_yaml

__all__ = ["Waiver", "WaiverStatus", "load_waivers", "version_matches"]

WaiverStatus = Literal[
    "applied", "unused", "expired", "out_of_scope", "unknown_rule", "not_yet_valid"
]
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([A-Za-z0-9][A-Za-z0-9._+-]*)\s*$")


def _version_key(v: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in re.findall(r"\d+|[A-Za-z]+", v))


def _check_versions(spec: str) -> str:
    if any(c in spec for c in "<>=!"):
        for clause in spec.split(","):
            if not _CLAUSE.match(clause):
                raise ValueError(
                    f"bad version range clause {clause.strip()!r} (use e.g. '>=1.0.0,<2.0.0')"
                )
    return spec


def version_matches(spec: str, version: str) -> bool:
    """Exact (``1.2.0``), glob (``1.2.*``) or range (``>=1.2.0,<1.3``; numeric parts compared
    as numbers)."""
    if any(c in spec for c in "<>=!"):
        key = _version_key(version)
        for clause in spec.split(","):
            m = _CLAUSE.match(clause)
            assert m is not None  # checked when the waiver was parsed
            op, other = m.group(1), _version_key(m.group(2))
            ok = {
                ">=": key >= other,
                "<=": key <= other,
                ">": key > other,
                "<": key < other,
                "==": key == other,
                "!=": key != other,
            }[op]
            if not ok:
                return False
        return True
    if any(c in spec for c in "*?["):
        return fnmatch.fnmatchcase(version, spec)
    return spec == version


class WaiverDoc(_Doc):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    rule: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")
    model: str = Field(min_length=1)
    versions: str = Field(min_length=1)
    stages: tuple[str, ...] | None = Field(default=None, min_length=1)
    justification: str = Field(min_length=10)
    approved_by: str = Field(min_length=1)
    approved_at: datetime | date | None = None
    expires: datetime | date

    @field_validator("versions")
    @classmethod
    def _versions(cls, v: str) -> str:
        return _check_versions(v)

    @field_validator("expires", "approved_at")
    @classmethod
    def _aware(cls, v: datetime | date | None) -> datetime | date | None:
        if isinstance(v, datetime) and v.tzinfo is None:
            raise ValueError("a timestamp needs a timezone (e.g. 2026-03-31T00:00:00Z)")
        if v is not None:
            check_time(v)
        return v


class WaiverFile(_Doc):
    apiVersion: Literal["ordinance/v1"]
    kind: Literal["Waivers"]
    waivers: tuple[WaiverDoc, ...] = ()


def _instant(value: datetime | date, *, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    start = datetime.combine(value, time(0, 0), tzinfo=UTC)
    return start + timedelta(days=1) if end_of_day else start


@dataclass(frozen=True)
class Waiver:
    """One waiver, from a waiver file or (later) a signed waiver record."""

    id: str
    rule: str
    model: str
    versions: str
    justification: str
    approved_by: str
    expires_at: datetime
    stages: tuple[str, ...] | None = None
    approved_at: datetime | None = None
    #: where it came from (file path or log entry) and that source's SHA-256
    origin: str = ""
    digest: str = ""

    def __post_init__(self) -> None:
        _check_versions(self.versions)

    def names(self, pack: str, rule_id: str) -> bool:
        return self.rule in (rule_id, f"{pack}/{rule_id}")

    def excludes(self, version: ModelVersion, stage: str) -> str | None:
        """Why this waiver does not cover the version and stage (``None``: it does)."""
        if not fnmatch.fnmatchcase(version.model.name, self.model):
            return f"for model {self.model}, not {version.model.name}"
        if not version_matches(self.versions, version.version):
            return f"for versions {self.versions}, not {version.version}"
        if self.stages is not None and stage not in self.stages:
            return f"for stages {', '.join(self.stages)}, not {stage}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "model": self.model,
            "versions": self.versions,
            "stages": None if self.stages is None else list(self.stages),
            "justification": self.justification,
            "approved_by": self.approved_by,
            "approved_at": None if self.approved_at is None else self.approved_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "origin": self.origin,
            "digest": self.digest,
        }


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Read a waiver file; a problem is a :class:`PolicyLoadError` naming file and line."""
    raw, data, locator = _read_yaml(path, Location(str(path)))
    doc = parse_as(WaiverFile, data, locator, PolicyLoadError)
    digest = sha256_hex(raw)
    seen: dict[str, int] = {}
    out: list[Waiver] = []
    for i, w in enumerate(doc.waivers):
        if w.id in seen:
            raise PolicyLoadError(
                locator.locate(("waivers", i, "id")), f"duplicate waiver id {w.id!r}"
            )
        seen[w.id] = i
        out.append(
            Waiver(
                id=w.id,
                rule=w.rule,
                model=w.model,
                versions=w.versions,
                justification=w.justification.strip(),
                approved_by=w.approved_by,
                expires_at=_instant(w.expires, end_of_day=True),
                stages=w.stages,
                approved_at=None
                if w.approved_at is None
                else _instant(w.approved_at, end_of_day=False),
                origin=str(path),
                digest=digest,
            )
        )
    return tuple(out)


def decide(
    waiver: Waiver,
    version: ModelVersion,
    stage: str,
    now: datetime,
    targets: Sequence[tuple[str, str]],
) -> tuple[WaiverStatus, str] | None:
    """Why a waiver cannot apply here, or ``None`` if it may apply to its targets."""
    if not targets:
        return "unknown_rule", f"no rule {waiver.rule!r} in the evaluated packs"
    why = waiver.excludes(version, stage)
    if why is not None:
        return "out_of_scope", why
    if waiver.expires_at <= now:
        return "expired", f"expired {waiver.expires_at.isoformat()}"
    if waiver.approved_at is not None and waiver.approved_at > now:
        return "not_yet_valid", f"approved only from {waiver.approved_at.isoformat()}"
    return None
