"""Explainability evidence bound to a model version's identity.

An explainability artifact is a JSON document (schema ``https://ordinance.dev/explainability/v1``,
documented in ``docs/schemas/explainability-v1.schema.json``) that names the model it explains
by the version's identity digest (``model_identity.sha256``, the OpenSSF model-signing root
digest). :func:`artifact_binds_to` is the check the ``explainability.required`` rule uses: an
artifact made for one version never satisfies another version whose model files differ.

Ordinance computes one kind itself, permutation importance (scikit-learn), for models stored with
skops. Loading is never plain pickle: the file's untrusted types
(:func:`skops.io.get_untrusted_types`) must all be in an explicit trusted list, otherwise
:class:`~ordinance.errors.UntrustedTypeError` (exit 2) names them. Artifacts made elsewhere
(SHAP values, a team's own importance file) are checked with
:func:`validate_explainability_artifact`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance._canonical import canonical_json, sha256_file, sha256_hex
from ordinance.charts import bar_chart
from ordinance.errors import InputError, NotFoundError, UntrustedTypeError
from ordinance.identity import IDENTITY_RESOURCE, is_single_file_identity
from ordinance.metrics._table import TableSource, read_table, source_name

if TYPE_CHECKING:
    from ordinance.model import ModelVersion
    from ordinance.workspace import Workspace

__all__ = [
    "KINDS",
    "SCHEMA",
    "SCHEMA_URI",
    "ExplainResult",
    "ExplainabilityArtifact",
    "artifact_binds_to",
    "compute_permutation_importance",
    "explain_version",
    "load_trusted_model",
    "validate_explainability_artifact",
]

SCHEMA_URI = uris.EXPLAINABILITY_SCHEMA
KINDS: tuple[str, ...] = ("permutation_importance", "shap", "feature_importance")
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

#: The JSON Schema of an explainability artifact; ``docs/schemas/explainability-v1.schema.json``
#: is this document (a test keeps the two equal).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_URI,
    "title": "Ordinance explainability artifact, version 1",
    "description": (
        "Per-feature importance of one model, bound to the model version's identity digest "
        "(the OpenSSF model-signing root digest over its files). Unknown top-level members "
        "are allowed and kept, so newer producers stay readable."
    ),
    "type": "object",
    "required": ["schema", "kind", "model_identity", "features"],
    "properties": {
        "schema": {"const": SCHEMA_URI},
        "kind": {
            "enum": list(KINDS),
            "description": (
                "permutation_importance: drop in score when a feature is shuffled; "
                "shap: importance_mean is the mean absolute SHAP value; "
                "feature_importance: any other per-feature importance (say how in method)."
            ),
        },
        "model_identity": {
            "type": "object",
            "required": ["sha256"],
            "properties": {"sha256": {"$ref": "#/$defs/sha256"}},
        },
        "features": {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/$defs/feature"},
            "description": "One entry per feature; names are unique.",
        },
        "method": {
            "type": "object",
            "description": "How the importances were computed (tool, version, parameters).",
        },
        "data": {
            "type": "object",
            "description": "The data the importances were computed on.",
            "properties": {
                "sha256": {"$ref": "#/$defs/sha256"},
                "rows": {"type": "integer", "minimum": 0},
                "target": {"type": "string"},
                "name": {"type": "string"},
            },
        },
        "model_file": {
            "type": "object",
            "required": ["sha256"],
            "properties": {"sha256": {"$ref": "#/$defs/sha256"}},
        },
        "chart": {
            "type": "object",
            "required": ["sha256"],
            "properties": {
                "sha256": {"$ref": "#/$defs/sha256"},
                "media_type": {"const": "image/svg+xml"},
            },
        },
        "shap": {
            "type": "object",
            "description": "Optional raw SHAP values: one row per explained sample, "
            "columns in the order of features.",
            "required": ["values"],
            "properties": {
                "base_value": {"type": "number"},
                "values": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "number"}},
                },
            },
        },
    },
    "$defs": {
        "sha256": _SHA256,
        "feature": {
            "type": "object",
            "required": ["name", "importance_mean"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "importance_mean": {"type": "number"},
                "importance_std": {"type": "number", "minimum": 0},
            },
        },
    },
}


@dataclass(frozen=True)
class ExplainabilityArtifact:
    """The JSON document and its SVG chart; the document records the chart's digest."""

    data: Mapping[str, Any]
    svg: str

    @property
    def model_digest(self) -> str:
        digest: str = self.data["model_identity"]["sha256"]
        return digest

    def to_json(self) -> bytes:
        """The canonical (RFC 8785) bytes of the document: what is stored and hashed."""
        return canonical_json(dict(self.data))

    @property
    def sha256(self) -> str:
        return sha256_hex(self.to_json())

    def write(self, directory: Path, stem: str = "explainability") -> tuple[Path, Path]:
        """Write ``<stem>.json`` and ``<stem>.svg`` into ``directory``; return both paths."""
        from ordinance._files import atomic_write_bytes

        json_path, svg_path = directory / f"{stem}.json", directory / f"{stem}.svg"
        atomic_write_bytes(json_path, self.to_json())
        atomic_write_bytes(svg_path, self.svg.encode("utf-8"))
        return json_path, svg_path


