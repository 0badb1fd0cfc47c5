"""The policy language: YAML policy packs parsed into frozen, typed objects.

A pack file::

    apiVersion: ordinance/v1
    kind: PolicyPack
    metadata: {name, version, owner, description, frameworks}
    extends: [./base.yaml, ordinance:baseline]     # optional; relative paths or shipped packs
    disable: [rule-id, ...]                     # optional; drop inherited rules
    scope: {stages, risk_tiers, models, tags}   # optional; when the pack applies
    rules:
      - id: fairness-fnr
        type: fairness.threshold
        params: {...}                           # validated by the rule type's Params model
        severity: block | warn
        message: ...
        references: [...]
        scope: {...}                            # optional; narrows this rule further

A rule whose id an inherited rule already has *replaces* it when it gives a ``type``, and
*patches* it (fields given replace, ``params`` merge key by key) when it omits the type.
A rule applies to a version only when the version matches the scope of every pack on the way
from the pack that defined it to the pack being evaluated, and the rule's own scope.

Every problem is a :class:`~ordinance.errors.PolicyLoadError` naming ``file:line:col: field``.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ordinance._canonical import sha256_hex
from ordinance._files import DOCUMENT_LIMIT, UnsafeFileError, read_limited
from ordinance._yamlloc import Locator, PathKey, load_document, parse_as, validation_error
from ordinance.errors import Location, PolicyLoadError
from ordinance.model import RISK_TIER_PATTERN, ModelVersion
from ordinance.policy.rules import RuleType, UnknownRuleType, find_rule_type

__all__ = [
    "SHIPPED_PREFIX",
    "PolicyPack",
    "RuleSpec",
    "Scope",
    "Severity",
    "load_pack",
    "load_packs",
    "shipped_pack_path",
    "shipped_packs",
]

SHIPPED_PREFIX = "ordinance:"
Severity = Literal["block", "warn"]
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Scope(_Doc):
    """When a pack or rule applies; an omitted field matches everything."""

    stages: tuple[str, ...] | None = Field(default=None, min_length=1)
    #: risk tier names (the workspace's configured tiers; EU AI Act ones by default)
    risk_tiers: tuple[Annotated[str, Field(pattern=RISK_TIER_PATTERN)], ...] | None = Field(
        default=None, min_length=1
    )
    #: model name globs (``fnmatch``, case-sensitive)
    models: tuple[str, ...] | None = Field(default=None, min_length=1)
    #: the model has at least one of these tags
    tags: tuple[str, ...] | None = Field(default=None, min_length=1)

    def missing(self, version: ModelVersion) -> str | None:
        """A fact this scope depends on that the version lacks (``None``: none missing).

        Fail closed: a version that does not say its risk tier is not thereby out of scope
        of a pack for high-risk systems; the rule errors instead (blocking).
        """
        if self.risk_tiers is not None and version.model.risk_tier is None:
            return (
                f"{version.ref} declares no risk tier, and this scope depends on it "
                f"(risk tiers {', '.join(self.risk_tiers)}): set model.risk_tier in the manifest"
            )
        return None

    def excludes(self, version: ModelVersion, stage: str) -> str | None:
        """Why this scope does not cover ``version`` going to ``stage`` (``None``: it does)."""
        m = version.model
        if self.stages is not None and stage not in self.stages:
            return f"stage {stage} is not one of {', '.join(self.stages)}"
        if self.risk_tiers is not None and (m.risk_tier or "") not in self.risk_tiers:
            return f"risk tier {m.risk_tier} is not one of {', '.join(self.risk_tiers)}"
        if self.models is not None and not any(fnmatch.fnmatchcase(m.name, g) for g in self.models):
            return f"model {m.name} matches none of {', '.join(self.models)}"
        if self.tags is not None and not set(self.tags) & set(m.tags):
            return f"model has none of the tags {', '.join(self.tags)}"
        return None

    def is_everything(self) -> bool:
        return all(v is None for v in (self.stages, self.risk_tiers, self.models, self.tags))

    def describe(self) -> str:
        parts = []
        if self.stages is not None:
            parts.append(f"promotions to {', '.join(self.stages)}")
        if self.risk_tiers is not None:
            parts.append(f"risk tier {', '.join(self.risk_tiers)}")
        if self.models is not None:
            parts.append(f"models matching {', '.join(self.models)}")
        if self.tags is not None:
            parts.append(f"models tagged {' or '.join(self.tags)}")
        return "; ".join(parts) if parts else "every model and stage"


class Metadata(_Doc):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    version: str = Field(default="0", min_length=1)
    owner: str = ""
    description: str = ""
    #: frameworks the pack maps to, e.g. "EU AI Act", "NIST AI RMF 1.0"
    frameworks: tuple[str, ...] = ()


class RuleDoc(_Doc):
    id: str = Field(pattern=_ID)
    type: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] | None = None
    severity: Severity | None = None
    message: str | None = None
    references: tuple[str, ...] | None = None
    scope: Scope | None = None


class PackDoc(_Doc):
    apiVersion: Literal["ordinance/v1"]
    kind: Literal["PolicyPack"]
    metadata: Metadata
    extends: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    scope: Scope | None = None
    rules: tuple[RuleDoc, ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    """A resolved rule: its identity, its constructed rule type, and where it was written."""

    id: str
    type: str
    params: Mapping[str, Any]
    severity: Severity
    message: str
    references: tuple[str, ...]
    rule: RuleType
    source: Location
    #: (who set it, scope): the rule applies when every one of them covers the version
    scopes: tuple[tuple[str, Scope], ...] = ()

    def missing(self, version: ModelVersion) -> str | None:
        """A fact some scope on the way to this rule depends on and the version lacks."""
        for who, scope in self.scopes:
            why = scope.missing(version)
            if why is not None:
                return f"scope of {who}: {why}"
        return None

    def excludes(self, version: ModelVersion, stage: str) -> str | None:
        for who, scope in self.scopes:
            why = scope.excludes(version, stage)
            if why is not None:
                return f"out of scope of {who}: {why}"
        return None

    def describe(self) -> str:
        return self.rule.describe()

    @property
    def text(self) -> str:
        """The rule's message, or its description when the pack gives none."""
        return self.message or _sentence(self.describe())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


