"""FirstUse (services.common.edge): an assertion's replay check left in flight while an operation reads. Whatever the
operation does, its answer waits for the check, a failed check replaces the answer, and an operation cancelled (a
client gone) takes its check with it. Over HTTP: tests/exchange/fetch/test_fetch_replay.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from services.common.assertion import ASSERTION_HEADER, Caller
from services.common.edge import FirstUse, ShortWayRoute, install_edge
from services.common.problems import PolicyDenied, Unauthenticated, install_problem_handlers

pytestmark = pytest.mark.rule("SG-SEC-1")


async def _claim(delay: float, *, used: bool = False) -> None:
    await asyncio.sleep(delay)
    if used:
        raise Unauthenticated("The gateway assertion was already used (replay).")


async def _answer(delay: float = 0) -> Response:
    await asyncio.sleep(delay)
    return Response(b"ok")


async def test_an_answer_ready_first_waits_for_the_check() -> None:
    first_use = FirstUse(_claim(0.05))
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await first_use.guard(_answer())
    assert response.body == b"ok"
    assert loop.time() - started >= 0.04  # the answer waited for the 0.05 s check (asyncio may wake a hair early)


async def test_a_replay_replaces_the_answer_and_any_other_error() -> None:
    with pytest.raises(Unauthenticated, match="replay"):
        await FirstUse(_claim(0.02, used=True)).guard(_answer())

    async def denied() -> Response:
        raise PolicyDenied("SG-SEC-1", "This operation needs another role.")

    with pytest.raises(Unauthenticated, match="replay"):
        await FirstUse(_claim(0.02, used=True)).guard(denied())
    with pytest.raises(PolicyDenied):  # a check that passes leaves the operation's own refusal
        await FirstUse(_claim(0.02)).guard(denied())


async def test_confirmed_may_be_awaited_by_the_operation_and_again_by_the_guard() -> None:
    first_use = FirstUse(_claim(0.02, used=True))

    async def effect_after_the_check() -> Response:
        await first_use.confirmed()
        raise AssertionError("an effect ran for a replayed assertion")

    with pytest.raises(Unauthenticated):
        await first_use.guard(effect_after_the_check())


async def test_a_cancelled_operation_cancels_its_check() -> None:
    first_use = FirstUse(_claim(10))
    operation = asyncio.ensure_future(first_use.guard(_answer(10)))
    await asyncio.sleep(0.01)
    operation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await operation
    await asyncio.sleep(0)
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert others == []  # no check left running, nor a "never retrieved" error to log later


async def test_a_refusal_that_came_before_the_cancellation_is_not_left_unretrieved() -> None:
    first_use = FirstUse(_claim(0, used=True))
    operation = asyncio.ensure_future(first_use.guard(_answer(10)))
    await asyncio.sleep(0.01)  # the claim has failed by now; the operation still runs
    operation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await operation
    claim = first_use._claim
    assert claim.done() and not claim.cancelled()
    assert claim._log_traceback is False  # retrieved: asyncio will not log "Task exception was never retrieved"
    assert isinstance(claim.exception(), Unauthenticated)


class _Verifier:
    """A verifier whose signature check passes at once and whose replay check answers after 0.05 s."""

    def __init__(self, *, used: bool) -> None:
        self.used = used

    async def authenticate(self, token: str | None) -> Caller:
        return Caller(client_id="c", roles=("consumer",), assertion_id="a1", expires_at=datetime.now(UTC))

    async def claim(self, caller: Caller) -> None:
        await _claim(0.05, used=self.used)


@pytest.mark.parametrize("used", [False, True])
async def test_fastapis_handler_runs_only_once_the_check_passed(used: bool) -> None:
    """Whatever a short way leaves to FastAPI's handler (here: everything) runs after the replay check, so an
    endpoint's effect never happens for a replayed assertion, and does for a fresh one."""
    effects: list[str] = []

    class Route(ShortWayRoute):
        short_way_roles = ("consumer",)
        edge_claims_in_flight = True

        async def short_way(self, request: Request, caller: Caller) -> Response | None:
            return None

    router = APIRouter(route_class=Route)

    @router.get("/effect")
    async def effect() -> dict[str, str]:
        effects.append("done")
        return {"ok": "yes"}

    app = FastAPI()
    install_problem_handlers(app)
    app.state.verifier = _Verifier(used=used)
    install_edge([router], authenticated=[router], authenticate=None)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/effect", headers={ASSERTION_HEADER: "anything"})
    if used:
        assert response.status_code == 401, response.text
        assert effects == []
    else:
        assert response.status_code == 200, response.text
        assert effects == ["done"]
