"""``lineage.required`` and ``documentation.required``: facts recorded with the version."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from ordinance.policy.context import RuleContext
from ordinance.policy.results import RuleResult
from ordinance.policy.rules._base import Params

LineageField = Literal["datasets", "code", "code_commit", "training_run", "parent", "environment"]


class LineageParams(Params):
    fields: tuple[LineageField, ...] = Field(min_length=1)


class LineageRequired:
    """Named lineage fields are present (``datasets`` needs a SHA-256 on every data set)."""

    type_name: ClassVar[str] = "lineage.required"
    Params: ClassVar[type[BaseModel]] = LineageParams

    def __init__(self, params: LineageParams) -> None:
        self.params = params

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        lineage = ctx.version.lineage
        missing = [f for f in self.params.fields if not lineage.has(f)]
        present = [f for f in self.params.fields if f not in missing]
        measured = {"present": present, "missing": missing}
        if missing:
            note = " (every data set needs a sha256)" if "datasets" in missing else ""
            return RuleResult.failed(
                f"lineage lacks {', '.join(missing)}{note}",
                measured=measured,
                threshold=list(self.params.fields),
            )
        return RuleResult.passed(
            f"lineage records {', '.join(present)}",
            measured=measured,
            threshold=list(self.params.fields),
        )

    def describe(self) -> str:
        return f"the version's lineage records {', '.join(self.params.fields)}"


class DocumentationParams(Params):
    fields: tuple[str, ...] = Field(min_length=1)
    min_length: int = Field(default=1, ge=1)


class DocumentationRequired:
    """Model-card fields are present and non-empty (at least ``min_length`` characters)."""

    type_name: ClassVar[str] = "documentation.required"
    Params: ClassVar[type[BaseModel]] = DocumentationParams

    def __init__(self, params: DocumentationParams) -> None:
        self.params = params

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        docs = ctx.version.documentation
        n = self.params.min_length
        missing = [f for f in self.params.fields if len(docs.get(f, "").strip()) < n]
        present = [f for f in self.params.fields if f not in missing]
        measured = {"present": present, "missing": missing}
        threshold = {"fields": list(self.params.fields), "min_length": n}
        if missing:
            what = "empty or missing" if n == 1 else f"missing or shorter than {n} characters"
            return RuleResult.failed(
                f"model card fields {what}: {', '.join(missing)}",
                measured=measured,
                threshold=threshold,
            )
        return RuleResult.passed(
            f"model card has {', '.join(present)}", measured=measured, threshold=threshold
        )

    def describe(self) -> str:
        size = (
            "non-empty"
            if self.params.min_length == 1
            else (f"at least {self.params.min_length} characters long")
        )
        return f"the model card fills in {', '.join(self.params.fields)} ({size})"
