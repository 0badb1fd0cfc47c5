"""``ordinance.metrics`` exports a curated, documented surface."""

from __future__ import annotations

import ordinance.metrics


def test_metrics_all_exists_and_is_documented() -> None:
    names = ordinance.metrics.__all__  # its order is ruff's (RUF022)
    assert len(set(names)) == len(names)
    for name in names:
        obj = getattr(ordinance.metrics, name)
        if callable(obj):
            assert obj.__doc__, name
