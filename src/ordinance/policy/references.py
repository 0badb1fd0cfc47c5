"""Regulatory references a pack cites, checked against a shipped table of real provisions.

``references.yaml`` (next to this module, shipped in the wheel) lists the EU AI Act articles
and Annex IV items, the SR 11-7 sections and the NIST AI RMF functions, subcategories and
trustworthiness characteristics the shipped packs may cite, with their titles.
:func:`check_reference` parses one reference string and returns why it does not hold (a wrong
number, a title that is not that provision's title, an unknown framework), or ``None``.

The grammar (titles matched case-insensitively; an article's paragraph such as ``(2)(f)`` is
kept but not checked)::

    EU AI Act Art. 10(2)(f) Data and data governance
    EU AI Act Annex IV 2(g) Detailed description of the elements ... for its development
    SR 11-7 §V Model Validation (outcomes analysis)
    NIST AI RMF MEASURE 2.11 Fairness and bias evaluated
    NIST AI RMF MEASURE (valid and reliable)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ordinance.errors import InfrastructureError

__all__ = ["ReferenceTable", "check_reference", "reference_table"]

_TABLE = Path(__file__).resolve().parent / "references.yaml"

_EU_ART = re.compile(r"^EU AI Act Art\. (\d+)((?:\([0-9a-z]+\))*(?:-\([0-9a-z]+\))?) (.+)$")
_EU_ANNEX = re.compile(r"^EU AI Act Annex IV (\d+)((?:\([a-z]\))*(?:-\([a-z]\))?) (.+)$")
_SR = re.compile(r"^SR 11-7 §([IVX]+) ([^(]+?)(?: \(([^)]+)\))?$")
_NIST_SUB = re.compile(r"^NIST AI RMF ([A-Z]+) (\d+)\.(\d+) (.+)$")
_NIST_CHAR = re.compile(r"^NIST AI RMF ([A-Z]+) \(([^)]+)\)$")


@dataclass(frozen=True)
class ReferenceTable:
    """The provisions of ``references.yaml``, keyed by number."""

    eu_articles: dict[int, str]
    annex_iv: dict[int, str]
    sr_sections: dict[str, str]
    sr_topics: dict[str, tuple[str, ...]]
    nist_functions: dict[str, int]
    nist_subcategories: dict[str, str]
    nist_characteristics: tuple[str, ...]


@cache
def reference_table() -> ReferenceTable:
    """The shipped table (read once)."""
    try:
        doc: Any = yaml.safe_load(_TABLE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:  # pragma: no cover - a broken installation
        raise InfrastructureError(f"cannot read the reference table {_TABLE}: {exc}") from exc
    eu, sr, nist = doc["eu-ai-act"], doc["sr-11-7"], doc["nist-ai-rmf"]
    return ReferenceTable(
        eu_articles={int(k): str(v) for k, v in eu["articles"].items()},
        annex_iv={int(k): str(v) for k, v in eu["annex-iv"].items()},
        sr_sections={str(k): str(v["title"]) for k, v in sr["sections"].items()},
        sr_topics={str(k): tuple(v.get("topics") or ()) for k, v in sr["sections"].items()},
        nist_functions={str(k): int(v) for k, v in nist["functions"].items()},
        nist_subcategories={str(k): str(v) for k, v in nist["subcategories"].items()},
        nist_characteristics=tuple(str(c) for c in nist["characteristics"]),
    )


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def check_reference(ref: str, table: ReferenceTable | None = None) -> str | None:
    """Why ``ref`` is not a real provision with its real title, or ``None`` when it is."""
    t = table or reference_table()
    if m := _EU_ART.match(ref):
        number, title = int(m[1]), m[3]
        if number not in t.eu_articles:
            return f"EU AI Act Article {number} is not in the reference table"
        if not _same(title, t.eu_articles[number]):
            return f"EU AI Act Article {number} is titled {t.eu_articles[number]!r}, not {title!r}"
        return None
    if m := _EU_ANNEX.match(ref):
        item, title = int(m[1]), m[3]
        if item not in t.annex_iv:
            return f"EU AI Act Annex IV has no item {item} (items 1-9)"
        if not _same(title, t.annex_iv[item]):
            return f"EU AI Act Annex IV item {item} is titled {t.annex_iv[item]!r}, not {title!r}"
        return None
    if m := _SR.match(ref):
        section, title, topic = m[1], m[2], m[3]
        if section not in t.sr_sections:
            return f"SR 11-7 has no section {section} (sections I-VII)"
        if not _same(title, t.sr_sections[section]):
            return f"SR 11-7 section {section} is titled {t.sr_sections[section]!r}, not {title!r}"
        if topic is not None and not any(_same(topic, x) for x in t.sr_topics[section]):
            known = ", ".join(t.sr_topics[section]) or "none listed"
            return f"SR 11-7 section {section} does not cover {topic!r} (topics: {known})"
        return None
    if m := _NIST_SUB.match(ref):
        function, category, title = m[1], int(m[2]), m[4]
        if function not in t.nist_functions:
            return f"NIST AI RMF has no function {function}"
        if not 1 <= category <= t.nist_functions[function]:
            return f"NIST AI RMF {function} has {t.nist_functions[function]} categories"
        key = f"{function} {m[2]}.{m[3]}"
        if key not in t.nist_subcategories:
            return f"NIST AI RMF subcategory {key} is not in the reference table"
        if not _same(title, t.nist_subcategories[key]):
            return f"NIST AI RMF {key} is titled {t.nist_subcategories[key]!r}, not {title!r}"
        return None
    if m := _NIST_CHAR.match(ref):
        function, characteristic = m[1], m[2]
        if function not in t.nist_functions:
            return f"NIST AI RMF has no function {function}"
        if not any(_same(characteristic, c) for c in t.nist_characteristics):
            return f"{characteristic!r} is not a NIST AI RMF trustworthiness characteristic"
        return None
    return (
        f"{ref!r} is not a reference Ordinance can check (EU AI Act Art./Annex IV, "
        "SR 11-7 §, NIST AI RMF)"
    )
