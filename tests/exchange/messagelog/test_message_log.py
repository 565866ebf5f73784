"""The message log on both sides: every fetch leaves a signed, chained, time-stamped entry per side, with hashes and
no payloads; the offline verifier passes a clean log and names the entry after a changed byte, a deleted row or two
swapped rows; concurrent fetches still form one unbroken chain per side."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from dpi_sandbox.cli import app as cli
from services.exchange.messagelog.models import LogEntry
from tests.exchange.exchange_helpers import BENEFIT_CHECK, CIVIL, ExchangeApi

AUDITOR = ("auditor",)
RP_ID = "rp-benefits"


@pytest.fixture
async def logged(api: ExchangeApi) -> ExchangeApi:
    await api.birth("sub_a")
    await api.consumer(RP_ID, grants={CIVIL: (["given_name", "date_of_birth"], [BENEFIT_CHECK])})
    for _ in range(4):
        response = await api.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a", decision_id="dec_1")
        assert response.status_code == 200, response.text
    return api


async def findings(api: ExchangeApi) -> list[tuple[str, int, str]]:
    report = await api.ok("GET", "/v1/message-log/verify", roles=AUDITOR)
    return [(f["chain"], f["seq"], f["kind"]) for f in report["findings"]]


async def tamper(api: ExchangeApi, statement) -> None:  # type: ignore[no-untyped-def]
    async with api.svc.app.state.sessionmaker() as session, session.begin():
        await session.execute(statement)


async def test_each_fetch_is_logged_on_both_sides_with_hashes_and_no_payload(logged: ExchangeApi):
    response = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
    message_id = response.headers["X-DPI-Message-Id"]
    page = await logged.ok("GET", "/v1/message-log", roles=AUDITOR, params={"message_id": message_id})
    entries = page["items"]
    assert [e["chain"] for e in entries] == ["consumer", "provider"] and page["next_cursor"] is None
    consumer, provider = (e["record"] for e in entries)
    assert consumer["seq"] == provider["seq"] == 5
    assert consumer["response_hash"] == hashlib.sha256(response.content).hexdigest()
    assert consumer["request_hash"] == response.headers["X-DPI-Request-Hash"]
    assert consumer["fields_returned"] == ["given_name"] and consumer["legal_basis"] == "consent"
    assert provider["provider"] == "SBX:GOV:CRA:civil-registry" and provider["status"] == 200
    assert consumer["logged_at"] == logged.gateway.clock.now().isoformat()
    assert "Amara" not in json.dumps(entries), "the log holds hashes, never the personal data exchanged"


async def test_the_log_pages_through_every_entry_once_in_chain_order(logged: ExchangeApi):
    for _ in range(3):
        await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
    export = await logged.ok("GET", "/v1/message-log/export", roles=AUDITOR)
    everything = [(e["chain"], e["seq"]) for e in export["entries"]]
    assert len(everything) >= 6 and everything == sorted(everything)
    seen: list[tuple[str, int]] = []
    params: dict[str, str | int] = {"limit": 4}
    while True:
        page = await logged.ok("GET", "/v1/message-log", roles=AUDITOR, params=params)
        assert len(page["items"]) <= 4
        seen += [(e["chain"], e["seq"]) for e in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == everything
    for cursor in ("bogus", "YzE6Y29uc3VtZXJ8eA"):  # not base64 of ours; ours around "consumer|x"
        refused = await logged.call("GET", "/v1/message-log", roles=AUDITOR, params={"cursor": cursor})
        assert refused.status_code == 422 and refused.json()["type"].endswith("common/invalid-cursor"), refused.text


async def test_a_clean_log_verifies(logged: ExchangeApi):
    assert await findings(logged) == []


async def test_one_changed_byte_names_the_altered_entry(logged: ExchangeApi):
    async with logged.svc.app.state.sessionmaker() as session:
        entry = await session.get(LogEntry, ("consumer", 2))
        assert entry is not None
        record = {**entry.record, "purpose": entry.record["purpose"][:-1] + "X"}
    await tamper(logged, update(LogEntry).where(LogEntry.chain == "consumer", LogEntry.seq == 2).values(record=record))
    assert await findings(logged) == [("consumer", 2, "altered")]


async def test_each_entry_stores_its_record_once_beside_a_signature_with_the_payload_detached(logged: ExchangeApi):
    async with logged.svc.app.state.sessionmaker() as session:
        entries = (await session.scalars(select(LogEntry))).all()
    assert len(entries) == 8
    for entry in entries:
        _, payload, signature = entry.signature.split(".")
        assert payload == "", "the record is not repeated inside its signature (RFC 7515 Appendix F)"
        assert len(entry.signature) < 256 and len(signature) == 86  # header, and 64 bytes of ES256 signature


async def test_one_changed_byte_of_a_signature_names_the_entry(logged: ExchangeApi):
    async with logged.svc.app.state.sessionmaker() as session:
        entry = await session.get(LogEntry, ("provider", 3))
        assert entry is not None
        header, _, signature = entry.signature.split(".")
        changed = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    where = (LogEntry.chain == "provider", LogEntry.seq == 3)
    await tamper(logged, update(LogEntry).where(*where).values(signature=f"{header}..{changed}"))
    assert await findings(logged) == [("provider", 3, "altered")]


async def test_a_deleted_row_is_named(logged: ExchangeApi):
    await tamper(logged, delete(LogEntry).where(LogEntry.chain == "provider", LogEntry.seq == 3))
    assert await findings(logged) == [("provider", 3, "deleted")]


async def test_a_deleted_last_row_is_caught_by_the_signed_head(logged: ExchangeApi):
    await tamper(logged, delete(LogEntry).where(LogEntry.chain == "consumer", LogEntry.seq == 4))
    assert await findings(logged) == [("consumer", 4, "deleted")]


async def test_two_swapped_rows_are_both_named(logged: ExchangeApi):
    async with logged.svc.app.state.sessionmaker() as session:
        rows = {e.seq: e for e in await session.scalars(select(LogEntry).where(LogEntry.chain == "consumer"))}
        two, three = (
            {
                "record": rows[n].record,
                "entry_hash": rows[n].entry_hash,
                "signature": rows[n].signature,
                "message_id": rows[n].message_id,
            }
            for n in (2, 3)
        )
    where = (LogEntry.chain == "consumer",)
    await tamper(logged, update(LogEntry).where(*where, LogEntry.seq == 2).values(**three))
    await tamper(logged, update(LogEntry).where(*where, LogEntry.seq == 3).values(**two))
    assert await findings(logged) == [("consumer", 2, "swapped"), ("consumer", 3, "swapped")]


async def test_the_cli_verifies_offline_from_an_export_and_from_the_database(
    logged: ExchangeApi, tmp_path, monkeypatch
):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(await logged.ok("GET", "/v1/message-log/export", roles=AUDITOR)))
    settings = logged.svc.settings
    monkeypatch.setenv("DPI_EXCHANGE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DPI_EXCHANGE_DATABASE_SCHEMA", settings.resolved_schema)
    runner = CliRunner()
    for args in (["--file", str(export)], ["--var-dir", str(settings.var_dir)]):
        result = await asyncio.to_thread(runner.invoke, cli, ["exchange", "verify-log", *args])
        assert result.exit_code == 0, result.output
        assert "intact: 8 entries" in result.output

    await tamper(logged, delete(LogEntry).where(LogEntry.chain == "provider", LogEntry.seq == 2))
    result = await asyncio.to_thread(runner.invoke, cli, ["exchange", "verify-log", "--var-dir", str(settings.var_dir)])
    assert result.exit_code == 1
    assert "provider entry 2: deleted" in result.output

    data = json.loads(export.read_text())
    data["entries"][0]["record"]["subject"] = "sub_b"
    export.write_text(json.dumps(data))
    result = await asyncio.to_thread(runner.invoke, cli, ["exchange", "verify-log", "--file", str(export)])
    assert result.exit_code == 1 and "consumer entry 1: altered" in result.output


async def test_only_auditors_read_the_log(logged: ExchangeApi):
    response = await logged.call("GET", "/v1/message-log", roles=("relying_party",))
    assert response.status_code == 403 and response.json()["rule_id"] == "SG-SEC-1"


async def test_concurrent_fetches_form_one_unbroken_chain_per_side(logged: ExchangeApi, db_backend):
    responses = await asyncio.gather(
        *(logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a") for _ in range(32))
    )
    assert [r.status_code for r in responses] == [200] * 32
    report = await logged.ok("GET", "/v1/message-log/verify", roles=AUDITOR)
    assert report == {"ok": True, "entries": 2 * 36, "findings": []}
    async with logged.svc.app.state.sessionmaker() as session:
        seqs = (await session.scalars(select(LogEntry.seq).where(LogEntry.chain == "consumer"))).all()
    assert sorted(seqs) == list(range(1, 37))


async def test_concurrent_fetches_share_a_batch_and_each_entry_is_still_signed_and_chained(
    logged: ExchangeApi, monkeypatch
):
    from services.exchange.messagelog import service as log_service

    if logged.svc.app.state.exchange.log_appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")
    batches: list[int] = []
    write = log_service._write_batch

    async def counted(connection, batch, key, now, **options):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        return await write(connection, batch, key, now, **options)

    monkeypatch.setattr(log_service, "_write_batch", counted)
    responses = await asyncio.gather(
        *(logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a") for _ in range(16))
    )
    assert [r.status_code for r in responses] == [200] * 16
    assert sum(batches) == 16 and len(batches) < 16  # every fetch written once, some of them together
    async with logged.svc.app.state.sessionmaker() as session:
        seqs = (await session.scalars(select(LogEntry.seq).where(LogEntry.chain == "consumer"))).all()
    assert sorted(seqs) == list(range(1, 21))
    assert await findings(logged) == []


async def test_a_fetch_whose_entries_cannot_be_committed_fails_and_leaves_none(logged: ExchangeApi):
    from services.common.db import HeldConnection, create_engine

    appender = logged.svc.app.state.exchange.log_appender
    if appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")
    unreachable = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    working, appender._connection = appender._connection, HeldConnection(unreachable)
    try:
        response = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
    finally:
        appender._connection = working
        await unreachable.dispose()
    assert response.status_code == 503, response.text
    report = await logged.ok("GET", "/v1/message-log/verify", roles=AUDITOR)
    assert report == {"ok": True, "entries": 2 * 4, "findings": []}
    again = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
    assert again.status_code == 200, again.text


async def test_the_writers_connection_is_held_between_batches_and_replaced_when_it_dies(logged: ExchangeApi):
    """The group commit's writer keeps its connection between batches (no pool check-out per batch). If that
    connection dies (here its server process is terminated), the batch on it fails: its fetch is answered 503 and
    leaves no entry; the next fetch is written on a fresh connection, and the chain has no gap."""
    from sqlalchemy import text

    appender = logged.svc.app.state.exchange.log_appender
    if appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")

    async def fetch() -> int:
        response = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
        return response.status_code

    assert await fetch() == 200
    held = appender._connection._pooled.driver_connection
    assert await fetch() == 200
    assert appender._connection._pooled.driver_connection is held, "the same connection for the next batch"
    async with logged.svc.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": held.get_server_pid()})
    assert await fetch() == 503
    assert await fetch() == 200
    assert appender._connection._pooled.driver_connection is not held
    assert await _consumer_seqs(logged) == list(range(1, 4 + 3 + 1))
    assert await findings(logged) == []


def _recorded(message_id: str) -> dict[str, dict[str, object]]:
    """What another process's fetch would record on each chain (the verifier checks the chain, not the content)."""
    return {chain: {"message_id": message_id, "status": 200} for chain in ("consumer", "provider")}


