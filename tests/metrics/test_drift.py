"""PSI and two-sample KS per feature; KS compared with scipy directly."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from ordinance.errors import InputError
from ordinance.metrics.drift import EPSILON, compute_drift, population_stability_index


def _frames(seed: int = 0, shift: float = 0.0, n: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    cur = pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2]),
        }
    )
    return ref, cur


def test_ks_equals_scipy_and_psi_follows_its_definition() -> None:
    ref, cur = _frames(shift=5.0)
    report = compute_drift(ref, cur)
    assert [f.name for f in report.features] == ["age", "income", "city"]
    for name in ("age", "income"):
        f = report.feature(name)
        expected = ks_2samp(ref[name], cur[name])
        assert f.ks_statistic == expected.statistic
        assert f.ks_pvalue == expected.pvalue
        # PSI from the reported bins, recomputed by hand
        r = np.array([b.reference for b in f.bins])
        c = np.array([b.current for b in f.bins])
        assert len(f.bins) == 10
        hand = sum(
            (max(ci, EPSILON) - max(ri, EPSILON)) * math.log(max(ci, EPSILON) / max(ri, EPSILON))
            for ri, ci in zip(r, c, strict=True)
        )
        assert f.psi == pytest.approx(hand, rel=1e-12)
        # quantile bins of the reference hold a tenth of it each
        assert r == pytest.approx(np.full(10, 0.1), abs=1e-3)
    city = report.feature("city")
    assert city.kind == "categorical" and city.ks_statistic is None
    assert [b.label for b in city.bins] == ["a", "b", "c"]
    assert report.feature("age").psi > 0.1 > report.feature("income").psi
    assert city.psi > 0.25
    worst = report.worst("psi")
    assert worst is not None and worst.name == "city"


def test_no_drift_on_identical_tables() -> None:
    ref, _ = _frames()
    report = compute_drift(ref, ref.copy())
    for f in report.features:
        assert f.psi == 0.0
        if f.kind == "numeric":
            assert f.ks_statistic == 0.0


def test_missing_values_get_their_own_bin_and_files_work(tmp_path: Path) -> None:
    ref, cur = _frames()
    cur.loc[:499, "age"] = np.nan
    cur.loc[:99, "city"] = None
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    report = compute_drift(tmp_path / "ref.parquet", tmp_path / "cur.csv", features=["age", "city"])
    age = report.feature("age")
    assert age.bins[-1].label == "<missing>"
    assert (age.missing_reference, age.missing_current) == (0, 500)
    assert age.bins[-1].current == 0.25
    assert age.ks_statistic == ks_2samp(ref["age"], cur["age"].dropna()).statistic
    assert report.feature("city").missing_current == 100


def test_new_category_gives_a_finite_psi() -> None:
    ref = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    cur = pd.DataFrame({"c": ["a"] * 50 + ["z"] * 50})
    f = compute_drift(ref, cur).feature("c")
    assert math.isfinite(f.psi)
    assert f.psi == pytest.approx(population_stability_index([0.5, 0.5, 0.0], [0.5, 0.0, 0.5]))


@settings(max_examples=50, deadline=None)
@given(
    a=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    b=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    bins=st.integers(2, 12),
)
def test_ks_matches_scipy_on_random_samples(a: list[float], b: list[float], bins: int) -> None:
    f = compute_drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b}), bins=bins).feature("x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exact -> asymptotic fallback
        expected = ks_2samp(a, b)
    assert f.ks_statistic == expected.statistic
    assert f.ks_pvalue == expected.pvalue
    assert f.psi >= 0.0
    assert sum(bn.reference for bn in f.bins) == pytest.approx(1.0)
    assert sum(bn.current for bn in f.bins) == pytest.approx(1.0)


def test_errors_name_the_table_and_column(tmp_path: Path) -> None:
    ref, cur = _frames()
    with pytest.raises(InputError, match="no column 'nope'"):
        compute_drift(ref, cur, features=["nope"])
    with pytest.raises(InputError, match=r"missing\.csv: no such file"):
        compute_drift(tmp_path / "missing.csv", cur)
    with pytest.raises(InputError, match="shares no column"):
        compute_drift(ref, pd.DataFrame({"other": [1]}))
    with pytest.raises(InputError, match="unknown drift statistic"):
        compute_drift(ref, cur).feature("age").value("mean")  # type: ignore[arg-type]
