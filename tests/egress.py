"""The gateway's egress over the whole run (acceptance 4 of the gateway issue): every gateway app any test builds is
watched, and every answer it gives a caller is scanned for a UIN.

Two things are recorded per test:
- a *withheld* answer: the gateway's own egress scan found a UIN in a provider's answer and answered 502 naming
  SG-TOKEN-1 instead. Only a test marked `@pytest.mark.plants_uin` (one that puts a UIN into a provider's answer on
  purpose) may cause one, and such a test must cause at least one, or its marker is stale.
- a *leak*: a UIN in an answer that left the gateway, other than a registrar's answer on a route declared
  `may_carry_uin` (routes.yaml). None is allowed anywhere, marked or not: this is the check on the scan itself.

Either failure is an error at the test's teardown, so the session fails. The watch is installed by wrapping
`gateway.app.create_app` when this module is imported (tests/plugin.py imports it before any conftest, so every
`from gateway.app import create_app` and the sandbox registry see the wrapped factory). The scan reuses identity's
own UIN format (services.identity.client.find_uins). Gateways started as separate processes are outside the watch.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.identity.client import find_uins

MARKER = "plants_uin"
MARKER_HELP = f"{MARKER}: the test puts a UIN into a provider's answer on purpose (the gateway must withhold it)"


@dataclass
class Ledger:
    """What the watched gateways did in this process: totals, and what the running test caused."""

    apps: int = 0
    scanned: int = 0
    withheld: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def take(self) -> tuple[int, list[str], list[str]]:
        scanned, withheld, leaks = self.scanned, self.withheld, self.leaks
        self.scanned, self.withheld, self.leaks = 0, [], []
        return scanned, withheld, leaks


LEDGER = Ledger()


class GatewayEgressScan:
    """ASGI middleware on a gateway app: reads every answer's status and body as the caller receives them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # the same dict request.state writes the authenticated caller into
        status = 0
        body = bytearray()

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    _record(scope, status, bytes(body))
            await send(message)

        await self.app(scope, receive, capture)


def _record(scope: Any, status: int, body: bytes) -> None:
    LEDGER.scanned += 1
    where = f"{scope['method']} {scope['path']}"
    if status == 502 and _names_rule(body, "SG-TOKEN-1"):
        LEDGER.withheld.append(where)
    if find_uins(body) and not _may_carry_uin(scope):
        LEDGER.leaks.append(f"{where} -> {status}")


def _names_rule(body: bytes, rule_id: str) -> bool:
    try:
        problem = json.loads(body)
    except ValueError:
        return False
    return isinstance(problem, dict) and problem.get("rule_id") == rule_id


def _may_carry_uin(scope: Any) -> bool:
    """A registrar's answer on a route that routes.yaml declares `may_carry_uin` (the gateway's own table)."""
    caller = scope.get("state", {}).get("caller")
    if caller is None or not caller.has_role("registrar"):
        return False
    proxy = getattr(scope["app"].state, "proxy", None)
    service, _, path = scope["path"].lstrip("/").partition("/")
    match = proxy.routes.match(service, scope["method"], "/" + path) if proxy is not None else None
    return match is not None and match.route.may_carry_uin


def watch(app: Any) -> Any:
    app.add_middleware(GatewayEgressScan)
    LEDGER.apps += 1
    return app


def install() -> None:
    """Wrap the gateway's app factory so that every gateway built in this process is watched."""
    import gateway.app as module

    if getattr(module.create_app, "egress_watched", False):
        return
    original = module.create_app

    @functools.wraps(original)
    def create_app(*args: Any, **kwargs: Any) -> Any:
        return watch(original(*args, **kwargs))

    create_app.egress_watched = True  # type: ignore[attr-defined]
    module.create_app = create_app


def check(item: pytest.Item) -> None:
    """Called at the end of every test: what the test's gateways withheld and leaked, against its marker."""
    scanned, withheld, leaks = LEDGER.take()
    item.user_properties.extend((("egress_scanned", scanned), ("egress_withheld", len(withheld))))
    if leaks:
        pytest.fail(f"a UIN left the gateway (SG-TOKEN-1, acceptance 4): {leaks}", pytrace=False)
    marked = item.get_closest_marker(MARKER) is not None
    if withheld and not marked:
        pytest.fail(
            f"the gateway's egress scan found a UIN in a provider's answer in a test not marked {MARKER} "
            f"(acceptance 4 holds over the whole run): {withheld}",
            pytrace=False,
        )
    if marked and not withheld:
        pytest.fail(f"marked {MARKER} but no gateway answer was withheld: the plant missed or the marker is stale")


def summary(stats: dict[str, list[Any]]) -> str:
    scanned = withheld = tests = 0
    for reports in stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            properties = dict(getattr(report, "user_properties", ()))
            scanned += int(properties.get("egress_scanned", 0))
            count = int(properties.get("egress_withheld", 0))
            withheld += count
            tests += bool(count)
    return (
        f"{scanned} gateway answers scanned for a UIN; {withheld} withheld by the gateway's egress scan, in {tests} "
        f"tests (only tests marked {MARKER} may cause one); a UIN that left a gateway fails its test."
    )
