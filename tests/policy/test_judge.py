"""y_pred versus score (issue 12): the fairness rule names which one it judges, and a table
declaring both without a choice in the rule is a blocking error, never a silent pick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from helpers import run_cli, small_manifest
from ordinance.policy import Status, evaluate, load_pack

from .conftest import Builder, csv_bytes, prediction_table


def _pack(tmp_path: Path, judge: str | None):
    line = f"      judge: {judge}\n" if judge else ""
    path = tmp_path / f"pack-{judge}.yaml"
    path.write_text(
        "apiVersion: ordinance/v1\nkind: PolicyPack\nmetadata: {name: j}\nrules:\n"
        "  - id: fpr\n    type: fairness.threshold\n    params:\n"
        f"{line}"
        "      metric: false_positive_rate\n      aggregate: difference\n      max: 0.1\n"
        "      sensitive: [ethnicity]\n"
    )
    return load_pack(path)


def _both(build: Builder):
    """Biased labels (FPR gap ~0.29 on y_pred), a score that is fair at 0.5."""
    frame = prediction_table(biased=True)
    rng = np.random.default_rng(5)
    frame["p"] = np.where(frame["default"] == 1, 0.8, 0.1) + rng.uniform(0, 0.05, len(frame))
    preds = build.evidence(
        "predictions",
        "predictions.csv",
        csv_bytes(frame),
        attributes={
            "y_true": "default",
            "y_pred": "predicted",
            "score": "p",
            "threshold": 0.5,
            "sensitive": ["ethnicity"],
        },
    )
    return build.version(evidence=[preds])


def test_both_declared_without_a_choice_is_a_blocking_error(build: Builder, tmp_path: Path) -> None:
    v = _both(build)
    ev = evaluate(v, "staging", [_pack(tmp_path, None)], build.ctx())
    f = ev.findings[0]
    assert f.status == Status.ERROR and f.blocking and ev.verdict == "fail"
    assert "declare both y_pred ('predicted') and score ('p')" in f.result.detail
    assert "params.judge" in f.result.detail


def test_the_rule_names_what_it_judges(build: Builder, tmp_path: Path) -> None:
    v = _both(build)
    on_labels = evaluate(v, "staging", [_pack(tmp_path, "y_pred")], build.ctx()).findings[0]
    on_score = evaluate(v, "staging", [_pack(tmp_path, "score")], build.ctx()).findings[0]
    assert on_labels.status == Status.FAIL and on_score.status == Status.PASS
    assert "on y_pred 'predicted'" in on_labels.result.detail
    assert "on score 'p' >= 0.5" in on_score.result.detail
    assert on_labels.result.measured["judged"] == {"prediction": "y_pred", "column": "predicted"}
    assert on_score.result.measured["judged"] == {"prediction": "score", "column": "p"}
    assert on_labels.result.measured["value"] > 0.2 > on_score.result.measured["value"]


def test_judging_an_undeclared_column_is_an_error(build: Builder, tmp_path: Path) -> None:
    v = build.version()  # declares y_pred only
    f = evaluate(v, "staging", [_pack(tmp_path, "score")], build.ctx()).findings[0]
    assert f.status == Status.ERROR and "declare no 'score' column" in f.result.detail
    f = evaluate(v, "staging", [_pack(tmp_path, None)], build.ctx()).findings[0]
    assert f.status == Status.PASS and "on y_pred 'predicted'" in f.result.detail


def test_shipped_packs_choose(tmp_path: Path) -> None:
    for name in ("baseline", "eu-ai-act-high-risk", "bank-model-risk", "nist-ai-rmf"):
        for rule in load_pack(f"ordinance:{name}").rules:
            if rule.type == "fairness.threshold":
                assert rule.params.get("judge") in ("y_pred", "score"), (name, rule.id)


def _register(tmp_path: Path, attributes: dict[str, object]) -> tuple[int, str]:
    home = tmp_path / "ws"
    if not home.exists():
        assert run_cli("--home", home, "init").code == 0
    d = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
    m = small_manifest(d)
    doc = yaml.safe_load(m.read_text())
    doc["evidence"][0]["attributes"] = attributes
    m.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = run_cli("--home", home, "register", m)
    return r.code, r.err


def test_declared_columns_are_checked_at_registration(tmp_path: Path) -> None:
    code, err = _register(tmp_path, {"y_true": "y", "y_pred": "yhat", "sensitive": ["gender"]})
    assert code == 2 and "sensitive[0] column 'gender' is not in the table" in err, err
    assert "manifest.yaml:" in err and len(err.strip().splitlines()) == 1
    code, err = _register(tmp_path, {"y_true": "label", "y_pred": "yhat"})
    assert code == 2 and "y_true column 'label'" in err, err
    code, err = _register(tmp_path, {"y_true": "y", "score": "sex", "threshold": 0.5})
    assert code == 2 and "score column 'sex' must hold numbers" in err, err
    code, err = _register(tmp_path, {"y_true": "y", "score": "yhat", "threshold": "high"})
    assert code == 2 and "'threshold' must be a number" in err, err
    code, err = _register(tmp_path, {"y_true": "y", "y_pred": 3})
    assert code == 2 and "'y_pred' must name a column" in err, err
    code, err = _register(tmp_path, {"y_true": "y", "y_pred": "yhat", "sensitive": ["sex"]})
    assert code == 0, err
