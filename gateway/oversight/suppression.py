"""Small-cell suppression for public statistics: no published number lets anyone single out a person.

A cell counting fewer than k people (but more than none) is withheld (primary suppression). Row totals, column totals
and the grand total are published too, so a withheld cell could be worked out by subtracting the published cells from
a total. So every published total whose cells include a withheld one must include at least two, together holding at
least k: the smallest published cell of the line is withheld until that holds, or else the total itself
(complementary suppression). Then an audit solves the published totals as linear equations over the withheld cells
(exact rational elimination) and withholds more while any count under k can still be worked out. Zeros are
published: "nobody" identifies nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

Cell = tuple[str, str]


@dataclass(frozen=True)
class SuppressedTable:
    cells: dict[str, dict[str, int | None]]
    row_totals: dict[str, int | None]
    column_totals: dict[str, int | None]
    total: int | None
    k: int

    @property
    def suppressed(self) -> int:
        return sum(v is None for row in self.cells.values() for v in row.values())


@dataclass
class _Line:
    name: str
    cells: list[Cell]
    total: int
    hidden: bool = False


def suppress_table(counts: dict[str, dict[str, int]], columns: list[str], *, k: int) -> SuppressedTable:
    """Withhold what could identify someone in a table of counts (rows by columns) with its totals."""
    rows = list(counts)
    value: dict[Cell, int] = {(r, c): counts[r].get(c, 0) for r in rows for c in columns}
    lines = [_Line(f"row:{r}", [(r, c) for c in columns], 0) for r in rows]
    lines += [_Line(f"column:{c}", [(r, c) for r in rows], 0) for c in columns]
    lines.append(_Line("total", list(value), 0))
    for line in lines:
        line.total = sum(value[cell] for cell in line.cells)
        line.hidden = 0 < line.total < k
    hidden = {cell for cell, n in value.items() if 0 < n < k}
    while True:
        _complement(lines, hidden, value, k)
        exposed = [cell for cell in _determined(lines, hidden) if 0 < value[cell] < k]
        if not exposed:
            break
        # Still worked out through a combination of totals: withhold one more number on a line through the cell
        # (the smallest published cell of its row, else of its column, else a total), and go round again. A cell
        # whose row, column and grand totals are all withheld appears in no equation, so this ends.
        _withhold_one_more(exposed[0], lines, hidden, value)
    by_name = {line.name: line for line in lines}
    return SuppressedTable(
        cells={r: {c: None if (r, c) in hidden else value[(r, c)] for c in columns} for r in rows},
        row_totals={r: None if by_name[f"row:{r}"].hidden else by_name[f"row:{r}"].total for r in rows},
        column_totals={c: None if by_name[f"column:{c}"].hidden else by_name[f"column:{c}"].total for c in columns},
        total=None if by_name["total"].hidden else by_name["total"].total,
        k=k,
    )


def _withhold_one_more(cell: Cell, lines: list[_Line], hidden: set[Cell], value: dict[Cell, int]) -> None:
    by_name = {line.name: line for line in lines}
    through = [by_name[f"row:{cell[0]}"], by_name[f"column:{cell[1]}"], by_name["total"]]
    for line in through:
        others = sorted((c for c in line.cells if c not in hidden and value[c] > 0), key=value.__getitem__)
        if not line.hidden and others:
            hidden.add(others[0])
            return
    next(line for line in through if not line.hidden).hidden = True


def _complement(lines: list[_Line], hidden: set[Cell], value: dict[Cell, int], k: int) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            if line.hidden:
                continue
            withheld = [cell for cell in line.cells if cell in hidden]
            if not withheld or (len(withheld) >= 2 and sum(value[cell] for cell in withheld) >= k):
                continue
            candidates = sorted((c for c in line.cells if c not in hidden and value[c] > 0), key=value.__getitem__)
            if candidates:
                hidden.add(candidates[0])
            else:
                line.hidden = True
            changed = True


def _determined(lines: list[_Line], hidden: set[Cell]) -> list[Cell]:
    """The withheld cells that the published totals pin down exactly (reduced row echelon form over Q: a withheld
    cell is determined when some reduced equation mentions it alone)."""
    unknowns = sorted(hidden)
    matrix = [
        [Fraction(1 if cell in line.cells else 0) for cell in unknowns]
        for line in lines
        if not line.hidden and any(cell in hidden for cell in line.cells)
    ]
    rank = 0
    for column in range(len(unknowns)):
        pivot = next((i for i in range(rank, len(matrix)) if matrix[i][column] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        lead = matrix[rank][column]
        matrix[rank] = [v / lead for v in matrix[rank]]
        for i, row in enumerate(matrix):
            if i != rank and row[column] != 0:
                factor = row[column]
                matrix[i] = [a - factor * b for a, b in zip(row, matrix[rank], strict=True)]
        rank += 1
    determined = []
    for row in matrix[:rank]:
        nonzero = [i for i, v in enumerate(row) if v != 0]
        if len(nonzero) == 1:
            determined.append(unknowns[nonzero[0]])
    return determined