@dataclass(frozen=True)
class PolicySource:
    """One file a pack was built from, by URI and SHA-256 of its bytes."""

    uri: str
    path: Path
    sha256: str
    #: the reference as written (``ordinance:NAME``, or a relative path): what results,
    #: VSAs and log entries name the file by, so they carry no host path
    ref: str = ""

    @property
    def portable(self) -> str:
        return self.ref or portable_ref(self.uri)

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.portable, "sha256": self.sha256}


@dataclass(frozen=True)
class PolicyPack:
    """A loaded, resolved policy pack (``extends`` applied, every rule validated)."""

    name: str
    version: str
    owner: str
    description: str
    frameworks: tuple[str, ...]
    scope: Scope
    rules: tuple[RuleSpec, ...]
    source: PolicySource
    #: the files this pack extends, transitively, in load order
    extends: tuple[PolicySource, ...] = ()

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def uri(self) -> str:
        return self.source.uri

    @property
    def sha256(self) -> str:
        """SHA-256 of the pack file's bytes."""
        return self.source.sha256

    def rule(self, rule_id: str) -> RuleSpec:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.source.portable,
            "sha256": self.sha256,
            "extends": [s.to_dict() for s in self.extends],
        }


# --------------------------------------------------------------------------- shipped packs


def _shipped_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        installed = resources.files("ordinance") / "_data" / "policies"
        if installed.is_dir():
            dirs.append(Path(str(installed)))
    except (ModuleNotFoundError, OSError):
        pass
    repo = Path(__file__).resolve().parents[3] / "policies"
    if repo.is_dir():
        dirs.append(repo)
    return dirs


def shipped_packs() -> dict[str, Path]:
    """The packs Ordinance ships, by name: installed package data first, else the repo's."""
    found: dict[str, Path] = {}
    for d in _shipped_dirs():
        for p in sorted(d.glob("*.yaml")):
            found.setdefault(p.stem, p)
    return found


def shipped_pack_path(name: str) -> Path | None:
    """The file of the shipped pack ``name`` (``ordinance:NAME`` in YAML and on the CLI)."""
    return shipped_packs().get(name)


