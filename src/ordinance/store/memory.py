"""A complete in-memory registry: the real fake of :class:`RegistryStore` the core's tests run
against (the SQL implementation is :class:`ordinance.store.registry.SqlRegistry`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ordinance.errors import ConflictError, NotFoundError
from ordinance.model import Evidence, Model, ModelVersion
from ordinance.store.registry import TransitionRecord

__all__ = ["InMemoryRegistry"]


class InMemoryRegistry:
    """A complete in-memory registry: the fake the core's tests run against."""

    def __init__(self) -> None:
        self._models: dict[str, Model] = {}
        self._versions: dict[tuple[str, str], ModelVersion] = {}
        self._order: list[tuple[str, str]] = []
        self._evals: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._transitions: list[TransitionRecord] = []

    def add_version(self, version: ModelVersion) -> None:
        key = (version.model.name, version.version)
        if key in self._versions:
            raise ConflictError(f"{version.ref} is already registered")
        self._models[version.model.name] = version.model
        self._versions[key] = version
        self._order.append(key)

    def add_evidence(self, model: str, version: str, evidence: Sequence[Evidence]) -> None:
        v = self.get_version(model, version)
        self._versions[(model, version)] = v.model_copy(
            update={"evidence": (*v.evidence, *evidence)}
        )

    def get_model(self, name: str) -> Model:
        if name not in self._models:
            raise NotFoundError(f"unknown model {name!r}")
        return self._models[name]

    def list_versions(self, model: str) -> list[ModelVersion]:
        self.get_model(model)
        return [self._versions[k] for k in self._order if k[0] == model]

    def list_models(self) -> list[tuple[Model, list[ModelVersion]]]:
        return [(self._models[n], self.list_versions(n)) for n in sorted(self._models)]

    def get_version(self, model: str, version: str | None = None) -> ModelVersion:
        versions = self.list_versions(model)
        if version is None:
            if not versions:
                raise NotFoundError(f"unknown version {model}@latest")
            return versions[-1]
        try:
            return self._versions[(model, version)]
        except KeyError:
            raise NotFoundError(f"unknown version {model}@{version}") from None

    def find_version_in_stage(self, model: str, stage: str) -> ModelVersion | None:
        found = (
            [v for v in self.list_versions(model) if v.stage == stage]
            if model in self._models
            else []
        )
        return found[-1] if found else None

    def add_evaluation(
        self,
        version: ModelVersion,
        stage: str,
        verdict: str,
        evaluated_at: datetime,
        policy_digests: dict[str, Any],
        result: dict[str, Any],
        log_index: int | None,
    ) -> int:
        lst = self._evals.setdefault((version.model.name, version.version), [])
        lst.append(
            {
                "id": len(lst) + 1,
                "stage": stage,
                "verdict": verdict,
                "evaluated_at": evaluated_at.isoformat(),
                "policy_digests": policy_digests,
                "result": result,
                "log_index": log_index,
            }
        )
        return len(lst)

    def evaluations(self, model: str, version: str) -> list[dict[str, Any]]:
        self.get_version(model, version)
        return list(self._evals.get((model, version), []))

    def apply_transitions(self, records: Sequence[TransitionRecord]) -> None:
        staged = dict(self._versions)
        for r in records:
            if r.kind == "denied":
                continue
            v = staged.get((r.model, r.version))
            if v is None:
                raise NotFoundError(f"unknown version {r.model}@{r.version}")
            if r.from_stage is not None and v.stage != r.from_stage:
                raise ConflictError(f"{r.model}@{r.version} is no longer in stage {r.from_stage!r}")
            staged[(r.model, r.version)] = v.model_copy(update={"stage": r.to_stage})
        self._versions = staged
        self._transitions.extend(records)

    def referenced_evidence(self, digests: Iterable[str]) -> set[str]:
        held = {e.sha256 for v in self._versions.values() for e in v.evidence}
        return held & set(digests)

    def transitions(self, model: str | None = None) -> list[TransitionRecord]:
        out = [t for t in self._transitions if model is None or t.model == model]
        return sorted(out, key=lambda t: t.at)