def load_trusted_model(path: Path, trusted_types: Sequence[str] = ()) -> Any:
    """Load a skops file, refusing any untrusted type not listed in ``trusted_types``."""
    import skops.io as sio

    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    try:
        found = list(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises zipfile/json/key errors for a bad file
        raise InputError(f"{path}: not a readable skops model file: {exc}") from exc
    refused = sorted(set(found) - set(trusted_types))
    if refused:
        raise UntrustedTypeError(
            f"{path}: refusing to load untrusted types {', '.join(refused)} "
            "(trust them explicitly only if you trust whoever wrote the file)"
        )
    try:
        return sio.load(path, trusted=sorted(set(found)))
    except Exception as exc:
        raise InputError(f"{path}: cannot load the skops model: {exc}") from exc


def compute_permutation_importance(
    model_path: Path,
    data_path: TableSource,
    target: str,
    identity_digest: str,
    *,
    trusted_types: Sequence[str] = (),
    n_repeats: int = 5,
    seed: int = 0,
    scoring: str | None = None,
) -> ExplainabilityArtifact:
    """Permutation importance of a skops model on a table, bound to ``identity_digest``.

    Deterministic for a given seed: the same model, data and parameters give the same bytes.
    """
    from sklearn import __version__ as sklearn_version
    from sklearn.inspection import permutation_importance

    _check_digest(identity_digest, "identity digest")
    if n_repeats < 1:
        raise InputError(f"n_repeats must be >= 1, not {n_repeats}")
    model = load_trusted_model(Path(model_path), trusted_types)
    frame = read_table(data_path).to_pandas()
    name = source_name(data_path)
    if target not in frame.columns:
        raise InputError(f"{name}: no column {target!r} (the target)")
    # A model fitted on a DataFrame knows its features: score on exactly those columns, so a
    # table that also carries ids or sensitive attributes can be used as it is.
    wanted = getattr(model, "feature_names_in_", None)
    if wanted is not None:
        missing = [str(c) for c in wanted if c not in frame.columns]
        if missing:
            raise InputError(f"{name}: missing feature column(s) {', '.join(missing)}")
        x = frame[[str(c) for c in wanted]]
    else:
        x = frame.drop(columns=[target])
    y = frame[target]
    try:
        result = permutation_importance(
            model, x, y, n_repeats=n_repeats, random_state=seed, scoring=scoring
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(f"{name}: the model cannot be scored on this table: {exc}") from exc
    features = [
        {"name": str(col), "importance_mean": float(m), "importance_std": float(s)}
        for col, m, s in zip(
            x.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    if not all(math.isfinite(f["importance_mean"]) for f in features):  # type: ignore[arg-type]
        raise InputError(f"{name}: permutation importance is not finite (constant score?)")
    features.sort(key=lambda f: (-f["importance_mean"], f["name"]))  # type: ignore[operator]
    svg = bar_chart(
        [(str(f["name"]), float(f["importance_mean"])) for f in features],  # type: ignore[arg-type]
        title="Permutation importance",
        description=(
            f"Mean drop in score when each feature is shuffled ({n_repeats} repeats, seed {seed}) "
            f"for the model with identity sha256:{identity_digest}"
        ),
    )
    data: dict[str, Any] = {
        "schema": SCHEMA_URI,
        "kind": "permutation_importance",
        "model_identity": {"sha256": identity_digest},
        "model_file": {"sha256": sha256_file(Path(model_path))[0]},
        "features": features,
        "method": {
            "name": "sklearn.inspection.permutation_importance",
            "sklearn_version": sklearn_version,
            "n_repeats": n_repeats,
            "random_state": seed,
            "scoring": scoring if scoring is not None else "estimator default (score)",
        },
        "data": {"rows": len(frame), "target": target, **_data_digest(data_path)},
        "chart": {"media_type": "image/svg+xml", "sha256": sha256_hex(svg.encode("utf-8"))},
    }
    return ExplainabilityArtifact(data=data, svg=svg)


def _data_digest(source: TableSource) -> dict[str, str]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return {"name": path.name, "sha256": sha256_file(path)[0]}
    return {}


def _check_digest(digest: str, what: str) -> None:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(f"{what} must be 64 lowercase hex characters, not {digest!r}")


def validate_explainability_artifact(source: Path | Mapping[str, Any]) -> dict[str, Any]:
    """Check an artifact (a path or parsed JSON) against the v1 schema; return it as a dict.

    Raises :class:`~ordinance.errors.InputError` naming the file and the first failing member.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    name = str(source) if isinstance(source, Path) else "<explainability artifact>"
    if isinstance(source, Path):
        try:
            doc = json.loads(source.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{source}: cannot read: {exc.strerror}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{source}: not JSON: {exc}") from exc
    else:
        doc = dict(source)
    error = best_match(Draft202012Validator(SCHEMA).iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        raise InputError(f"{name}: {where}: {error.message}")
    names = [f["name"] for f in doc["features"]]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{name}: features: feature {dup!r} appears twice")
    shap = doc.get("shap")
    if shap is not None:
        for i, row in enumerate(shap["values"]):
            if len(row) != len(names):
                raise InputError(
                    f"{name}: shap/values/{i}: {len(row)} values for {len(names)} features"
                )
    result: dict[str, Any] = doc
    return result


def artifact_binds_to(
    artifact: ExplainabilityArtifact | Mapping[str, Any], identity_digest: str
) -> bool:
    """True iff ``artifact`` is a valid v1 artifact made for the model ``identity_digest``."""
    data = artifact.data if isinstance(artifact, ExplainabilityArtifact) else artifact
    try:
        doc = validate_explainability_artifact(data)
    except InputError:
        return False
    return bool(doc["model_identity"]["sha256"] == identity_digest.lower())


@dataclass(frozen=True)
class ExplainResult:
    """What ``ordinance explain`` produced for one registered version."""

    ref: str
    identity_digest: str
    artifact: ExplainabilityArtifact

    def evidence_entry(self, path: Path) -> dict[str, Any]:
        """The manifest ``evidence:`` entry that attaches the written artifact."""
        return {
            "kind": "explainability",
            "path": str(path),
            "media_type": "application/json",
            "attributes": {
                "schema": SCHEMA_URI,
                "identity_sha256": self.identity_digest,
                "sha256": self.artifact.sha256,
            },
        }


def explain_version(
    workspace: Workspace,
    ref: str,
    data_path: TableSource,
    *,
    target: str,
    trusted_types: Sequence[str] = (),
    n_repeats: int = 5,
    seed: int = 0,
) -> ExplainResult:
    """Permutation importance for ``MODEL@VERSION``'s model file (evidence of kind ``model``)."""
    from ordinance.model import parse_ref

    name, version = parse_ref(ref)
    v = workspace.registry().get_version(name, version)
    return explain_model_version(
        v,
        lambda digest: workspace.evidence.open_path(digest),
        data_path,
        target=target,
        trusted_types=trusted_types,
        n_repeats=n_repeats,
        seed=seed,
    )


def explain_model_version(
    v: ModelVersion,
    fetch: Callable[[str], Path],
    data_path: TableSource,
    *,
    target: str,
    trusted_types: Sequence[str] = (),
    n_repeats: int = 5,
    seed: int = 0,
) -> ExplainResult:
    """Permutation importance for version ``v``, computed from the model file its identity
    covers; ``fetch(sha256)`` gives that file's path (a local evidence store, or a download
    from the server checked against the digest)."""
    models = v.evidence_of("model")
    if not models:
        raise NotFoundError(
            f"{v.ref} has no model file evidence (register a skops file as artifacts.path)"
        )
    covered = [
        m
        for m in models
        if is_single_file_identity(
            v.identity.sha256, v.identity.method, v.identity.resources, m.sha256
        )
        or IDENTITY_RESOURCE in m.attributes  # set at registration, from the identity's files
    ]
    if not covered:
        # an explanation stamped with the identity must be computed from the identified bytes
        raise InputError(
            f"{v.ref}: no model file is covered by the version's identity "
            f"(sha256:{v.identity.sha256[:12]}…): {', '.join(m.name for m in models)} "
            "is not the model the identity digests; register the skops file itself as "
            "artifacts.path so explain computes from the identified bytes"
        )
    model_path = fetch(covered[0].sha256)
    artifact = compute_permutation_importance(
        model_path,
        data_path,
        target,
        v.identity.sha256,
        trusted_types=trusted_types,
        n_repeats=n_repeats,
        seed=seed,
    )
    return ExplainResult(ref=v.ref, identity_digest=v.identity.sha256, artifact=artifact)
