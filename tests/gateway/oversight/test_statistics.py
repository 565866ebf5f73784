"""Public statistics withhold every count under k, including counts that could be worked out by differencing the
published totals (SG-TRANSP-1 with the small-cell protection of SG-GENDER-1)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
