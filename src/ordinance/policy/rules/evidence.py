"""Rules about evidence files: ``evidence.fresh``, ``artifacts.integrity``,
``explainability.required``."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from ordinance._canonical import sha256_file
from ordinance.errors import InputError, OrdinanceError
from ordinance.model import Evidence
from ordinance.policy.context import RuleContext
from ordinance.policy.results import RuleResult
from ordinance.policy.rules._base import Params, fmt, plural

_DAY = 86400.0


class FreshParams(Params):
    kind: str = Field(min_length=1)
    max_age_days: float = Field(gt=0)
    #: only evidence with this name (default: any of the kind)
    name: str | None = None


class EvidenceFresh:
    """The newest evidence of a kind is at most ``max_age_days`` old at the context's clock."""

    type_name: ClassVar[str] = "evidence.fresh"
    Params: ClassVar[type[BaseModel]] = FreshParams

    def __init__(self, params: FreshParams) -> None:
        self.params = params

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        p = self.params
        items = [e for e in ctx.version.evidence_of(p.kind) if p.name is None or e.name == p.name]
        threshold = {"max_age_days": p.max_age_days}
        if not items:
            named = f" named {p.name!r}" if p.name else ""
            return RuleResult.errored(
                f"no {p.kind} evidence{named} is registered", threshold=threshold
            )
        newest = max(items, key=lambda e: e.created_at)
        age = (ctx.now - newest.created_at).total_seconds() / _DAY
        measured = {
            "age_days": round(age, 3),
            "created_at": newest.created_at.isoformat(),
            "name": newest.name,
        }
        if age < 0:
            return RuleResult.failed(
                f"{p.kind} {newest.name!r} is dated in the future "
                f"({newest.created_at.isoformat()})",
                measured=measured,
                threshold=threshold,
                evidence=[newest.sha256],
            )
        return RuleResult.check(
            age <= p.max_age_days,
            f"{p.kind} {newest.name!r} is {fmt(age)} days old "
            f"({'<=' if age <= p.max_age_days else '>'} {fmt(p.max_age_days)})",
            measured=measured,
            threshold=threshold,
            evidence=[newest.sha256],
        )

    def describe(self) -> str:
        named = f" named {self.params.name!r}" if self.params.name else ""
        return (
            f"{self.params.kind} evidence{named} exists and is at most "
            f"{fmt(self.params.max_age_days)} days old"
        )


class IntegrityParams(Params):
    #: evidence kinds to check (default: every evidence file)
    kinds: tuple[str, ...] | None = Field(default=None, min_length=1)


def file_digest(ctx: RuleContext, item: Evidence) -> tuple[str, int]:
    """SHA-256 and size of an evidence file, computed once per evaluation."""
    path = ctx.evidence_path(item)
    return ctx.memo(("sha256_file", item.sha256), lambda: sha256_file(path))


class ArtifactsIntegrity:
    """Every (selected) evidence file still hashes to the digest it was registered with."""

    type_name: ClassVar[str] = "artifacts.integrity"
    Params: ClassVar[type[BaseModel]] = IntegrityParams

    def __init__(self, params: IntegrityParams) -> None:
        self.params = params

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        kinds = self.params.kinds
        items = [e for e in ctx.version.evidence if kinds is None or e.kind in kinds]
        threshold = {"kinds": None if kinds is None else list(kinds)}
        if not items:
            return RuleResult.errored("no evidence files to check", threshold=threshold)
        missing: list[str] = []
        changed: list[str] = []
        for e in items:
            try:
                digest, size = file_digest(ctx, e)
            except OrdinanceError:
                missing.append(e.name)
                continue
            if digest != e.sha256 or size != e.size:
                changed.append(e.name)
        measured = {"checked": len(items), "missing": missing, "mismatched": changed}
        digests = [e.sha256 for e in items]
        if missing or changed:
            parts = []
            if changed:
                parts.append(f"changed since registration: {', '.join(changed)}")
            if missing:
                parts.append(f"missing from the store: {', '.join(missing)}")
            return RuleResult.failed(
                "; ".join(parts), measured=measured, threshold=threshold, evidence=digests
            )
        return RuleResult.passed(
            f"{plural(len(items), 'evidence file')} match their registered digests",
            measured=measured,
            threshold=threshold,
            evidence=digests,
        )

    def describe(self) -> str:
        which = (
            "every evidence file"
            if self.params.kinds is None
            else (f"every evidence file of kind {', '.join(self.params.kinds)}")
        )
        return f"{which} still hashes to the SHA-256 digest it was registered with"


