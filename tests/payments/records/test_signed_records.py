"""SG-AUDIT-2: every payment step is signed and checks out with the published keys alone; SG-GRIEV-4: disputes
attach to the signed record, and a credit that cannot land is reversed with the payee told."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from dpi_sandbox.cli import app as cli
from services.payments.records.verify import verify_records
from tests.payments.payments_helpers import AUDITOR, SUBJECT, events, fulfilment_for, transfer_body


@pytest.fixture
async def committed(api):  # type: ignore[no-untyped-def]
    payer = await api.open_account("bank-a", owner="sub-payer", address="1001")
    payee = await api.open_account("bank-b", owner="sub-payee", address="2002")
    await api.fund(payer["id"], "50.00")
    await api.fsp("bank-a", "POST", "/v1/transfers", json=await transfer_body(api, "s-1", payer, payee, "12.34"))
    await api.fsp("bank-b", "POST", "/v1/transfers/s-1/fulfil", json=fulfilment_for(api, payee, "s-1"))
    return payer, payee


async def _records(api, transaction_id: str):  # type: ignore[no-untyped-def]
    return await api.call("GET", f"/v1/payments/{transaction_id}/records", roles=AUDITOR)


async def _jwks(api):  # type: ignore[no-untyped-def]
    return (await api.svc.client.get("/.well-known/jwks.json")).json()


@pytest.mark.rule("SG-AUDIT-2")
async def test_every_step_of_a_transfer_is_signed_and_verifies_with_the_published_keys(api, committed):
    bundle = (await _records(api, "s-1")).json()
    assert [step["step"] for step in bundle["steps"]] == ["initiation", "reservation", "commit"]
    assert bundle["steps"][-1]["record"]["amount"] == "12.34"
    jwks = await _jwks(api)
    assert all(check.ok for check in verify_records(bundle, jwks))

    flipped = copy.deepcopy(bundle)
    flipped["steps"][2]["record"]["amount"] = "99.99"
    assert [check.ok for check in verify_records(flipped, jwks)] == [True, True, False]
    forged = copy.deepcopy(bundle)
    header, payload, signature = forged["steps"][0]["jws"].split(".")
    forged["steps"][0]["jws"] = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    assert verify_records(forged, jwks)[0].ok is False


@pytest.mark.rule("SG-AUDIT-2")
async def test_the_cli_verifies_records_offline_and_fails_on_tampering(api, committed, tmp_path):
    bundle = (await _records(api, "s-1")).json()
    (tmp_path / "jwks.json").write_text(json.dumps(await _jwks(api)))
    (tmp_path / "records.json").write_text(json.dumps(bundle))
    runner = CliRunner()
    good = runner.invoke(
        cli, ["payments", "verify", str(tmp_path / "records.json"), "--jwks", str(tmp_path / "jwks.json")]
    )
    assert good.exit_code == 0, good.output
    assert "3 of 3 steps verified" in good.output
    bundle["steps"][1]["record"]["reserved"] = "0.01"
    (tmp_path / "records.json").write_text(json.dumps(bundle))
    bad = runner.invoke(
        cli, ["payments", "verify", str(tmp_path / "records.json"), "--jwks", str(tmp_path / "jwks.json")]
    )
    assert bad.exit_code == 1 and "FAIL" in bad.output


@pytest.mark.rule("SG-GRIEV-4")
async def test_a_dispute_links_to_the_signed_record_and_an_unknown_transaction_is_404(api, payments, committed):
    unknown = await api.call("POST", "/v1/payments/no-such/disputes", roles=SUBJECT, subject_ref="sub-payer",
                             json={"reason": "not_received"})  # fmt: skip
    assert unknown.status_code == 404 and unknown.json()["rule_id"] == "SG-GRIEV-4"
    filed = await api.call("POST", "/v1/payments/s-1/disputes", roles=SUBJECT, subject_ref="sub-payer",
                           json={"reason": "wrong_amount", "description": "I sent 12.34, meant 1.23"})  # fmt: skip
    assert filed.status_code == 201, filed.text
    commit = (await _records(api, "s-1")).json()["steps"][-1]
    assert filed.json()["record_id"] == commit["record_id"] and filed.json()["record_jws"] == commit["jws"]
    [event] = await events(payments, "payments.dispute.filed")
    assert event["payload"]["dispute_id"] == filed.json()["dispute_id"]
    assert event["payload"]["record_jws"] == commit["jws"] and event["payload"]["subject_ref"] == "sub-payer"


@pytest.mark.rule("SG-GRIEV-4")
async def test_a_credit_that_cannot_land_is_reversed_signed_and_the_payee_told(api, payments):
    payer = await api.open_account("bank-a", address="3001")
    payee = await api.open_account("bank-b", address="3002")
    await api.fund(payer["id"], "20.00")
    await api.fsp("bank-a", "POST", "/v1/transfers", json=await transfer_body(api, "s-2", payer, payee, "5.00"))
    async with payments.app.state.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE accounts SET status = 'closed' WHERE id = :id"), {"id": payee["id"]})
    refused = await api.fsp("bank-b", "POST", "/v1/transfers/s-2/fulfil", json=fulfilment_for(api, payee, "s-2"))
    assert refused.status_code == 409 and refused.json()["code"] == "payments.credit_failed"
    transfer = (await api.fsp("bank-a", "GET", "/v1/transfers/s-2")).json()
    assert (transfer["state"], transfer["abort_reason"]) == ("aborted", "credit_failed")
    assert (await api.account(payer["id"]))["available"]["amount"] == "20.00"
    steps = (await _records(api, "s-2")).json()["steps"]
    assert [step["step"] for step in steps] == ["initiation", "reservation", "reversal"]
    [notice] = await events(payments, "payments.transfer.reversed")
    assert notice["payload"]["notify"] == "payee" and notice["payload"]["payee_address"] == "3002"
    assert (await api.check())["balanced"] is True
