"""Safe YAML/JSON loading that remembers where every value came from.

``load_document`` is the one way Ordinance reads YAML (manifests, policy packs, rosters,
waivers, config). It parses with ``yaml.safe_load``-equivalent safety (SafeLoader only) and
bounds what a document may cost before anything else looks at it: the file must be a regular
file of at most :data:`~ordinance._files.DOCUMENT_LIMIT` bytes, aliases may add at most
:data:`ALIAS_EXPANSION_LIMIT` nodes (a 3 KB "billion laughs" document is refused in
milliseconds), recursive aliases and nesting deeper than :data:`MAX_DEPTH` are refused. It
returns the data together with a :class:`Locator` that maps a field path such as
``("rules", 3, "threshold")`` back to its line and column, so errors from pydantic
validation can name ``file:line:col field``. Errors never quote the document's text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ordinance._files import DOCUMENT_LIMIT, UnsafeFileError, read_limited
from ordinance.errors import LocatedInputError, Location

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

#: how many nodes aliases may add to a document once expanded
ALIAS_EXPANSION_LIMIT = 100_000
#: how deeply collections may nest
MAX_DEPTH = 200


@dataclass
class Locator:
    """Field path → (line, column), 1-based.

    Positions are computed lazily from the text, on the first error: valid documents
    (the common case, and large ones) never pay for building the node tree twice.
    """

    file: str
    text: str | None = None
    _marks: dict[PathKey, tuple[int, int]] | None = field(default=None, repr=False)

    @property
    def marks(self) -> dict[PathKey, tuple[int, int]]:
        if self._marks is None:
            self._marks = {}
            if self.text is not None:
                try:
                    node = yaml.compose(self.text, Loader=_SafeLoader)
                except yaml.YAMLError:
                    node = None
                if node is not None:
                    _walk(node, (), self._marks, set())
        return self._marks

    def locate(self, path: Sequence[str | int]) -> Location:
        key = tuple(path)
        marks = self.marks
        # Walk up to the nearest ancestor we have a mark for.
        while key and key not in marks:
            key = key[:-1]
        line, col = marks.get(key, (1, 1))
        dotted = ".".join(str(p) for p in path) or None
        return Location(self.file, line, col, dotted)


def _walk(
    node: yaml.Node, path: PathKey, marks: dict[PathKey, tuple[int, int]], active: set[int]
) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if id(node) in active:  # a recursive alias (``&a [*a]``): stop here
        return
    active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            _walk(value_node, (*path, key), marks, active)
            # a field is located at its key
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), marks, active)


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, key_node: yaml.Node) -> None:
        self.key_node = key_node


class _StrictSafeLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader (C-accelerated when available) that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            k = key_node.value
            if isinstance(k, str):
                if k in seen:
                    raise _DuplicateKey(key_node)
                seen.add(k)
        return super().construct_mapping(node, deep)


class _Unbounded(Exception):
    def __init__(self, node: yaml.Node, problem: str) -> None:
        self.node = node
        self.problem = problem


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_bounds(root: yaml.Node) -> None:
    """Refuse recursive aliases, deep nesting and alias expansion past the limit.

    One pass over the composed node graph (each shared node once), so it costs what
    the text costs, however large the document would be once its aliases are expanded.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, leaving = stack.pop()
        nid = id(node)
        if leaving:
            size[nid] = 1 + sum(size[id(k)] for k in _children(node))
            on_path.discard(nid)
            continue
        if nid in size:
            continue
        if depth > MAX_DEPTH:
            raise _Unbounded(node, f"nesting deeper than {MAX_DEPTH} levels")
        on_path.add(nid)
        stack.append((node, depth, True))
        for kid in _children(node):
            if id(kid) in on_path:
                raise _Unbounded(kid, "recursive alias")
            if id(kid) not in size:
                stack.append((kid, depth + 1, False))
    if size[id(root)] - len(size) > ALIAS_EXPANSION_LIMIT:
        raise _Unbounded(
            root, f"aliases expand the document past {ALIAS_EXPANSION_LIMIT:,} extra nodes"
        )


def _alias_inside(text: str, node: yaml.Node) -> tuple[int, int]:
    """Where to point for a refused node: the first alias inside it, else its start."""
    start, end = node.start_mark.index, node.end_mark.index
    try:
        for token in yaml.scan(text, Loader=_SafeLoader):
            if isinstance(token, yaml.AliasToken) and start <= token.start_mark.index < end:
                return token.start_mark.line + 1, token.start_mark.column + 1
            if token.start_mark.index >= end:
                break
    except yaml.YAMLError:
        pass
    return node.start_mark.line + 1, node.start_mark.column + 1


def _load(text: str) -> Any:
    loader = _StrictSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_bounds(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_document(
    path: Path, error: type[LocatedInputError], *, text: str | None = None
) -> tuple[Any, Locator]:
    """Read a YAML (or JSON, a YAML subset) file safely; raise ``error`` with a location."""
    file = str(path)
    if text is None:
        try:
            raw = read_limited(path, DOCUMENT_LIMIT)
        except UnsafeFileError as exc:
            raise error(Location(file), exc.problem) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(Location(file), f"not UTF-8 text (byte {exc.start})") from None
    if len(text) > DOCUMENT_LIMIT:
        raise error(Location(file), f"too large (the limit is {DOCUMENT_LIMIT:,} bytes)")
    try:
        data = _fast_json(text)
        if data is _NOT_JSON:
            data = _load(text)
    except _Unbounded as exc:
        at_line, at_col = _alias_inside(text, exc.node)
        raise error(Location(file, at_line, at_col), f"invalid YAML: {exc.problem}") from None
    except _DuplicateKey as dup:
        mark = dup.key_node.start_mark
        loc = Location(file, mark.line + 1, mark.column + 1, str(dup.key_node.value))
        raise error(loc, "duplicate key") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise error(Location(file, line, col), f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise error(
            Location(file, line, col),
            f"invalid YAML: control character #x{code:04x} is not allowed",
        ) from None
    except yaml.YAMLError as exc:
        raise error(Location(file), f"invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise error(Location(file), "invalid YAML: nesting too deep") from None
    return data, Locator(file, text)


_NOT_JSON = object()


def _fast_json(text: str) -> Any:
    """Parse JSON documents with the (much faster) json module; YAML otherwise."""
    if not text.lstrip().startswith("{"):
        return _NOT_JSON

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(items)
        if len(d) != len(items):
            raise ValueError("duplicate key")
        return d

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return _NOT_JSON  # let the YAML loader report it, with a position


def validation_error(
    exc: ValidationError, locator: Locator, error: type[LocatedInputError]
) -> LocatedInputError:
    """Turn pydantic's first error into one located, one-line error."""
    first = exc.errors()[0]
    path = tuple(p for p in first["loc"] if isinstance(p, (str, int)))
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "missing":
        msg = "required field is missing"
    inp = first.get("input")
    # numbers help ("got 1.5"); text is never echoed: the file may not be the user's to show
    if first["type"] not in ("missing", "extra_forbidden"):
        if isinstance(inp, bool | int | float):
            msg = f"{msg} (got {inp!r})"
        elif inp is not None:
            msg = f"{msg} (got {_kind_of(inp)})"
    return error(locator.locate(path), msg.replace("\n", " "))


def _kind_of(value: Any) -> str:
    if isinstance(value, str):
        return f"text of {len(value)} characters" if len(value) != 1 else "one character"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def parse_as(model: type[M], data: Any, locator: Locator, error: type[LocatedInputError]) -> M:
    """Validate ``data`` into ``model`` or raise a located one-line error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, locator, error) from None
