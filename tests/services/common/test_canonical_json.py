"""services.common.jws.canonical_json takes Python's compact JSON where that is RFC 8785 byte for byte: checked
against the rfc8785 library over generated values, including the ones it must leave to the library."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common import jws

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_values = st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
)


def _library(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as error:
        return type(error)


@settings(max_examples=600, deadline=None)
@given(_values)
def test_the_same_bytes_as_the_library_or_the_same_refusal(value: Any) -> None:
    try:
        ours: bytes | type[Exception] = jws.canonical_json(value)
    except rfc8785.CanonicalizationError as error:
        ours = type(error)
    assert ours == _library(value)


def test_control_characters_non_ascii_and_large_integers() -> None:
    record = {"b": "\x00\x1f\x7f\u2028é€😀", "a": [2**53 - 1, -(2**53 - 1), True, None], "é": "key"}
    assert jws.canonical_json(record) == rfc8785.dumps(record)
    assert jws.canonical_json({"amount": "1.00", "z": {"y": 1, "x": [{}]}}) == b'{"amount":"1.00","z":{"x":[{}],"y":1}}'
