"""The one protocol every rule type implements, and the base of parameter models."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ordinance.policy.context import RuleContext
from ordinance.policy.results import RuleResult


class Params(BaseModel):
    """Base of rule parameter models: frozen, unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


@runtime_checkable
class RuleType(Protocol):
    """A rule type: a class named in YAML by ``type_name`` with parameters ``Params``.

    The loader validates a rule's ``params`` into ``Params`` (a frozen pydantic model with
    ``extra="forbid"``) and constructs the rule once; the engine calls :meth:`evaluate` for
    each version. ``evaluate`` must not read the clock or the environment: everything comes
    from the :class:`~ordinance.policy.context.RuleContext`. It may raise a
    :class:`~ordinance.errors.OrdinanceError` for missing input; the engine records that as
    ``error`` (which blocks when the rule's severity is ``block``).
    """

    type_name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def __init__(self, params: Any) -> None: ...

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        """Decide this rule for ``ctx.version`` going to ``ctx.stage``."""
        ...

    def describe(self) -> str:
        """The rule in one plain sentence for a reviewer (no severity prefix)."""
        ...


def fmt(x: float | None) -> str:
    """A number for messages: up to 4 significant decimals, ``undefined`` for ``None``."""
    if x is None:
        return "undefined"
    return f"{x:.4g}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
