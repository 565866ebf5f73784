"""Public statistics withhold every count under k, including counts that could be worked out by differencing the
published totals (SG-TRANSP-1 with the small-cell protection of SG-GENDER-1)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.events import AuditEvent
from gateway.oversight.suppression import SuppressedTable, suppress_table
from tests.gateway.oversight.conftest import as_


def _determined_hidden_cells(table: SuppressedTable, rows: list[str], columns: list[str]) -> set[tuple[str, str]]:
    """The attacker: every published number is a linear equation over the withheld cells; a withheld cell is
    worked out exactly when its unit vector lies in the row space of those equations (Gaussian elimination over
    the rationals, independent of the code under test)."""
    unknowns = [(r, c) for r in rows for c in columns if table.cells[r][c] is None]
    equations: list[list[Fraction]] = []

    def add(cells: list[tuple[str, str]], total: int | None) -> None:
        if total is None:
            return
        equations.append([Fraction(1 if key in cells else 0) for key in unknowns])

    for r in rows:
        add([(r, c) for c in columns], table.row_totals[r])
    for c in columns:
        add([(r, c) for r in rows], table.column_totals[c])
    add([(r, c) for r in rows for c in columns], table.total)
    # Row-reduce and find which unit vectors are in the span.
    matrix = [row[:] for row in equations]
    pivots: list[int] = []
    rank = 0
    for column in range(len(unknowns)):
        pivot = next((i for i in range(rank, len(matrix)) if matrix[i][column] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        lead = matrix[rank][column]
        matrix[rank] = [v / lead for v in matrix[rank]]
        for i in range(len(matrix)):
            if i != rank and matrix[i][column] != 0:
                factor = matrix[i][column]
                matrix[i] = [a - factor * b for a, b in zip(matrix[i], matrix[rank], strict=True)]
        pivots.append(column)
        rank += 1
    determined = set()
    for row in matrix[:rank]:
        nonzero = [i for i, v in enumerate(row) if v != 0]
        if len(nonzero) == 1:
            determined.add(unknowns[nonzero[0]])
    return determined


COLUMNS = ["a", "b", "c"]


def test_a_small_cell_is_withheld_and_so_is_the_cell_that_would_give_it_away():
    table = suppress_table({"x": {"a": 3, "b": 40, "c": 50}, "y": {"a": 20, "b": 30, "c": 60}}, COLUMNS, k=10)
    assert table.cells["x"]["a"] is None
    hidden_in_x = [c for c in COLUMNS if table.cells["x"][c] is None]
    assert len(hidden_in_x) >= 2, "one withheld cell in a row with a published total is a subtraction away"
    hidden_in_a = [r for r in ("x", "y") if table.cells[r]["a"] is None]
    assert len(hidden_in_a) >= 2
    assert not _determined_hidden_cells(table, ["x", "y"], COLUMNS)


def test_totals_under_k_are_withheld_with_their_line():
    table = suppress_table({"x": {"a": 2, "b": 1, "c": 0}, "y": {"a": 20, "b": 30, "c": 60}}, COLUMNS, k=10)
    assert table.row_totals["x"] is None
    assert table.cells["x"] == {"a": None, "b": None, "c": 0}


def test_nothing_small_nothing_withheld():
    table = suppress_table({"x": {"a": 10, "b": 0, "c": 12}}, COLUMNS, k=10)
    assert table.suppressed == 0
    assert table.total == 22


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.lists(st.integers(min_value=0, max_value=40), min_size=3, max_size=3), min_size=1, max_size=5),
    k=st.integers(min_value=2, max_value=12),
)
def test_no_published_number_reveals_a_count_under_k(counts, k):
    rows = [f"r{i}" for i in range(len(counts))]
    table = suppress_table(
        {r: dict(zip(COLUMNS, values, strict=True)) for r, values in zip(rows, counts, strict=True)}, COLUMNS, k=k
    )
    published = [v for row in table.cells.values() for v in row.values() if v is not None]
    published += [v for v in (*table.row_totals.values(), *table.column_totals.values(), table.total) if v is not None]
    assert all(v == 0 or v >= k for v in published), "a published count under k"
    for r, c in _determined_hidden_cells(table, rows, COLUMNS):
        original = counts[rows.index(r)][COLUMNS.index(c)]
        assert original == 0 or original >= k, f"cell {r},{c} = {original} can be worked out from the totals"


@pytest.mark.rule("SG-TRANSP-1")
async def test_grievance_statistics_are_public_and_withhold_small_cells(desk):
    for _ in range(12):
        await desk.client.post(
            "/me/grievances", json={"category": "identity", "description": "wrong birth date"}, headers=as_("amina")
        )
    for _ in range(3):
        await desk.client.post(
            "/me/grievances", json={"category": "payment", "description": "late transfer"}, headers=as_("bilal")
        )
    response = await desk.client.get("/governance/stats/grievances")
    assert response.status_code == 200
    stats = response.json()["by_category"]
    assert stats["k"] == 10
    assert stats["rows"]["payment"]["open_in_time"] is None, "3 payment grievances is a cell under k"
    assert stats["row_totals"]["payment"] is None
    # Differencing: with the column total (15) published, the identity cell (12) would give the 3 away.
    assert stats["column_totals"]["open_in_time"] == 15
    assert stats["rows"]["identity"]["open_in_time"] is None
    assert stats["total"] == 15
    assert stats["withheld"] == 2


def _in_span(equations: list[list[Fraction]], target: list[Fraction]) -> bool:
    """Whether `target` is a combination of `equations` (its rank does not grow when added): what an attacker
    who subtracts and adds published totals can work out."""

    def rank(rows: list[list[Fraction]]) -> int:
        matrix, count = [r[:] for r in rows], 0
        for column in range(len(target)):
            pivot = next((i for i in range(count, len(matrix)) if matrix[i][column] != 0), None)
            if pivot is None:
                continue
            matrix[count], matrix[pivot] = matrix[pivot], matrix[count]
            for i in range(len(matrix)):
                if i != count and matrix[i][column] != 0:
                    factor = matrix[i][column] / matrix[count][column]
                    matrix[i] = [a - factor * b for a, b in zip(matrix[i], matrix[count], strict=True)]
            count += 1
        return count

    return rank(equations) == rank([*equations, target])


def _worked_out(stats: dict, cells: set[tuple[str, str]]) -> bool:  # type: ignore[type-arg]
    """Whether the published numbers of a table pin down the sum of `cells` (withheld ones are unknowns)."""
    rows, columns = list(stats["rows"]), stats["columns"]
    hidden = [(r, c) for r in rows for c in columns if stats["rows"][r][c] is None]
    if not set(cells) & set(hidden):
        return True
    lines = [([(r, c) for c in columns], stats["row_totals"][r]) for r in rows]
    lines += [([(r, c) for r in rows], stats["column_totals"][c]) for c in columns]
    lines.append(([(r, c) for r in rows for c in columns], stats["total"]))
    equations = [[Fraction(key in members) for key in hidden] for members, total in lines if total is not None]
    return _in_span(equations, [Fraction(key in cells) for key in hidden])


def _event(rules: tuple[str, ...], decision: str = "permit", channel: str = "web", **extra) -> AuditEvent:  # type: ignore[no-untyped-def]
    return AuditEvent(
        decision=decision, actor="rp-bank", actor_type="organisation", action="POST /identity/v1/kyc",
        rule_ids=rules, channel=channel, status=200 if decision == "permit" else 403, **extra,
    )  # fmt: skip


@pytest.mark.rule("SG-TRANSP-1")
async def test_requests_and_denials_per_rule_are_read_from_the_audit_log_and_small_cells_withheld(desk):
    events = [_event(("SG-SEC-1", "SG-CONSENT-1")) for _ in range(25)]
    events += [_event(("SG-CONSENT-1",), "deny") for _ in range(12)]
    events += [_event(("SG-PURPOSE-1",), "deny") for _ in range(4)]
    events += [_event(("SG-SEC-1",), dry_run=True) for _ in range(30)]  # dry runs are not requests
    await desk.app.state.audit.append_many(events)
    response = await desk.client.get("/governance/stats/requests")
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["log_size"] == 71
    table = stats["by_rule"]
    truth = {"SG-SEC-1": (25, 0), "SG-CONSENT-1": (25, 12), "SG-PURPOSE-1": (0, 4)}
    for rule_id, (permitted, denied) in truth.items():
        shown = table["rows"][rule_id]
        assert shown["permitted"] in (permitted, None) and shown["denied"] in (denied, None), rule_id
    assert table["rows"]["SG-PURPOSE-1"]["denied"] is None, "4 denials is a count under k"
    assert not _worked_out(table, {("SG-PURPOSE-1", "denied")}), "nor can it be worked out from the totals"
    assert set(table["rows"]) >= {"SG-BREACH-1", "SG-NOTIFY-1"}, "every rule of the catalogue, zeros included"
    await desk.app.state.audit.append_many([_event(("SG-PURPOSE-1",), "deny") for _ in range(6)])
    later = (await desk.client.get("/governance/stats/requests")).json()["by_rule"]
    assert later["rows"]["SG-PURPOSE-1"] == {"permitted": 0, "denied": 10}, "read on from where it stopped"
    assert later["rows"]["SG-SEC-1"] == {"permitted": 25, "denied": 0}
    assert later["rows"]["SG-CONSENT-1"] == {"permitted": 25, "denied": 12}
    assert later["withheld"] == 0


@pytest.mark.rule("SG-TRANSP-1")
@pytest.mark.rule("SG-INCL-3")
async def test_a_channel_under_k_is_withheld_even_by_differencing_two_published_totals(desk):
    """Acceptance 3. Three people used USSD. With every other channel's total and the grand total published, the
    grand total minus the others would give the three away: so some of those totals must be withheld too."""
    events = [_event(("SG-SEC-1",)) for _ in range(40)]
    events += [_event(("SG-SEC-1",), "deny") for _ in range(12)]
    events += [_event(("SG-SEC-1",), channel="assisted", assisted_by="op-7") for _ in range(15)]
    events += [_exception() for _ in range(11)]
    events += [_event(("SG-SEC-1",), channel="ussd") for _ in range(3)]
    await desk.app.state.audit.append_many(events)
    stats = (await desk.client.get("/governance/stats/inclusion")).json()
    table = stats["by_channel"]
    truth = {"web": [40, 0, 12], "assisted": [15, 11, 0], "ussd": [3, 0, 0]}
    for channel, values in truth.items():
        for column, value in zip(table["columns"], values, strict=True):
            assert table["rows"][channel][column] in (value, None), (channel, column)
    assert table["rows"]["ussd"]["completed"] is None
    assert table["row_totals"]["ussd"] is None
    others = [table["row_totals"]["web"], table["row_totals"]["assisted"]]
    assert table["total"] is None or None in others, "the grand total minus the other channels would be 3"
    assert not _worked_out(table, {("ussd", c) for c in table["columns"]}), "no combination of totals gives it"
    assert not _worked_out(table, {("ussd", "completed")})
    assert table["withheld"] >= 2
    if table["total"] is not None and table["row_totals"]["assisted"] is not None:
        assert stats["assisted_share"] == table["row_totals"]["assisted"] / table["total"]
    else:
        assert stats["assisted_share"] is None, "no share computed from a withheld number"


def _exception() -> AuditEvent:
    """An operator opens an exception case for a person without a foundational ID (SG-INCL-1)."""
    return AuditEvent(
        decision="permit", actor="field-desk", actor_type="operator", rule_ids=("SG-SEC-1", "SG-INCL-3"),
        action="POST /identity/v1/identity-exceptions", channel="assisted", assisted_by="op-7", status=202,
    )  # fmt: skip


@pytest.mark.rule("SG-TRANSP-1")
@pytest.mark.rule("SG-INCL-1")
async def test_exception_path_use_and_the_assisted_share_are_published(desk):
    events = [_event(("SG-SEC-1",)) for _ in range(20)]
    events += [_exception() for _ in range(12)]
    events += [_event(("SG-SEC-1",), channel="assisted", assisted_by="op-7") for _ in range(18)]
    await desk.app.state.audit.append_many(events)
    stats = (await desk.client.get("/governance/stats/inclusion")).json()
    assert stats["by_channel"]["rows"]["assisted"] == {"completed": 18, "exception_path": 12, "denied": 0}
    assert stats["by_channel"]["total"] == 50
    assert stats["assisted_share"] == 30 / 50
    assert stats["exception_path_share"] == 12 / 50


def test_the_differencing_check_catches_a_table_that_gives_a_cell_away():
    """The attacker above is not toothless: on a table published without protection it works the cell out."""
    naive = {
        "columns": ["completed"],
        "rows": {"web": {"completed": 40}, "ussd": {"completed": None}},
        "row_totals": {"web": 40, "ussd": None},
        "column_totals": {"completed": 43},
        "total": 43,
    }
    assert _worked_out(naive, {("ussd", "completed")})
