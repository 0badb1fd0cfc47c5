"""What rules may look at besides the version: the clock, evidence files, the champion, approvals.

:class:`EvaluationContext` is built once by the caller (the CLI, the promotion pipeline, a
test) and injected; rules never read the wall clock, the database or the environment.
:class:`RuleContext` is what one rule sees during one evaluation: the version, the target
stage, and per-evaluation caches so that five fairness rules read a prediction table once.

:class:`Approval` is the contract with the approvals module: it produces *verified* approvals
(signature checked, approver's roles resolved from the roster at signing time) and the
``approvals.required`` rule counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ordinance.errors import InputError
from ordinance.model import Evidence, ModelVersion

if TYPE_CHECKING:
    from ordinance.policy.waivers import Waiver

T = TypeVar("T")

__all__ = ["Approval", "ChampionLookup", "EvaluationContext", "EvidenceSource", "RuleContext"]


class EvidenceSource(Protocol):
    """Where evidence files are read from (``ordinance.evidence.EvidenceStore`` fits)."""

    def open_path(self, sha256: str) -> Path:
        """The path of the stored file with this digest; ``NotFoundError`` if missing."""
        ...


#: ``(model name, stage) -> the version currently in that stage``, or ``None``.
ChampionLookup = Callable[[str, str], ModelVersion | None]


@dataclass(frozen=True)
class Approval:
    """A verified approval of one version for one stage (produced by the approvals module).

    The approvals module verifies the signature and resolves ``roles`` from the roster as it
    was when the approval was signed; the policy engine only checks that the approval is for
    this version (``model``, ``version`` and ``identity_sha256`` all match), this ``stage``,
    not ``revoked``, not expired and fresh enough, and applies the counting rules.
    ``digest`` is the SHA-256 of the stored signed envelope, recorded as an input.
    """

    approver: str
    roles: frozenset[str]
    model: str
    version: str
    identity_sha256: str
    stage: str
    signed_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False
    digest: str = ""
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "roles": sorted(self.roles),
            "model": self.model,
            "version": self.version,
            "identity_sha256": self.identity_sha256,
            "stage": self.stage,
            "signed_at": self.signed_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "revoked": self.revoked,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class EvaluationContext:
    """Everything injected into an evaluation.

    ``now`` is the reference time of every freshness and expiry check (and the recorded
    ``evaluated_at``). Without ``evidence`` the rules that read files return ``error``;
    without ``champion`` regression checks have no champion to compare with.
    """

    now: datetime
    evidence: EvidenceSource | None = None
    champion: ChampionLookup | None = None
    approvals: Sequence[Approval] = ()
    waivers: Sequence[Waiver] = ()

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise InputError("the evaluation clock must be timezone-aware")


@dataclass
class RuleContext:
    """What one rule sees: the version, the target stage and the shared caches."""

    env: EvaluationContext
    version: ModelVersion
    stage: str
    _cache: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @property
    def now(self) -> datetime:
        return self.env.now

    @property
    def approvals(self) -> Sequence[Approval]:
        return self.env.approvals

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per evaluation for ``key`` (errors are cached too)."""
        if key not in self._cache:
            try:
                self._cache[key] = (True, compute())
            except Exception as exc:  # re-raised for every rule that asks again
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def evidence_path(self, item: Evidence) -> Path:
        """The stored file of an evidence item; ``InputError`` if there is no store or file."""
        if self.env.evidence is None:
            raise InputError("no evidence store was given to the evaluation")
        return self.env.evidence.open_path(item.sha256)

    def champion(self) -> ModelVersion | None:
        """The version currently in the target stage (other than this one), if any."""
        lookup = self.env.champion
        if lookup is None:
            return None

        def find() -> ModelVersion | None:
            found = lookup(self.version.model.name, self.stage)
            if found is None or found.version == self.version.version:
                return None
            return found

        return self.memo(("champion", self.version.model.name, self.stage), find)
