"""Idempotency-Key on a probe service built with create_service_app, on SQLite and PostgreSQL (acceptance 2):
a retry gets the first response byte for byte even after the record changed; another body gets 422; a duplicate in
flight gets 409; parallel duplicates execute once and write once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Column, Integer, String, Table, func, insert, select, text, update

from services.common.app import ServiceSpec, create_service_app, infrastructure_tables
from services.common.assertion import StaticJwks
from services.common.auth import SessionDep
from services.common.bus import InProcessBus
from services.common.db import create_all, create_engine, new_metadata
from services.common.idempotency import IDEMPOTENCY_ERRORS, IdempotencyRequired, Idempotent, Scope, request_fingerprint
from services.common.ids import new_id
from services.common.problems import Conflict, problem_responses
from services.common.settings import ServiceSettings
from tests.conftest import Gateway

metadata = new_metadata()
notes = Table(
    "notes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("text", String(200), nullable=False),
    Column("version", Integer, nullable=False),
)
infrastructure_tables(metadata)


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    model_config = SettingsConfigDict(env_prefix="DPI_PROBE_", env_file=None, extra="ignore")


class NoteCreate(BaseModel):
    text: str


class NoteRead(BaseModel):
    id: str
    text: str
    version: int


class Held(Conflict):
    """A refusal whose record must be kept (like an enrolment held for adjudication)."""

    title = "Held"
    type_slug = "probe/held"
    code = "probe.held"
    commit_before_raise = True


router = APIRouter(prefix="/v1")


async def _insert(session: SessionDep, request: Request, body: NoteCreate) -> NoteRead:
    if (hold := request.app.state.hold) is not None:
        request.app.state.entered.set()
        await hold.wait()
    note = NoteRead(id=new_id("note"), text=body.text, version=1)
    await session.execute(insert(notes).values(**note.model_dump()))
    return note


@router.post("/notes", status_code=201, response_model=NoteRead, responses=problem_responses(*IDEMPOTENCY_ERRORS))
async def create_note(body: NoteCreate, request: Request, session: SessionDep, idempotency: Idempotent) -> Response:
    return await idempotency.run(session, lambda: _insert(session, request, body), status_code=201)


@router.post("/strict-notes", status_code=201, response_model=NoteRead)
async def create_strict(
    body: NoteCreate, request: Request, session: SessionDep, idempotency: IdempotencyRequired
) -> Response:
    return await idempotency.run(session, lambda: _insert(session, request, body), status_code=201)


@router.patch("/notes/{note_id}", response_model=NoteRead)
async def edit_note(note_id: str, body: NoteCreate, session: SessionDep) -> NoteRead:
    await session.execute(
        update(notes).where(notes.c.id == note_id).values(text=body.text, version=notes.c.version + 1)
    )
    row = (await session.execute(select(notes).where(notes.c.id == note_id))).one()
    return NoteRead(id=row.id, text=row.text, version=row.version)


@router.post("/held-notes", status_code=201, response_model=NoteRead)
async def held_note(body: NoteCreate, request: Request, session: SessionDep, idempotency: Idempotent) -> Response:
    async def work() -> NoteRead:
        note = await _insert(session, request, body)
        raise Held(f"Note {note.id} is held.", note_id=note.id)

    return await idempotency.run(session, work)


@router.post("/failing-notes", status_code=201, response_model=NoteRead)
async def failing_note(body: NoteCreate, request: Request, session: SessionDep, idempotency: Idempotent) -> Response:
    async def work() -> NoteRead:
        await _insert(session, request, body)
        if request.app.state.fail:
            raise Conflict("Not now.")
        return NoteRead(id="ok", text=body.text, version=1)

    return await idempotency.run(session, work, status_code=201)


SPEC = ServiceSpec(name="probe", title="Probe", description="Idempotency probe.", metadata=metadata, routers=[router])


@dataclass
class Probe:
    app: FastAPI
    client: httpx.AsyncClient
    gateway: Gateway

    def headers(self, key: str | None = "key-1", *, client_id: str = "rp-1") -> dict[str, str]:
        headers = self.gateway.headers("probe", client_id=client_id)
        return headers | ({"Idempotency-Key": key} if key else {})

    async def rows(self) -> int:
        async with self.app.state.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(notes))).scalar_one())


@pytest.fixture
async def probe(database_url: str, tmp_path: Path, gateway: Gateway) -> AsyncIterator[Probe]:
    values: dict[str, Any] = {"var_dir": tmp_path, "idempotency_in_flight_seconds": 30}
    if database_url == "sqlite":
        values["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"
    else:
        values |= {"database_url": database_url, "database_schema": f"t_{uuid.uuid4().hex[:16]}_probe"}
    settings = ProbeSettings(**values)
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    await create_all(engine, metadata, settings.resolved_schema)
    app = create_service_app(
        SPEC, settings, clock=gateway.clock, bus=InProcessBus(), gateway_jwks=StaticJwks(gateway.jwks)
    )
    app.state.hold = None
    app.state.entered = asyncio.Event()
    app.state.fail = False
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            yield Probe(app, client, gateway)
    if database_url != "sqlite":
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{settings.resolved_schema}" CASCADE'))
    await engine.dispose()


class TestReplay:
    async def test_a_retry_gets_the_first_response_byte_for_byte_after_the_record_changed(self, probe: Probe) -> None:
        first = await probe.client.post("/v1/notes", json={"text": "first"}, headers=probe.headers())
        assert first.status_code == 201
        note_id = first.json()["id"]
        edited = await probe.client.patch(f"/v1/notes/{note_id}", json={"text": "changed"}, headers=probe.headers())
        assert edited.json()["version"] == 2

        retry = await probe.client.post("/v1/notes", json={"text": "first"}, headers=probe.headers())
        assert retry.status_code == 201
        assert retry.content == first.content  # the stored answer, not a re-read (which would say "changed")
        assert retry.headers["content-type"] == first.headers["content-type"]
        assert retry.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await probe.rows() == 1

    async def test_the_same_body_in_another_key_order_or_spacing_is_the_same_request(self, probe: Probe) -> None:
        json_type = {"content-type": "application/json"}
        first = await probe.client.post("/v1/notes", content=b'{"text":"a"}', headers=probe.headers() | json_type)
        retry = await probe.client.post("/v1/notes", content=b'{ "text" : "a" }', headers=probe.headers() | json_type)
        assert retry.content == first.content and await probe.rows() == 1

    async def test_keys_are_per_client_and_per_route(self, probe: Probe) -> None:
        await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers())
        other_client = await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers(client_id="rp-2"))
        other_route = await probe.client.post("/v1/strict-notes", json={"text": "a"}, headers=probe.headers())
        assert other_client.status_code == other_route.status_code == 201
        assert "idempotent-replayed" not in other_client.headers and "idempotent-replayed" not in other_route.headers
        assert await probe.rows() == 3

    async def test_without_a_key_the_work_simply_runs(self, probe: Probe) -> None:
        for _ in range(2):
            assert (
                await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers(None))
            ).status_code == 201
        assert await probe.rows() == 2

    async def test_a_required_key_that_is_missing_is_422(self, probe: Probe) -> None:
        response = await probe.client.post("/v1/strict-notes", json={"text": "a"}, headers=probe.headers(None))
        assert response.status_code == 422
        assert response.json()["code"] == "common.idempotency_key_required"
        assert await probe.rows() == 0

    async def test_after_the_retention_the_key_may_be_used_afresh(self, probe: Probe) -> None:
        first = await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers())
        probe.gateway.clock.advance(timedelta(seconds=probe.app.state.settings.idempotency_retention_seconds + 1))
        again = await probe.client.post("/v1/notes", json={"text": "b"}, headers=probe.headers())
        assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
        assert await probe.rows() == 2


class TestOtherRequest:
    async def test_the_same_key_with_another_body_is_422_and_writes_nothing(self, probe: Probe) -> None:
        await probe.client.post("/v1/notes", json={"text": "first"}, headers=probe.headers())
        response = await probe.client.post("/v1/notes", json={"text": "second"}, headers=probe.headers())
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "common.idempotency_key_reused"
        assert await probe.rows() == 1


class TestInFlight:
    async def test_a_duplicate_while_the_first_is_in_flight_is_409_and_the_first_still_completes(
        self, probe: Probe
    ) -> None:
        hold = probe.app.state.hold = asyncio.Event()
        first = asyncio.create_task(probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers()))
        await asyncio.wait_for(probe.app.state.entered.wait(), 10)
        duplicate = await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers())
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "common.idempotency_in_progress"
        hold.set()
        done = await asyncio.wait_for(first, 10)
        assert done.status_code == 201
        replay = await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers())
        assert replay.content == done.content
        assert await probe.rows() == 1

    async def test_an_abandoned_claim_is_taken_over_after_the_in_flight_timeout(self, probe: Probe) -> None:
        store = probe.app.state.idempotency
        scope = Scope(client_id="rp-1", route="POST /v1/notes", key="key-1")
        fingerprint = store.protector.fingerprint(request_fingerprint("POST", "/v1/notes", "", b'{"text":"a"}'))
        await store.claim(scope, fingerprint)  # the same request, claimed by a process that then crashed
        assert (await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers())).status_code == 409
        probe.gateway.clock.advance(timedelta(seconds=31))
        response = await probe.client.post("/v1/notes", json={"text": "a"}, headers=probe.headers())
        assert response.status_code == 201
        assert await probe.rows() == 1


class TestFailures:
    async def test_a_refusal_that_commits_is_stored_and_replayed_with_its_record_kept_once(self, probe: Probe) -> None:
        first = await probe.client.post("/v1/held-notes", json={"text": "a"}, headers=probe.headers())
        assert first.status_code == 409 and first.json()["code"] == "probe.held"
        assert await probe.rows() == 1  # committed, then refused
        retry = await probe.client.post("/v1/held-notes", json={"text": "a"}, headers=probe.headers())
        assert retry.content == first.content and retry.status_code == 409
        assert await probe.rows() == 1

    async def test_a_failure_that_rolls_back_releases_the_key_for_a_retry(self, probe: Probe) -> None:
        probe.app.state.fail = True
        failed = await probe.client.post("/v1/failing-notes", json={"text": "a"}, headers=probe.headers())
        assert failed.status_code == 409 and failed.json()["code"] == "common.conflict"
        assert await probe.rows() == 0
        probe.app.state.fail = False
        retry = await probe.client.post("/v1/failing-notes", json={"text": "a"}, headers=probe.headers())
        assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
        assert await probe.rows() == 1


@pytest.mark.postgres
async def test_parallel_duplicates_execute_once_and_write_once_on_postgresql(probe: Probe, db_backend: str) -> None:
    if db_backend != "postgresql":
        pytest.skip("the race is between database transactions: PostgreSQL")
    requests = [
        probe.client.post("/v1/notes", json={"text": "race"}, headers=probe.headers("race-key")) for _ in range(30)
    ]
    responses = await asyncio.gather(*requests)
    statuses = sorted(r.status_code for r in responses)
    executed = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(executed) == 1, statuses
    assert set(statuses) <= {201, 409}, statuses
    for response in responses:
        if response.status_code == 201:
            assert response.content == executed[0].content
        else:
            assert response.json()["code"] == "common.idempotency_in_progress"
    assert await probe.rows() == 1


class TestCommitThenRefuse:
    """The session dependency honours `commit_before_raise` (services.common.db.get_session), with or without a key."""

    async def test_a_marked_refusal_keeps_what_the_handler_wrote(self, probe: Probe) -> None:
        response = await probe.client.post("/v1/held-notes", json={"text": "a"}, headers=probe.headers(None))
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["note_id"]
        assert await probe.rows() == 1

    async def test_an_unmarked_refusal_rolls_back(self, probe: Probe) -> None:
        probe.app.state.fail = True
        response = await probe.client.post("/v1/failing-notes", json={"text": "a"}, headers=probe.headers(None))
        assert response.status_code == 409 and response.json()["code"] == "common.conflict"
        assert await probe.rows() == 0
