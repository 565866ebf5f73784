"""Each service page's endpoint table is the service's OpenAPI document, not a memory of it.

A page under docs/services/ named after an app (identity.md, consent.md, ...) has an "## Endpoints" section whose
rows start with a method and a path in backticks and end with the declared statuses, after a sentence saying how
many operations there are. `python -m tools.endpoint_tables` brings a page in step; this test fails while any page
is not (a row missing or extra, other statuses than the document declares, a wrong count).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.endpoint_tables import ROW, SECTION, openapi, operations, pages, render

PAGES = pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_endpoint_table_matches_the_openapi_document(page: Path) -> None:
    document = openapi(page.stem)
    text = page.read_text("utf-8")
    section = SECTION.search(text)
    assert section, f"{page.name} has no '## Endpoints' section: run python -m tools.endpoint_tables"
    rows = {
        (m.group(1), m.group(2)): m.group(4).strip()
        for line in section.group(1).splitlines()
        if (m := ROW.match(line.strip()))
    }
    actual = {op: ", ".join(sorted(codes)) for op, (codes, _) in operations(document).items()}
    assert sorted(set(actual) - set(rows)) == [], "operations the page does not list"
    assert sorted(set(rows) - set(actual)) == [], "rows for operations the app does not have"
    assert {op: rows[op] for op in actual if rows[op] != actual[op]} == {}, "rows whose statuses differ"
    assert render(page, document) == text, "the operation count is stale: run python -m tools.endpoint_tables"


def test_every_service_with_a_page_is_checked() -> None:
    assert {"identity", "consent"} <= {p.stem for p in PAGES}
