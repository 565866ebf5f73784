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
