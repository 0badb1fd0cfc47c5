"""Regulatory coverage with evidence: EU AI Act Annex IV and the SR 11-7 validation structure.

The mappings are data (``frameworks/*.yaml``, shipped with Ordinance): each item names the
checks that evidence it, in groups (every group must be met by one of its checks). A check
is a small function of the report context that returns the *evidence references* that
satisfy it — a documentation field, an evidence file by digest, a signed log entry by index,
a statistic and the file it was computed from — or nothing. An item is:

* ``covered`` when every group is met, each with at least one reference;
* ``partial`` when some groups are met;
* ``gap`` when none is.

There is no other way to tick an item: no counts standing in for evidence ("3 policy
evaluations" is not a risk-management system). The references are printed next to the item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ordinance.errors import InfrastructureError

__all__ = ["CHECKS", "FRAMEWORKS", "check_names", "coverage", "load_framework"]

FRAMEWORKS: tuple[str, ...] = ("annex-iv", "sr-11-7")
_DIR = Path(__file__).resolve().parent / "frameworks"

Context = Mapping[str, Any]
Check = Callable[[Context, str], list[str]]


def _short(digest: Any) -> str:
    return f"sha256:{str(digest)[:12]}…" if digest else "no digest"


def _doc(ctx: Context, field: str) -> list[str]:
    if field == "description":
        text = ctx["details"].get("description")
    else:
        text = (ctx.get("documentation") or {}).get(field)
    if not text:
        return []
    return [f"documentation '{field}' in the signed registration ({_registration(ctx)})"]


def _registration(ctx: Context) -> str:
    for e in ctx.get("audit_trail") or ():
        if e["kind"] == "registration":
            return f"log entry {e['index']}"
    return "not logged"


def _evidence(ctx: Context, kind: str) -> list[str]:
    return [
        f"evidence {e['kind']}/{e['name']} {_short(e['sha256'])}"
        for e in ctx.get("evidence") or ()
        if e["kind"] == kind
    ]


def _lineage(ctx: Context, what: str) -> list[str]:
    lin = ctx.get("lineage") or {}
    if what == "datasets_with_digests":
        sets = lin.get("datasets") or []
        if not sets or not all(d.get("sha256") for d in sets):
            return []
        return [f"data set {d['name']} ({d['role']}) {_short(d['sha256'])}" for d in sets]
    if what == "code":
        code = lin.get("code")
        return [f"code {code['repository']} at {code['commit']}"] if code else []
    raise KeyError(what)


_LOG_KINDS = {
    "policy_evaluations": "policy evaluation",
    "registration": "registration",
    "transitions": "transition",
}


def _log(ctx: Context, what: str) -> list[str]:
    kind = _LOG_KINDS[what]
    return [
        f"log entry {e['index']} ({kind}, signed {e.get('signed_at') or 'without a time'})"
        for e in ctx.get("audit_trail") or ()
        if e["kind"] == kind
    ]


def _stats(ctx: Context, what: str) -> list[str]:
    out = []
    for o in ctx.get("outcomes") or ():
        if o.get("error") or not o.get("stats"):
            continue
        s = o["stats"]
        src = f"predictions/{o['evidence']['name']} {_short(o['evidence']['sha256'])}"
        if what == "discrimination" and s["auc"]["value"] is not None:
            out.append(f"AUC {s['auc']['value']:.3f}, KS {s['ks']['value']:.3f} from {src}")
        elif what == "calibration" and s["calibration"]:
            out.append(
                f"calibration in {len(s['calibration'])} bins, Brier {s['brier']['value']:.4f} from {src}"
            )
        elif what == "threshold_sensitivity" and s["sensitivity"]:
            out.append(f"threshold sensitivity at {len(s['sensitivity'])} thresholds from {src}")
    if what not in ("discrimination", "calibration", "threshold_sensitivity"):
        raise KeyError(what)
    return out


def _fairness(ctx: Context, what: str) -> list[str]:
    if what != "disaggregated":
        raise KeyError(what)
    return [
        f"per-group metrics by {', '.join(g['label'] for g in a['groupings'])} from "
        f"predictions/{a['evidence']['name']} {_short(a['evidence']['sha256'])}"
        for a in ctx.get("fairness") or ()
        if not a.get("error") and a.get("groupings")
    ]


def _explainability(ctx: Context, _what: str) -> list[str]:
    return [
        f"{x['kind']} of {len(x['features'])} features from explainability/"
        f"{x['evidence']['name']} {_short(x['evidence']['sha256'])}"
        for x in ctx.get("explainability") or ()
        if not x.get("error") and x.get("features")
    ]


def _independence(ctx: Context, what: str) -> list[str]:
    if what != "validator":
        raise KeyError(what)
    author = ctx["details"].get("author")
    return [
        f"signed approval by {a['approver']} (model-validator, not the author "
        f"{author}), log entry {a['log_index']}"
        for a in ctx.get("approvals") or ()
        if "model-validator" in (a.get("roles") or ())
        and not a.get("revoked")
        and a.get("approver") != author
    ]


#: Check families by prefix: ``doc:intended_use`` calls ``_doc(ctx, "intended_use")``.
CHECKS: dict[str, Check] = {
    "doc": _doc,
    "evidence": _evidence,
    "lineage": _lineage,
    "log": _log,
    "stats": _stats,
    "fairness": _fairness,
    "explainability": _explainability,
    "independence": _independence,
}
_KNOWN_ARGS: dict[str, tuple[str, ...] | None] = {
    "doc": None,  # any documentation field
    "evidence": None,  # any evidence kind
    "lineage": ("datasets_with_digests", "code"),
    "log": tuple(_LOG_KINDS),
    "stats": ("discrimination", "calibration", "threshold_sensitivity"),
    "fairness": ("disaggregated",),
    "explainability": ("",),
    "independence": ("validator",),
}


def _split(check: str) -> tuple[str, str]:
    family, _, arg = check.partition(":")
    return family, arg


def check_names(framework: Mapping[str, Any]) -> list[str]:
    return sorted({c for item in framework["items"] for group in item["requires"] for c in group})


@cache
def load_framework(name: str) -> dict[str, Any]:
    """A shipped mapping, validated: every check must be one Ordinance knows."""
    import yaml

    if name not in FRAMEWORKS:
        raise InfrastructureError(f"unknown framework mapping {name!r}")
    path = _DIR / f"{name}.yaml"
    try:
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InfrastructureError(f"framework mapping {path} is missing: {exc}") from None
    for item in data["items"]:
        if not item.get("requires"):
            raise InfrastructureError(f"{path}: item {item['id']} requires nothing")
    for check in check_names(data):
        family, arg = _split(check)
        if family not in CHECKS:
            raise InfrastructureError(f"{path}: unknown check {check!r}")
        allowed = _KNOWN_ARGS[family]
        if allowed is not None and arg not in allowed:
            raise InfrastructureError(f"{path}: unknown check {check!r}")
        if allowed is None and not arg:
            raise InfrastructureError(f"{path}: check {check!r} needs a name")
    return data


def run_check(ctx: Context, check: str) -> list[str]:
    family, arg = _split(check)
    return CHECKS[family](ctx, arg)


def coverage(ctx: Context, name: str) -> dict[str, Any]:
    """Each item of framework ``name`` with its status and the evidence that satisfies it."""
    fw = load_framework(name)
    items: list[dict[str, Any]] = []
    for item in fw["items"]:
        groups: list[dict[str, Any]] = []
        for group in item["requires"]:
            refs = [(c, ref) for c in group for ref in run_check(ctx, c)]
            groups.append(
                {
                    "any_of": list(group),
                    "met": bool(refs),
                    "evidence": [{"check": c, "ref": ref} for c, ref in refs],
                }
            )
        met = sum(1 for g in groups if g["met"])
        status = "covered" if met == len(groups) else ("partial" if met else "gap")
        items.append(
            {
                "id": str(item["id"]),
                "title": item["title"],
                "citation": item["citation"],
                "status": status,
                "groups": groups,
                "evidence": [e for g in groups for e in g["evidence"]],
                "missing": [g["any_of"] for g in groups if not g["met"]],
            }
        )
    counts = {s: sum(1 for i in items if i["status"] == s) for s in ("covered", "partial", "gap")}
    return {
        "framework": fw["framework"],
        "title": fw["title"],
        "citation": fw["citation"],
        "items": items,
        "counts": counts,
    }