# --------------------------------------------------------------------------- loading


class _ParamsLocator:
    """Locates errors of a rule's ``params``, validated on their own, inside the pack file."""

    def __init__(self, locator: Locator, prefix: PathKey) -> None:
        self.file = locator.file
        self._locator = locator
        self._prefix = prefix

    def locate(self, path: Sequence[str | int]) -> Location:
        return self._locator.locate((*self._prefix, *path))


@dataclass
class _Resolved:
    doc: PackDoc
    source: PolicySource
    rules: dict[str, RuleSpec]
    extends: list[PolicySource] = field(default_factory=list)


def _resolve_ref(ref: str, base: Path | None, where: Location) -> tuple[str, Path]:
    """(uri, path) of a pack reference: ``ordinance:NAME`` or a path relative to ``base``."""
    if ref.startswith(SHIPPED_PREFIX):
        name = ref[len(SHIPPED_PREFIX) :]
        path = shipped_pack_path(name)
        if path is None:
            known = ", ".join(f"ordinance:{n}" for n in shipped_packs()) or "none found"
            raise PolicyLoadError(where, f"no shipped pack {ref!r} (shipped: {known})")
        return ref, path
    path = Path(ref).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path), path


def _read_yaml(path: Path, where: Location) -> tuple[bytes, Any, Locator]:
    """The file's bytes (for its digest) and its parsed YAML with a locator.

    Read once, bounded (a regular file, size and alias expansion limited: see
    :mod:`ordinance._yamlloc`); a problem opening it is located at the reference ``where``.
    """
    try:
        raw = read_limited(path, DOCUMENT_LIMIT)
    except UnsafeFileError as exc:
        raise PolicyLoadError(where, f"policy file {str(path)!r}: {exc.problem}") from None
    file = str(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(Location(file), f"not UTF-8 text (byte {exc.start})") from None
    data, locator = load_document(path, PolicyLoadError, text=text)
    return raw, data, locator


def _build_rule(
    doc: RuleDoc,
    index: int,
    base: RuleSpec | None,
    locator: Locator,
    pack_scope: tuple[str, Scope] | None,
) -> RuleSpec:
    here = ("rules", index)
    if doc.type is None and base is None:
        raise PolicyLoadError(
            locator.locate((*here, "id")),
            f"rule {doc.id!r} overrides no inherited rule, so it needs a 'type'",
        )
    patch = base is not None and doc.type is None
    type_name = doc.type or (base.type if base else "")
    params: dict[str, Any] = dict(base.params) if patch and base else {}
    params.update(doc.params or {})
    try:
        cls = find_rule_type(type_name)
    except UnknownRuleType as exc:
        raise PolicyLoadError(locator.locate((*here, "type")), str(exc)) from None
    try:
        parsed = cls.Params.model_validate(params)
    except ValidationError as exc:
        sub = _ParamsLocator(locator, (*here, "params") if doc.params is not None else here)
        raise validation_error(exc, cast(Locator, sub), PolicyLoadError) from None
    try:
        rule = cls(parsed)
    except Exception as exc:  # a plugin's constructor: still a located, one-line error
        raise PolicyLoadError(locator.locate(here), f"{type_name}: {exc}") from None
    scopes: tuple[tuple[str, Scope], ...] = base.scopes if patch and base else ()
    if not patch and pack_scope is not None:
        scopes = (pack_scope,)
    if doc.scope is not None and not doc.scope.is_everything():
        scopes = (*scopes, (f"rule {doc.id}", doc.scope))

    def pick(value: Any, inherited: Any, default: Any) -> Any:
        if value is not None:
            return value
        return inherited if patch else default

    return RuleSpec(
        id=doc.id,
        type=type_name,
        params=params,
        severity=pick(doc.severity, base.severity if base else None, "block"),
        message=pick(doc.message, base.message if base else None, "").strip(),
        references=pick(doc.references, base.references if base else None, ()),
        rule=rule,
        source=locator.locate(here),
        scopes=scopes,
    )


def portable_ref(ref: str, parent: str | None = None) -> str:
    """How exported results name a pack file: ``ordinance:NAME``, a relative path as written
    (joined to the extending pack's own when relative to it), or an absolute path's file name:
    never a path of the machine that ran the check."""
    if ref.startswith(SHIPPED_PREFIX):
        return ref
    p = PurePosixPath(Path(ref).as_posix())
    if p.is_absolute() or ref.startswith("~"):
        return p.name
    if parent is not None and not parent.startswith(SHIPPED_PREFIX):
        return posixpath.normpath(posixpath.join(posixpath.dirname(parent), p.as_posix()))
    return posixpath.normpath(p.as_posix())


def _load(
    uri: str, path: Path, where: Location, chain: tuple[Path, ...], ref: str = ""
) -> _Resolved:
    raw, data, locator = _read_yaml(path, where)
    doc = parse_as(PackDoc, data, locator, PolicyLoadError)
    source = PolicySource(uri, path, sha256_hex(raw), ref or portable_ref(uri))
    me = Path(os.path.realpath(path))  # never raises, even on a symlink loop

    inherited: dict[str, RuleSpec] = {}
    extends: list[PolicySource] = []
    for i, ref in enumerate(doc.extends):
        at = locator.locate(("extends", i))
        parent_uri, parent_path = _resolve_ref(ref, path.parent, at)
        resolved = Path(os.path.realpath(parent_path))
        if resolved in (*chain, me):
            cycle = " -> ".join(str(p) for p in (*chain, me, resolved))
            raise PolicyLoadError(at, f"extends cycle: {cycle}")
        parent = _load(
            parent_uri, parent_path, at, (*chain, me), portable_ref(ref, source.portable)
        )
        extends.extend(s for s in (*parent.extends, parent.source) if s not in extends)
        inherited.update(parent.rules)

    for j, rule_id in enumerate(doc.disable):
        if rule_id not in inherited:
            raise PolicyLoadError(
                locator.locate(("disable", j)), f"no inherited rule {rule_id!r} to disable"
            )
        del inherited[rule_id]

    pack_scope = None
    if doc.scope is not None and not doc.scope.is_everything():
        pack_scope = (f"pack {doc.metadata.name}", doc.scope)
        inherited = {k: replace(r, scopes=(*r.scopes, pack_scope)) for k, r in inherited.items()}

    rules = dict(inherited)
    seen: dict[str, int] = {}
    for i, rdoc in enumerate(doc.rules):
        if rdoc.id in seen:
            first = locator.locate(("rules", seen[rdoc.id])).line
            raise PolicyLoadError(
                locator.locate(("rules", i, "id")),
                f"duplicate rule id {rdoc.id!r} (first at line {first})",
            )
        seen[rdoc.id] = i
        rules[rdoc.id] = _build_rule(rdoc, i, inherited.get(rdoc.id), locator, pack_scope)
    if not rules:
        raise PolicyLoadError(
            locator.locate(("rules",)), "the pack has no rules (an empty pack would pass anything)"
        )
    return _Resolved(doc, source, rules, extends)


def load_pack(ref: str | Path, *, base: Path | None = None) -> PolicyPack:
    """Load a pack from a path (relative to ``base`` or the current directory) or
    ``ordinance:NAME``; resolve ``extends`` and validate every rule."""
    text = str(ref)
    where = Location(text)
    uri, path = _resolve_ref(text, base, where)
    r = _load(uri, path, where, (), portable_ref(text))
    m = r.doc.metadata
    return PolicyPack(
        name=m.name,
        version=m.version,
        owner=m.owner,
        description=m.description,
        frameworks=m.frameworks,
        scope=r.doc.scope or Scope(),
        rules=tuple(r.rules.values()),
        source=r.source,
        extends=tuple(r.extends),
    )


def load_packs(refs: Iterable[str | Path], *, base: Path | None = None) -> tuple[PolicyPack, ...]:
    """Load several packs; their names must differ (results are keyed ``pack/rule``)."""
    packs: list[PolicyPack] = []
    for ref in refs:
        pack = load_pack(ref, base=base)
        for other in packs:
            if other.name == pack.name:
                raise PolicyLoadError(
                    Location(str(pack.path), 1, 1, "metadata.name"),
                    f"pack name {pack.name!r} is also the name of {other.uri}",
                )
        packs.append(pack)
    return tuple(packs)
