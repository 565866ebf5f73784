"""find_uins, the UIN scan the suite's egress check, the gateway's egress scan and log redaction share: it must know
the sandbox's own id formats, so that it neither misses a UIN nor takes the digits inside an id for one. A property
test over generated ids and UINs in every written form."""

from __future__ import annotations

import json
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.logging import REDACTED, redact_text
from services.identity.client import find_uins
from services.identity.persons.uin import verhoeff_check_digit

HEX = "0123456789abcdef"
DIGITS = "0123456789"
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"

# Hex biased towards digits: long digit runs inside ids are exactly the case that used to cry wolf.
hex_digits = st.text(alphabet=st.sampled_from(DIGITS * 6 + HEX), min_size=32, max_size=32)
uuid7 = st.binary(min_size=16, max_size=16).map(
    lambda raw: uuid.UUID(bytes=bytes([*raw[:6], 0x70 | raw[6] & 0x0F, *raw[7:]]))
)
digit_heavy_uuid = hex_digits.map(lambda h: uuid.UUID(hex=h))
prefix = st.sampled_from(["", "per", "evt", "otx", "ahe", "msg", "case", "corr", "vid", "idem", "ahe2"])

own_ids = st.one_of(
    st.builds(lambda p, h: f"{p}_{h}" if p else h, prefix, hex_digits),  # services.common.ids.new_id
    uuid7.map(lambda u: u.hex),
    st.one_of(uuid7, digit_heavy_uuid).map(str),  # canonical dashed UUIDs
    st.one_of(uuid7, digit_heavy_uuid).map(lambda u: str(u).upper()),
    st.text(alphabet=BASE32, min_size=26, max_size=26).map(lambda b: "sub_" + b),
    st.text(alphabet=BASE32, min_size=26, max_size=26).map(lambda b: "tok_" + b),
)


def _with_check_digit(body: str) -> str:
    return body + verhoeff_check_digit(body)


uins = st.text(alphabet=DIGITS, min_size=11, max_size=11).map(_with_check_digit)
vids = st.text(alphabet=DIGITS, min_size=15, max_size=15).map(_with_check_digit)
separator = st.sampled_from(["", " ", "-", "."])


def _written(uin: str, sep: str) -> str:
    return sep.join((uin[:4], uin[4:8], uin[8:])) if sep else uin


other_numbers = st.one_of(
    vids,
    vids.map(lambda v: " ".join(v[i : i + 4] for i in range(0, 16, 4))),  # a VID written in fours
    st.just("+000 555 0101"),
    st.dates().map(str),
    st.integers(min_value=0, max_value=10**11 - 1).map(str),  # at most 11 digits
)


@settings(max_examples=400, deadline=None)
@given(
    ids=st.lists(own_ids, max_size=8),
    numbers=st.lists(other_numbers, max_size=4),
    written=st.lists(st.tuples(uins, separator), max_size=3),
    order=st.randoms(use_true_random=False),
)
def test_it_finds_exactly_the_uins_among_the_sandboxs_ids(ids, numbers, written, order) -> None:
    items: list[tuple[str, str | None]] = [(i, None) for i in ids] + [(n, None) for n in numbers]
    items += [(_written(uin, sep), uin) for uin, sep in written]
    order.shuffle(items)
    body = json.dumps({"items": [text for text, _ in items], "next": ids[0] if ids else None})
    expected = [uin for _, uin in items if uin is not None]
    assert find_uins(body) == expected
    assert find_uins(body.encode()) == expected


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(own_ids, min_size=1, max_size=5), uin=uins, sep=separator)
def test_log_redaction_masks_every_uin_and_keeps_every_id_whole(ids, uin, sep) -> None:
    line = f"request.completed path=/v1/persons/{ids[0]} note={_written(uin, sep)} ids={','.join(ids)}"
    redacted = redact_text(line)
    assert _written(uin, sep) not in redacted and REDACTED in redacted
    for own in ids:
        assert own in redacted


def test_the_flaky_case_a_uuid_whose_last_group_is_a_valid_uin() -> None:
    uin = _with_check_digit("98905576704")
    dashed = f"0190a1b2-c3d4-7e5f-8a9b-{uin}"
    hexed = "0190a1b2c3d47e5f8a9b" + uin
    assert find_uins(json.dumps({"id": dashed, "other": f"evt_{hexed}", "raw": hexed})) == []
    assert find_uins(f"uin {uin} in {dashed}") == [uin]