class ExplainabilityParams(Params):
    #: artifact kinds (``permutation_importance``, ``shap``, ``feature_importance``)
    kinds: tuple[str, ...] = Field(min_length=1)
    #: ``all``: one bound artifact of every kind; ``any``: one of any listed kind
    require: Literal["all", "any"] = "all"
    #: the evidence kind holding explainability artifacts (JSON files)
    evidence_kind: str = "explainability"


def read_json(ctx: RuleContext, item: Evidence) -> Any:
    """An evidence file parsed as JSON, once per evaluation."""
    path = ctx.evidence_path(item)

    def load() -> Any:
        try:
            return json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{item.kind} {item.name!r} is not JSON: {exc}") from None

    return ctx.memo(("json", item.sha256), load)


def artifact_kind(artifact: Any, item: Evidence) -> str | None:
    """An explainability artifact's kind: its own ``kind`` field, else the evidence attribute."""
    if isinstance(artifact, dict) and isinstance(artifact.get("kind"), str):
        return str(artifact["kind"])
    kind = item.attributes.get("kind")
    return kind if isinstance(kind, str) else None


class ExplainabilityRequired:
    """Explainability artifacts of each kind exist **and** are bound to this version's model
    identity digest; an artifact computed for another version does not count."""

    type_name: ClassVar[str] = "explainability.required"
    Params: ClassVar[type[BaseModel]] = ExplainabilityParams

    def __init__(self, params: ExplainabilityParams) -> None:
        self.params = params

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        from ordinance.metrics.explain import artifact_binds_to

        p = self.params
        identity = ctx.version.identity.sha256
        bound: dict[str, str] = {}
        unbound: list[str] = []
        used: list[str] = []
        for item in ctx.version.evidence_of(p.evidence_kind):
            artifact = read_json(ctx, item)
            kind = artifact_kind(artifact, item)
            if kind not in p.kinds:
                continue
            used.append(item.sha256)
            if isinstance(artifact, dict) and artifact_binds_to(artifact, identity):
                bound.setdefault(kind, item.name)
            else:
                unbound.append(item.name)
        missing = [k for k in p.kinds if k not in bound]
        if p.require == "any" and bound:
            missing = []
        measured = {"bound": bound, "not_bound": unbound, "missing": missing}
        threshold = {"kinds": list(p.kinds)}
        if missing:
            note = f" ({', '.join(unbound)} bound to another model)" if unbound else ""
            return RuleResult.failed(
                f"no explainability artifact bound to identity {identity[:12]}… for "
                f"{', '.join(missing)}{note}",
                measured=measured,
                threshold=threshold,
                evidence=used,
            )
        return RuleResult.passed(
            f"explainability artifacts bound to this model: "
            f"{', '.join(f'{k} ({n})' for k, n in bound.items())}",
            measured=measured,
            threshold=threshold,
            evidence=used,
        )

    def describe(self) -> str:
        kinds = self.params.kinds
        which = (
            f"an explainability artifact of kind {' or '.join(kinds)}"
            if self.params.require == "any" and len(kinds) > 1
            else f"explainability artifacts of kind {', '.join(kinds)}"
        )
        return f"{which} exist bound to this version's model identity digest"
