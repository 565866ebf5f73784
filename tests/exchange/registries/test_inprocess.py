"""The registries' record reads answered in the exchange's process give the provider's HTTP answer: the same record,
the same refusals (unsigned, not found), and anything that is not one of those reads is left to HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from services.exchange.registries.credential import CREDENTIAL_HEADER, ExchangeRequest, mint
from services.exchange.registries.inprocess import InProcessReads
from services.exchange.registries.schemas import MAX_FIELDS
from tests.exchange.exchange_helpers import BENEFIT_CHECK, CIVIL, ExchangeApi

AMARA = "sub_amara"
CIVIL_PATH = f"/civil/v1/persons/{AMARA}"
SOCIAL_PATH = f"/social/v1/persons/{AMARA}/household"


@pytest.fixture
async def registries(api: ExchangeApi) -> ExchangeApi:
    await api.birth(AMARA)
    await api.household(
        "hh_1", [{"subject": AMARA, "relationship": "head", "date_of_birth": "1990-04-02", "disability_flag": True}]
    )
    return api


def _reads(api: ExchangeApi) -> InProcessReads:
    reads = api.svc.app.state.exchange.providers.in_process
    return reads.inner if hasattr(reads, "inner") else reads  # type: ignore[no-any-return]


def _credential(api: ExchangeApi, fields: list[str]) -> str:
    rt = api.svc.app.state.exchange
    return mint(rt.signing_key, rt.clock, ExchangeRequest(client="SBX:GOV:T:t", fields=fields, message_id="msg_t"))


async def _over_http(api: ExchangeApi, path: str, credential: str, fields: list[str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=api.svc.app.state.registries_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registries") as client:
        return await client.get(path, params=[("fields", f) for f in fields], headers={CREDENTIAL_HEADER: credential})


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (CIVIL_PATH, ["given_name", "date_of_birth", "parents"]),
        (CIVIL_PATH, []),
        (SOCIAL_PATH, ["household_size", "disability_flag", "no_such_field"]),
        ("/civil/v1/persons/sub_nobody", ["given_name"]),
        ("/social/v1/persons/sub_nobody/household", []),
    ],
)
async def test_a_read_in_process_answers_what_the_provider_answers_over_http(
    registries: ExchangeApi, path: str, fields: list[str]
):
    credential = _credential(registries, fields)
    answer = await _reads(registries).get(path, credential, fields)
    assert answer is not None
    http = await _over_http(registries, path, credential, fields)
    assert answer.status == http.status_code
    # A problem's request_id is the HTTP request's own (the exchange answers with its own id in either case).
    assert json.loads(answer.content) == {k: v for k, v in http.json().items() if k != "request_id"}


@pytest.mark.parametrize("credential", ["", "eyJhbGciOiJub25lIn0.e30.", "not-a-token"])
async def test_a_read_in_process_needs_the_exchanges_signature(registries: ExchangeApi, credential: str):
    answer = await _reads(registries).get(CIVIL_PATH, credential, ["given_name"])
    assert answer is not None
    assert answer.status == 401
    assert "Amara" not in answer.content.decode()
    http = await _over_http(registries, CIVIL_PATH, credential, ["given_name"])
    assert http.status_code == 401


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/civil/v1/births", []),  # not a record read
        ("/civil/v1/persons/sub amara", []),  # a subject the routers' pattern refuses (HTTP answers 422)
        ("/civil/v1/persons/" + "s" * 41, []),
        (f"/social/v1/persons/{AMARA}/household/extra", []),
        (CIVIL_PATH, ["given_name"] * (MAX_FIELDS + 1)),  # more fields than the routers take
    ],
)
async def test_what_is_not_a_record_read_is_left_to_http(registries: ExchangeApi, path: str, fields: list[str]):
    assert await _reads(registries).get(path, _credential(registries, fields), fields) is None


class NoHttp(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"{request.method} {request.url.path} went over HTTP")


async def test_a_fetch_reads_the_provider_in_process(registries: ExchangeApi):
    await registries.consumer("rp-t", grants={CIVIL: (["given_name"], [BENEFIT_CHECK])})
    registries.provider_calls.calls.clear()
    registries.provider_calls.inner = NoHttp()
    response = await registries.consented(CIVIL, ["given_name"], client_id="rp-t", sub=AMARA)
    assert response.status_code == 200, response.text
    assert response.json()["record"] == {"given_name": "Amara"}
    assert registries.provider_calls.calls == {f"GET {CIVIL_PATH}": 1}
