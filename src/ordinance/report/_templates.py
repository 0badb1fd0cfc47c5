"""The Jinja2 environment every text renderer shares: sandboxed, autoescaping, strict.

* **Sandboxed** (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`): a template, even a
  user's override from ``--templates DIR``, cannot reach Python internals or mutate the
  context.
* **Autoescape on** for every template (HTML and Markdown alike), so text from model data
  (``<script>``) is inert; ``{{ 7*7 }}`` in model data stays those characters, because model
  data is only ever a *value* passed to a template, never template source.
* **StrictUndefined**: a typo in a template is an error, not an empty string.

Templates are looked up in the ``--templates`` directory first (so one file can be
overridden), then the packaged copy (``ordinance/_data/report_templates``), then the source
tree's ``report_templates/``.

Compiled templates are cached as Jinja2 bytecode in the user's cache directory
(``$ORDINANCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/ordinance``, else ``~/.cache/ordinance``),
in a subdirectory named for the Jinja2 version and these environment settings; an entry is
used only while its template's source is unchanged. The directory must be the user's own and
private (mode 0700), like ``__pycache__``: otherwise nothing is cached.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ordinance.charts import bar_chart, xy_chart
from ordinance.errors import InfrastructureError, InputError

_PACKAGED = Path(__file__).resolve().parent.parent / "_data" / "report_templates"
_SOURCE = Path(__file__).resolve().parents[3] / "report_templates"


def template_dirs(override: Path | None = None) -> list[Path]:
    """Where templates are looked up, in order."""
    dirs: list[Path] = []
    if override is not None:
        if not override.is_dir():
            raise InputError(f"--templates {override}: not a directory")
        dirs.append(override)
    for d in (_PACKAGED, _SOURCE):
        if d.is_dir():
            dirs.append(d)
    if len(dirs) == (1 if override is not None else 0):
        raise InfrastructureError(
            "Ordinance's report templates are missing (neither ordinance/_data/report_templates "
            "nor report_templates/ exists): reinstall Ordinance"
        )
    return dirs


def num(value: Any, digits: int = 4) -> str:
    """A number for display: fixed decimals for floats, ``undefined`` for ``None``/NaN."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "undefined"
    return str(value)


def short(value: Any, n: int = 12) -> str:
    """The first ``n`` characters of a digest, with an ellipsis."""
    text = "" if value is None else str(value)
    return text if len(text) <= n else text[:n] + "…"


def svg(chart: Mapping[str, Any]) -> Markup:
    """A chart spec (``title``, ``description``, ``bars``) drawn as inline SVG.

    Safe to mark up: :func:`ordinance.charts.bar_chart` XML-escapes every text it writes.
    """
    if chart.get("kind") == "calibration":
        text = xy_chart(
            [(float(x), float(y)) for x, y in chart["points"]],
            title=str(chart["title"]),
            description=str(chart.get("description") or ""),
            x_label=str(chart.get("x_label") or ""),
            y_label=str(chart.get("y_label") or ""),
            threshold=chart.get("threshold"),
        )
        return Markup(text)  # noqa: S704 - xy_chart escapes all text it emits
    bars: Sequence[Sequence[Any]] = chart["bars"]
    drawn = [(str(label), None if value is None else float(value)) for label, value in bars]
    ref = chart.get("reference")
    text = bar_chart(
        drawn,
        title=str(chart["title"]),
        description=str(chart.get("description") or ""),
        intervals=chart.get("intervals"),
        reference=None if ref is None else float(ref),
        reference_label=str(chart.get("reference_label") or ""),
        axis_label=str(chart.get("axis") or ""),
        flags=chart.get("flags"),
    )
    return Markup(text)  # noqa: S704 - bar_chart escapes all text it emits


def md_cell(value: Any) -> str:
    """Text for a Markdown table cell: one line, pipes escaped (HTML escaping still applies)."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def md_text(value: Any) -> str:
    """A Markdown paragraph from data: characters Markdown would interpret are escaped."""
    text = "" if value is None else str(value)
    escaped = "".join("\\" + ch if ch in "\\`*_[]" else ch for ch in text)
    return "\n".join(
        "\\" + line if line.lstrip().startswith(("#", "+", "-", "=")) else line
        for line in escaped.split("\n")
    )


def title_case(value: Any) -> str:
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


#: The environment's settings (they shape the compiled code, so they name the cache).
_SETTINGS: dict[str, Any] = {
    "autoescape": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


def _own_dir(path: Path, mask: int) -> bool:
    """Whether ``path`` is a directory (not a link) of this user with no ``mask`` mode bits."""
    try:
        st = path.lstat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    owned = getuid is None or st.st_uid == getuid()
    return stat.S_ISDIR(st.st_mode) and owned and not st.st_mode & mask


@lru_cache(maxsize=1)
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between processes (see the module docstring), or ``None``."""
    base = os.environ.get("ORDINANCE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "ordinance",
    )
    tag = (
        f"{jinja2.__version__} {ImmutableSandboxedEnvironment.__name__} {sorted(_SETTINGS.items())}"
    )
    directory = Path(base) / f"templates-{hashlib.sha256(tag.encode()).hexdigest()[:16]}"
    try:
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    # private to this user, in a directory nobody else can write (so cannot swap it)
    if not (_own_dir(directory, 0o077) and _own_dir(directory.parent, 0o022)):
        return None
    return jinja2.FileSystemBytecodeCache(str(directory))


@lru_cache(maxsize=8)
def _environment(dirs: tuple[Path, ...]) -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
        **_SETTINGS,
    )
    env.filters.update(
        num=num, short=short, svg=svg, md_cell=md_cell, md_text=md_text, title_case=title_case
    )
    return env


def environment(override: Path | None = None) -> jinja2.Environment:
    """The shared, cached environment for this template search path."""
    return _environment(tuple(template_dirs(override)))


def render_template(
    name: str, context: Mapping[str, Any], override: Path | None = None, **extra: Any
) -> str:
    """Render one template with the context's keys as variables (plus ``extra``)."""
    env = environment(override)
    try:
        template = env.get_template(name)
        return template.render({**context, **extra})
    except jinja2.TemplateNotFound as exc:
        raise InfrastructureError(f"report template {exc.name!r} not found") from None
    except jinja2.UndefinedError as exc:
        raise InputError(f"report template {name}: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(
            f"report template {exc.filename or name}:{exc.lineno}: {exc.message}"
        ) from None
    except SecurityError as exc:
        raise InputError(f"report template {name}: refused by the sandbox: {exc}") from None
