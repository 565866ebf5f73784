"""Keep each service page's endpoint table in step with the app's OpenAPI document.

    python -m tools.endpoint_tables            # rewrite docs/services/<app>.md where it differs
    python -m tools.endpoint_tables --check    # exit 1 and say what differs (tests/docs runs the same check)

For every page named after an app, the "## Endpoints" section's rows keep their hand-written middle columns (who,
purpose); the last column (the declared statuses) and the "The N operations" count are rewritten from the document,
rows for operations the app no longer has are dropped, and operations the page lacks are appended with their
OpenAPI summary. A page without the section gets one.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from dpi_sandbox.registry import ALL, entry
from services.common.assertion import StaticJwks
from services.common.bus import InProcessBus
from services.common.clock import FrozenClock

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "services"
ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE)`\s*\|\s*`([^`]+)`\s*\|(.*)\|\s*([0-9, ]+)\s*\|\s*$")
COUNT = re.compile(r"The (\d+) operations")
SECTION = re.compile(r"^## Endpoints\s*$(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
METHODS = ("get", "post", "put", "patch", "delete")

Operation = tuple[str, str]


def pages() -> list[Path]:
    names = {e.name for e in ALL}
    return sorted(p for p in DOCS.glob("*.md") if p.stem in names)


def unstarted_app(name: str, scratch: Path) -> FastAPI:
    """The service's app as its factory builds it, not started (nothing is opened: the routes and schemas only)."""
    service = entry(name)
    settings = service.settings_class(
        _env_file=None, var_dir=scratch, database_url=f"sqlite+aiosqlite:///{scratch}/docs.db"
    )
    app: FastAPI = service.factory(
        settings, clock=FrozenClock(), bus=InProcessBus(), gateway_jwks=StaticJwks({"keys": []})
    )
    return app


def openapi(name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        document: dict[str, Any] = unstarted_app(name, Path(scratch)).openapi()
    return document


def operations(document: dict[str, Any]) -> dict[Operation, tuple[set[str], str]]:
    """(method, path) → (declared statuses, summary)."""
    return {
        (method.upper(), path): (set(operation.get("responses", {})), operation.get("summary", ""))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _statuses(codes: set[str]) -> str:
    return ", ".join(sorted(codes))


def render(page: Path, document: dict[str, Any]) -> str:
    """The page with its endpoint section brought in step with `document`."""
    text = page.read_text("utf-8")
    actual = operations(document)
    match = SECTION.search(text)
    if match is None:
        section = (
            f"\n\nThe {len(actual)} operations of {page.stem}'s OpenAPI document (generated from the app; the last "
            "column is the set of responses it declares). Every operation except the public ones needs a gateway "
            f"assertion; the gateway's `/{page.stem}/` prefix is not part of these paths.\n\n"
            "| Method | Path | Summary | Statuses |\n|---|---|---|---|\n"
        )
        text = text.rstrip("\n") + "\n\n## Endpoints" + section
        match = SECTION.search(text)
        assert match is not None
    body = match.group(1)
    lines, seen, last_row = body.split("\n"), set(), -1
    kept: list[str] = []
    for line in lines:
        row = ROW.match(line.strip())
        if row is None:
            kept.append(line)
            continue
        method, path, middle, _ = row.groups()
        if (method, path) not in actual:
            continue
        seen.add((method, path))
        kept.append(f"| `{method}` | `{path}` |{middle}| {_statuses(actual[(method, path)][0])} |")
        last_row = len(kept) - 1
    missing = [op for op in actual if op not in seen]
    if missing:
        new_rows = [f"| `{m}` | `{p}` | {actual[(m, p)][1]} | {_statuses(actual[(m, p)][0])} |" for m, p in missing]
        if last_row < 0:
            header = next(i for i, line in enumerate(kept) if line.startswith("|---"))
            last_row = header
        kept[last_row + 1 : last_row + 1] = new_rows
    new_body = COUNT.sub(f"The {len(actual)} operations", "\n".join(kept), count=1)
    return text[: match.start(1)] + new_body + text[match.end(1) :]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for page in pages():
        updated = render(page, openapi(page.stem))
        if updated != page.read_text("utf-8"):
            stale.append(page)
            if not check:
                page.write_text(updated, "utf-8")
    for page in stale:
        print(f"{page.relative_to(ROOT)}: {'differs from' if check else 'brought in step with'} the OpenAPI document")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
