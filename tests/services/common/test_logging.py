"""Logs carry ids and outcomes, never personal data."""

from __future__ import annotations

import json

import structlog

from services.common.logging import REDACTED, configure_logging, redact_personal_data


def test_known_personal_keys_are_masked():
    event = redact_personal_data(None, "info", {"event": "x", "uin": "234567890124", "phone": "+255700000000"})
    assert event["uin"] == REDACTED and event["phone"] == REDACTED


def test_number_runs_and_emails_inside_messages_are_masked():
    event = redact_personal_data(None, "info", {"event": "lookup 234567890124 for ada@example.org", "person_id": "p-1"})
    assert "234567890124" not in event["event"] and "ada@example.org" not in event["event"]
    assert event["person_id"] == "p-1"


def test_json_log_line_has_no_personal_data(capsys):
    configure_logging(json_output=True, level="INFO")
    structlog.get_logger("t").info("person.enrolled", person_id="p-9", name="Ada Lovelace", uin="234567890124")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["person_id"] == "p-9"
    assert line["name"] == REDACTED and line["uin"] == REDACTED
    assert "Ada" not in json.dumps(line)


def test_the_sandboxs_own_ids_are_logged_whole_even_when_their_hex_holds_a_long_digit_run():
    generated = "evt_0196123456789012abcdefabcdef0123"[:4] + "0196123456789012abcdefabcdef0123"
    request_id = "3758e1234567890bbdcf0f1af3531234"
    event = redact_personal_data(None, "info", {"event": "x", "event_id": generated, "request_id": request_id})
    assert event["event_id"] == generated and event["request_id"] == request_id
    # A UIN is still masked wherever else it appears, also beside an id.
    event = redact_personal_data(None, "info", {"event": "x", "note": f"{generated} 234567890124"})
    assert "234567890124" not in event["note"]


async def test_a_callers_request_id_that_could_carry_a_uin_is_replaced(service_factory):
    svc = await service_factory("identity")
    kept = await svc.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = await svc.client.get("/healthz", headers={"X-Request-ID": "uin-234567890124"})
    assert replaced.headers["x-request-id"] != "uin-234567890124"
    assert "234567890124" not in replaced.headers["x-request-id"]


async def test_a_uin_with_separators_in_a_path_or_request_id_never_reaches_the_log(service_factory, capsys):
    svc = await service_factory("identity")
    own_id = "per_0196123456789012abcdefabcdef0123"
    for written in ("2345-6789-0124", "2345 6789 0124", "2345.6789.0124", "234567890124"):
        response = await svc.client.get(f"/v1/persons/{written}", headers={"X-Request-ID": f"req-{written}"})
        assert written not in response.headers["x-request-id"]
    await svc.client.get(f"/v1/persons/{own_id}")
    logged = capsys.readouterr().err
    assert "request.completed" in logged
    for digits in ("2345-6789-0124", "2345 6789 0124", "2345.6789.0124", "234567890124"):
        assert digits not in logged
    assert own_id in logged, "the sandbox's own ids are logged whole"


def test_exception_text_is_redacted_after_formatting(capsys):
    configure_logging(json_output=True, level="INFO")
    try:
        raise ValueError("no person 2345-6789-0124 reachable at +000 555 0101 99 or ada@example.org")
    except ValueError:
        structlog.get_logger("t").exception("lookup.failed", person_id="per_0196123456789012abcdefabcdef0123")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Traceback" in line or "ValueError" in line
    for secret in ("2345-6789-0124", "555 0101", "ada@example.org"):
        assert secret not in line
    assert "per_0196123456789012abcdefabcdef0123" in line


async def test_sql_parameters_never_reach_a_traceback(tmp_path, capsys):
    from sqlalchemy import text

    from services.common.db import create_engine

    configure_logging(json_output=True, level="INFO")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            name = "".join(("Wan", "jiru")) + " Kamau"  # not in the traceback's source lines
            await conn.execute(text("INSERT INTO no_such_table VALUES (:name)"), {"name": name})
    except Exception:
        structlog.get_logger("t").exception("request.failed")
    finally:
        await engine.dispose()
    logged = capsys.readouterr().err
    assert "no_such_table" in logged, "the statement itself is still there to debug"
    assert "Wanjiru" not in logged
