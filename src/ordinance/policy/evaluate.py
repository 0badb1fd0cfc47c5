"""Evaluating packs on a version: run every rule, apply waivers, then decide.

The pipeline, one function per step::

    scope check and rule.evaluate(ctx), crash → error     _run_rule
      → severity (a failed warn-rule is ``warn``)           _run_rule
      → waivers (a failing result becomes ``waived``)       _apply_waivers
      → verdict from every result                           decide_verdict

The verdict is ``fail`` if any ``block`` rule failed or errored (fail closed), or if no rule
applied at all (every result ``not_applicable``: nothing was checked, which is not a pass);
``warn`` if a ``warn`` rule failed or errored, else ``pass``. Waived results do not count
against it. A rule whose scope depends on a fact the version lacks (no risk tier) errors and
blocks whatever its severity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from ordinance import uris
from ordinance._canonical import canonical_json, sha256_hex
from ordinance.errors import OrdinanceError
from ordinance.model import ModelVersion
from ordinance.policy.context import Approval, EvaluationContext, RuleContext
from ordinance.policy.pack import PolicyPack, RuleSpec, portable_ref
from ordinance.policy.results import RuleResult, Status
from ordinance.policy.waivers import Waiver, WaiverStatus, decide

__all__ = ["EVALUATION_SCHEMA", "Evaluation", "Finding", "Verdict", "WaiverUse", "evaluate"]

Verdict = Literal["pass", "warn", "fail"]
EVALUATION_SCHEMA = uris.EVALUATION_SCHEMA
VSA_PREDICATE_TYPE = uris.VSA
_FAILING = (Status.FAIL, Status.WARN, Status.ERROR)


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Finding:
    """One rule's result on the version, with the rule it came from and any waiver."""

    pack: str
    spec: RuleSpec
    result: RuleResult
    status: Status
    waiver: Waiver | None = None
    #: the status before a waiver applied (``fail``, ``warn`` or ``error``)
    waived_status: Status | None = None
    #: the rule's scope depends on a fact the version lacks: it blocks, whatever its severity
    fact_missing: bool = False

    @property
    def key(self) -> str:
        """``pack/rule-id``: unique within an evaluation and stable across re-runs."""
        return f"{self.pack}/{self.spec.id}"

    @property
    def severity(self) -> str:
        return self.spec.severity

    @property
    def blocking(self) -> bool:
        if self.fact_missing and self.status == Status.ERROR:
            return True
        return self.spec.severity == "block" and self.status in (Status.FAIL, Status.ERROR)

    @property
    def warning(self) -> bool:
        return self.status == Status.WARN or (
            self.status == Status.ERROR and self.spec.severity == "warn"
        )

    def to_dict(self, version: ModelVersion) -> dict[str, Any]:
        by_digest = {e.sha256: e for e in version.evidence}
        evidence = []
        for d in self.result.evidence:
            e = by_digest.get(d)
            evidence.append(
                {"sha256": d, "kind": e.kind if e else None, "name": e.name if e else None}
            )
        out: dict[str, Any] = {
            "rule": self.spec.id,
            "pack": self.pack,
            "type": self.spec.type,
            "status": str(self.status),
            "severity": self.spec.severity,
            "measured": self.result.measured,
            "threshold": self.result.threshold,
            "message": self.spec.text,
            "detail": self.result.detail,
            "references": list(self.spec.references),
            "waiver": None,
            "evidence": evidence,
            "params": dict(self.spec.params),
            # the file's name, not its path on this machine (results end up in the log)
            "source": {"file": portable_ref(self.spec.source.file), "line": self.spec.source.line},
        }
        if self.waiver is not None:
            out["waiver"] = {
                "id": self.waiver.id,
                "waived_status": str(self.waived_status),
                "justification": self.waiver.justification,
                "approved_by": self.waiver.approved_by,
                "expires_at": _ts(self.waiver.expires_at),
            }
        return out


