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
    write = log_service._write

    async def counted(session, batch, key, now):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        await write(session, batch, key, now)

    monkeypatch.setattr(log_service, "_write", counted)
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
    from services.common.db import create_engine, create_sessionmaker

    appender = logged.svc.app.state.exchange.log_appender
    if appender is None:
        pytest.skip("SQLite: each fetch moves the log in its own transaction")
    unreachable = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    working, appender._sessions = appender._sessions, create_sessionmaker(unreachable)
    try:
        response = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
    finally:
        appender._sessions = working
        await unreachable.dispose()
    assert response.status_code == 503, response.text
    report = await logged.ok("GET", "/v1/message-log/verify", roles=AUDITOR)
    assert report == {"ok": True, "entries": 2 * 4, "findings": []}
    again = await logged.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a")
    assert again.status_code == 200, again.text
