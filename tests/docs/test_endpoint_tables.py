"""Each service page's endpoint table is the service's OpenAPI document, not a memory of it.

A page under docs/services/ named after an app (identity.md, consent.md, ...) has an "## Endpoints" section whose
table rows start with a method and a path in backticks and end with the declared statuses; the sentence before it
says how many operations there are. The test fails when a row is missing, extra, or declares other statuses than
the app's OpenAPI document, or when the count is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dpi_sandbox.registry import ALL, entry
from services.common.assertion import StaticJwks
from services.common.bus import InProcessBus
from services.common.clock import FrozenClock

DOCS = Path(__file__).resolve().parents[2] / "docs" / "services"
PAGES = sorted(p for p in DOCS.glob("*.md") if p.stem in {e.name for e in ALL})
ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE)`\s*\|\s*`([^`]+)`\s*\|.*\|\s*([0-9, ]+)\s*\|\s*$")
COUNT = re.compile(r"The (\d+) operations")
METHODS = ("get", "post", "put", "patch", "delete")


def _section(text: str) -> str:
    match = re.search(r"^## Endpoints\s*$(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "the page has no '## Endpoints' section"
    return match.group(1)


def _documented(section: str) -> dict[tuple[str, str], set[str]]:
    rows: dict[tuple[str, str], set[str]] = {}
    for line in section.splitlines():
        if match := ROW.match(line.strip()):
            method, path, statuses = match.groups()
            rows[(method, path)] = {s.strip() for s in statuses.split(",") if s.strip()}
    return rows


def _openapi(name: str, tmp_path: Path) -> dict[str, Any]:
    service = entry(name)
    settings = service.settings_class(
        _env_file=None, var_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}"
    )
    app = service.factory(settings, clock=FrozenClock(), bus=InProcessBus(), gateway_jwks=StaticJwks({"keys": []}))
    document: dict[str, Any] = app.openapi()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {
        (method.upper(), path): set(operation.get("responses", {}))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_endpoint_table_matches_the_openapi_document(page: Path, tmp_path: Path) -> None:
    section = _section(page.read_text(encoding="utf-8"))
    documented = _documented(section)
    actual = _operations(_openapi(page.stem, tmp_path))
    assert sorted(set(actual) - set(documented)) == [], "operations the page does not list"
    assert sorted(set(documented) - set(actual)) == [], "rows for operations the app does not have"
    # A status every operation declares (a body-size limit, say) may be said once in the text instead of per row.
    common = set.intersection(*actual.values())
    assert [s for s in sorted(common) if f"`{s}`" not in section] == [], "statuses of every operation, unmentioned"
    wrong = {
        op: (documented[op] - common, actual[op] - common)
        for op in actual
        if documented[op] - common != actual[op] - common
    }
    assert wrong == {}, "rows whose statuses differ from the document (page, app)"
    count = COUNT.search(section)
    assert count, "the section does not say how many operations there are ('The N operations ...')"
    assert int(count.group(1)) == len(actual)


def test_every_service_with_a_page_is_checked() -> None:
    assert "identity" in {p.stem for p in PAGES}