@dataclass(frozen=True)
class WaiverUse:
    """What became of one waiver in this evaluation."""

    waiver: Waiver
    status: WaiverStatus
    detail: str
    rules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.waiver.to_dict(),
            "status": self.status,
            "detail": self.detail,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class Evaluation:
    """Every result of evaluating some packs on one version for one target stage.

    Storable and re-runnable: :meth:`to_dict` records the version's identity and manifest
    digests, each pack's file digests, the evidence, approvals and waivers used, and the
    reference time. :meth:`to_vsa_predicate` is the SLSA Verification Summary for the log.
    """

    version: ModelVersion
    stage: str
    evaluated_at: datetime
    packs: tuple[PolicyPack, ...]
    findings: tuple[Finding, ...]
    waivers: tuple[WaiverUse, ...] = ()
    approvals: tuple[Approval, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return decide_verdict(self.findings)

    @property
    def passed(self) -> bool:
        """Nothing blocks (the verdict is ``pass`` or ``warn``)."""
        return self.verdict != "fail"

    @property
    def nothing_applied(self) -> bool:
        """No rule applied to the version (all ``not_applicable``, or no rules at all)."""
        return no_rule_applied(self.findings)

    def reasons(self) -> list[str]:
        """Why the verdict is ``fail``: each blocking rule, or that no rule applied."""
        out = [f"{f.key}: {f.result.detail}" for f in self.blocking]
        if self.nothing_applied:
            names = ", ".join(p.name for p in self.packs) or "no packs"
            out.append(
                f"no rule of {names} applied to {self.version.ref} for {self.stage}: "
                "nothing was checked, which is not a pass"
            )
        return out

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    def counts(self) -> dict[str, int]:
        c = Counter(str(f.status) for f in self.findings)
        return {s.value: c.get(s.value, 0) for s in Status}

    def evidence_used(self) -> list[dict[str, Any]]:
        """Every evidence file a rule read, once, in the version's order."""
        used = {d for f in self.findings for d in f.result.evidence}
        return [
            {"kind": e.kind, "name": e.name, "sha256": e.sha256}
            for e in self.version.evidence
            if e.sha256 in used
        ]

    def policy_digest(self) -> tuple[str, str]:
        """(uri, sha256) of the policy: the file's digest for a single self-contained pack,
        else the digest of the canonical JSON list of every file's ``{uri, sha256}``."""
        sources = [s for p in self.packs for s in (*p.extends, p.source)]
        if len(sources) == 1:
            return sources[0].portable, sources[0].sha256
        bundle = [{"uri": s.portable, "sha256": s.sha256} for s in sources]
        uri = "ordinance:bundle/" + "+".join(p.name for p in self.packs)
        return uri, sha256_hex(canonical_json(bundle))

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (documented in ``docs/ci-gate.md``)."""
        v = self.version
        uri, digest = self.policy_digest()
        return {
            "schema": EVALUATION_SCHEMA,
            "model": v.model.name,
            "version": v.version,
            "stage": self.stage,
            "verdict": self.verdict,
            "evaluated_at": _ts(self.evaluated_at),
            "identity": {"sha256": v.identity.sha256},
            "manifest_sha256": v.manifest_sha256,
            "policies": [p.to_dict() for p in self.packs],
            "policy_bundle": {"uri": uri, "sha256": digest},
            "summary": {
                **self.counts(),
                "total": len(self.findings),
                "blocking": len(self.blocking),
            },
            "results": [f.to_dict(v) for f in self.findings],
            "waivers": [w.to_dict() for w in self.waivers],
            "approvals": [a.to_dict() for a in self.approvals],
            "inputs": {"evidence": self.evidence_used()},
        }

    def to_vsa_predicate(self, verifier_id: str, resource_uri: str) -> dict[str, Any]:
        """A SLSA ``verification_summary/v1`` predicate for this evaluation.

        ``verifiedLevels`` holds ``ORDINANCE_POLICY_<PACK>`` per pack when nothing blocks, and
        ``FAILED`` otherwise. ``inputAttestations`` lists every evidence file, approval and
        waiver file the rules used, by digest.
        """
        from ordinance import __version__

        uri, digest = self.policy_digest()
        inputs: list[dict[str, Any]] = [
            {
                "uri": f"ordinance:evidence/{e['kind']}/{e['name']}",
                "digest": {"sha256": e["sha256"]},
            }
            for e in self.evidence_used()
        ]
        inputs += [
            {"uri": f"ordinance:approval/{a.approver}", "digest": {"sha256": a.digest}}
            for a in self.approvals
            if a.digest
        ]
        seen_waiver_files = set()
        for w in self.waivers:
            if w.status == "applied" and w.waiver.digest not in seen_waiver_files:
                seen_waiver_files.add(w.waiver.digest)
                inputs.append(
                    {
                        "uri": f"ordinance:waivers/{w.waiver.origin}",
                        "digest": {"sha256": w.waiver.digest},
                    }
                )
        passed = self.passed
        return {
            "verifier": {"id": verifier_id, "version": {"ordinance": __version__}},
            "timeVerified": _ts(self.evaluated_at),
            "resourceUri": resource_uri,
            "policy": {"uri": uri, "digest": {"sha256": digest}},
            "inputAttestations": inputs,
            "verificationResult": "PASSED" if passed else "FAILED",
            "verifiedLevels": [level_name(p.name) for p in self.packs] if passed else ["FAILED"],
        }


def level_name(pack: str) -> str:
    """``ORDINANCE_POLICY_<PACK>``: a custom VSA level (never starting with ``SLSA_``)."""
    return "ORDINANCE_POLICY_" + "".join(c if c.isalnum() else "_" for c in pack.upper())


def no_rule_applied(findings: Sequence[Finding]) -> bool:
    return all(f.status == Status.NOT_APPLICABLE for f in findings)


def decide_verdict(findings: Sequence[Finding]) -> Verdict:
    if any(f.blocking for f in findings) or no_rule_applied(findings):
        return "fail"
    if any(f.warning for f in findings):
        return "warn"
    return "pass"


def _run_rule(spec: RuleSpec, ctx: RuleContext) -> RuleResult:
    """One rule, fail closed: a scope fact missing → error; out of scope → not_applicable;
    any exception → error."""
    missing = spec.missing(ctx.version)
    if missing is not None:
        return RuleResult.errored(missing)
    why = spec.excludes(ctx.version, ctx.stage)
    if why is not None:
        return RuleResult.not_applicable(why)
    try:
        result = spec.rule.evaluate(ctx)
    except OrdinanceError as exc:
        return RuleResult.errored(exc.message)
    except Exception as exc:
        return RuleResult.errored(f"rule crashed: {type(exc).__name__}: {exc}")
    if not isinstance(result, RuleResult):
        return RuleResult.errored(f"rule returned {type(result).__name__}, not a RuleResult")
    if result.status not in (Status.PASS, Status.FAIL, Status.NOT_APPLICABLE, Status.ERROR):
        return RuleResult.errored(f"rule returned status {result.status!s}")
    return result


def _finding(
    pack: PolicyPack, spec: RuleSpec, result: RuleResult, version: ModelVersion
) -> Finding:
    status = result.status
    if status == Status.FAIL and spec.severity == "warn":
        status = Status.WARN
    return Finding(pack.name, spec, result, status, fact_missing=spec.missing(version) is not None)


def _apply_waivers(
    findings: list[Finding],
    waivers: Sequence[Waiver],
    version: ModelVersion,
    stage: str,
    now: datetime,
) -> list[WaiverUse]:
    uses: list[WaiverUse] = []
    for w in waivers:
        targets = [i for i, f in enumerate(findings) if w.names(f.pack, f.spec.id)]
        keys = tuple(findings[i].key for i in targets)
        refused = decide(
            w, version, stage, now, [(findings[i].pack, findings[i].spec.id) for i in targets]
        )
        if refused is not None:
            uses.append(WaiverUse(w, refused[0], refused[1], keys))
            continue
        applied: list[str] = []
        notes: list[str] = []
        for i in targets:
            f = findings[i]
            if f.status in _FAILING:
                findings[i] = replace(f, status=Status.WAIVED, waiver=w, waived_status=f.status)
                applied.append(f.key)
            elif f.status == Status.WAIVED and f.waiver is not None:
                notes.append(f"{f.key} already waived by {f.waiver.id}")
            else:
                notes.append(f"{f.key} is {f.status}")
        if applied:
            uses.append(WaiverUse(w, "applied", f"waives {', '.join(applied)}", tuple(applied)))
        else:
            uses.append(WaiverUse(w, "unused", f"nothing to waive: {'; '.join(notes)}", keys))
    return uses


def evaluate(
    version: ModelVersion, stage: str, packs: Sequence[PolicyPack], ctx: EvaluationContext
) -> Evaluation:
    """Evaluate every rule of ``packs`` on ``version`` going to ``stage``; never raises for
    a rule's failure or crash (those are results), only for unusable arguments."""
    if not packs:
        from ordinance.errors import InputError

        raise InputError("no policy packs to evaluate (an empty check would pass anything)")
    rctx = RuleContext(ctx, version, stage)
    findings = [
        _finding(pack, spec, _run_rule(spec, rctx), version)
        for pack in packs
        for spec in pack.rules
    ]
    uses = _apply_waivers(findings, ctx.waivers, version, stage, ctx.now)
    return Evaluation(
        version=version,
        stage=stage,
        evaluated_at=ctx.now,
        packs=tuple(packs),
        findings=tuple(findings),
        waivers=tuple(uses),
        approvals=tuple(ctx.approvals),
    )
