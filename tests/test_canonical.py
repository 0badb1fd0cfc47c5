"""Our fast RFC 8785 canonicalizer equals the rfc8785 reference implementation byte for byte."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ordinance._canonical import canonical_json

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json = st.recursive(
    _scalars,
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(), c, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_matches_rfc8785(value: object) -> None:
    try:
        want = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises((ValueError, TypeError, UnicodeEncodeError)):
            canonical_json(value)
        return
    assert canonical_json(value) == want


def test_known_vectors() -> None:
    # RFC 8785 §3.2.2 / appendix examples: key order by UTF-16 code units, number forms.
    assert canonical_json({"\u20ac": 1, "\r": 2, "\U0001f600": 3, "\ufb33": 4}) == rfc8785.dumps(
        {"\u20ac": 1, "\r": 2, "\U0001f600": 3, "\ufb33": 4}
    )
    assert (
        canonical_json([1.0, 1e21, 1e-7, -0.0, 333333333.33333329])
        == b"[1,1e+21,1e-7,0,333333333.3333333]"
    )
    assert (
        canonical_json({"b": [], "a": {"d": None, "c": True}})
        == b'{"a":{"c":true,"d":null},"b":[]}'
    )
    with pytest.raises(ValueError):
        canonical_json(2**60)
    with pytest.raises(ValueError):
        canonical_json(math.nan)