async def _consumer_seqs(api: ExchangeApi) -> list[int]:
    async with api.svc.app.state.sessionmaker() as session:
        return sorted((await session.scalars(select(LogEntry.seq).where(LogEntry.chain == "consumer"))).all())


async def test_a_lone_writer_appends_without_the_lock_and_sees_another_writer(logged: ExchangeApi, monkeypatch):
    from services.common.db import HeldConnection
    from services.exchange.messagelog.service import GroupAppender

    appender = logged.svc.app.state.exchange.log_appender
    if appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")
    unlocked: list[int] = []  # heads moved by each unlocked attempt (0: another writer had moved them)
    real = HeldConnection.fetch

    async def counted(held, statement, values):  # type: ignore[no-untyped-def]
        rows = await real(held, statement, values)
        unlocked.append(rows[0].moved)
        return rows

    monkeypatch.setattr(HeldConnection, "fetch", counted)

    async def fetch() -> None:
        response = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
        assert response.status_code == 200, response.text

    for _ in range(2):
        await fetch()
    assert unlocked == [2, 2], "alone, each batch is one statement that moves both heads"
    # Another process appends (its own appender on the same database) between two of this one's fetches.
    rt = logged.svc.app.state.exchange
    other = GroupAppender(logged.svc.app.state.engine, rt.signing_key, rt.clock)
    await other.append(_recorded("msg_other_1"))
    await other.drain()  # its connection back to the pool
    for _ in range(3):
        await fetch()
    # The unlocked attempt found the heads moved and wrote nothing; the batch went under the lock; the next one
    # found no other writer, and the one after that went without the lock again.
    assert unlocked == [2, 2, 0, 2]
    assert await _consumer_seqs(logged) == list(range(1, 4 + 2 + 1 + 3 + 1))
    assert await findings(logged) == []


