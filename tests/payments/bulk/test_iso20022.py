"""ISO 20022 at the bulk edge: a pain.001 written by a third-party library in, a pain.002 status report out."""

from __future__ import annotations

from pyiso20022.pain.pain_002_001_10 import pain_002_001_10 as p2
from xsdata.formats.dataclass.parsers import XmlParser

from tests.payments.bulk.bulk_helpers import as_programme, beneficiary
from tests.payments.bulk.iso_helpers import pain001

XML = {"Content-Type": "application/xml"}


async def test_a_pyiso20022_pain001_is_paid_and_the_pain002_reports_each_item(api, payments, programme):
    await beneficiary(api, "sub-i1")
    await beneficiary(api, "sub-i2", "bank-b")
    items = [("E2E-1", "sub-i1", "12.00"), ("E2E-2", "sub-i2", "8.5"), ("E2E-3", "sub-nobody", "3.00")]
    document = pain001("PAIN-2026-01", "central-bank", "prog-social", items)
    submitted = await as_programme(api, "POST", "/v1/bulk/batches/pain001", content=document, headers=XML)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["format"] == "pain.001.001.09"
    assert submitted.json()["control_sum"] == "23.50" and submitted.json()["message_id"] == "PAIN-2026-01"
    batch_id = submitted.json()["batch_id"]

    running = await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}/pain002")
    pending = XmlParser().from_bytes(running.content, p2.Document)
    assert pending.cstmr_pmt_sts_rpt.orgnl_grp_inf_and_sts.grp_sts == "PDNG"

    await payments.app.state.bulk_worker.run_once()
    report = await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}/pain002")
    assert report.status_code == 200 and report.headers["content-type"].startswith("application/xml")
    parsed = XmlParser().from_bytes(report.content, p2.Document).cstmr_pmt_sts_rpt
    assert parsed.orgnl_grp_inf_and_sts.orgnl_msg_id == "PAIN-2026-01"
    assert parsed.orgnl_grp_inf_and_sts.grp_sts == "PART"
    statuses = {tx.orgnl_end_to_end_id: (tx.tx_sts, [r.rsn.cd for r in tx.sts_rsn_inf])
                for tx in parsed.orgnl_pmt_inf_and_sts[0].tx_inf_and_sts}  # fmt: skip
    assert statuses == {"E2E-1": ("ACSC", []), "E2E-2": ("ACSC", []), "E2E-3": ("RJCT", ["BE06"])}
    assert (await api.check())["balanced"] is True


async def test_a_file_that_breaks_the_schema_is_refused_with_a_reason(api, programme):
    document = pain001("BAD-1", "central-bank", "prog-social", [("E1", "sub-a", "1.00")])
    broken = document.replace(b"<ns0:MsgId>BAD-1</ns0:MsgId>", b"")
    refused = await as_programme(api, "POST", "/v1/bulk/batches/pain001", content=broken, headers=XML)
    assert refused.status_code == 422 and refused.json()["code"] == "payments.invalid_pain001"
    assert "pain.001.001.09.xsd" in refused.json()["detail"]


async def test_not_xml_an_entity_bomb_and_the_wrong_media_type_are_refused(api, programme):
    assert (
        await as_programme(api, "POST", "/v1/bulk/batches/pain001", content=b"not <xml", headers=XML)
    ).status_code == 422
    bomb = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">&b;</Document>')  # fmt: skip
    refused = await as_programme(api, "POST", "/v1/bulk/batches/pain001", content=bomb, headers=XML)
    assert refused.status_code == 422 and refused.json()["code"] == "payments.invalid_pain001"
    document = pain001("JSON-1", "central-bank", "prog-social", [("E1", "sub-a", "1.00")])
    wrong = await as_programme(api, "POST", "/v1/bulk/batches/pain001", content=document,
                               headers={"Content-Type": "text/plain"})  # fmt: skip
    assert wrong.status_code == 415