async def test_an_unlocked_append_that_would_move_one_head_only_writes_nothing(logged: ExchangeApi):
    from sqlalchemy.exc import DBAPIError

    from services.common.db import HeldConnection
    from services.exchange.messagelog.models import LogHead
    from services.exchange.messagelog.service import _write_batch

    rt = logged.svc.app.state.exchange
    if rt.log_appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")
    async with logged.svc.app.state.sessionmaker() as session:
        heads = {h.chain: (h.seq, h.entry_hash) for h in (await session.scalars(select(LogHead))).all()}
    # The consumer's head is where it is, the provider's is not: a state no append leaves, refused whole.
    believed = {**heads, "provider": (heads["provider"][0], "f" * 64)}
    connection = HeldConnection(logged.svc.app.state.engine)
    with pytest.raises(DBAPIError, match="division by zero"):
        await _write_batch(
            connection, [_recorded("msg_partial")], rt.signing_key, rt.clock.now(), left=believed, unlocked=True
        )
    await connection.release()
    async with logged.svc.app.state.sessionmaker() as session:
        after = {h.chain: (h.seq, h.entry_hash) for h in (await session.scalars(select(LogHead))).all()}
    assert after == heads
    assert await _consumer_seqs(logged) == [1, 2, 3, 4]
    assert await findings(logged) == []


async def test_two_replicas_appending_at_once_form_one_unbroken_chain_per_side(
    logged: ExchangeApi, service_factory, gateway
):
    if logged.svc.app.state.exchange.log_appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")
    # A second replica of the exchange on the same database (and key): two group appenders writing the same chains.
    replica = ExchangeApi(
        await service_factory("exchange", database_schema=logged.svc.settings.resolved_schema), gateway
    )

    async def fetch(api: ExchangeApi) -> int:
        response = await api.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
        return response.status_code

    statuses = await asyncio.gather(*(fetch(api) for _ in range(16) for api in (logged, replica)))
    assert statuses == [200] * 32
    for _ in range(6):  # one at a time, taking turns: each unlocked attempt meets the other replica's appends
        assert await fetch(logged) == 200
        assert await fetch(replica) == 200
    assert await _consumer_seqs(logged) == list(range(1, 4 + 32 + 12 + 1))
    assert await findings(logged) == []
