"""ISO 20022 at the edge of bulk disbursement: pain.001 in, pain.002 out.

In: a pain.001.001.03 or .09 file is validated against the official XSD (the copies the sepaxml package ships),
parsed with entity expansion and external resources refused (`defuse="always"`), and read into a batch: the group
header's MsgId, NbOfTxs and CtrlSum, the debtor account and agent, and per credit transfer its EndToEndId, InstdAmt
with its currency, and the creditor's private identification (Cdtr/Id/PrvtId/Othr/Id), which must be the
beneficiary's person reference: the file names people, not accounts; the mapper finds their accounts.

Out: a pain.002.001.10 customer payment status report is built with pyiso20022's dataclasses (generated from the
official pain.002 schema) and serialised by xsdata. No pain.002 XSD ships with the installed packages, so it is
checked with pyiso20022's validator against the constraints those dataclasses carry (required elements, patterns,
lengths, code lists), not against an XSD.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import sepaxml  # type: ignore[import-untyped]
import xmlschema
from pyiso20022.pain.pain_002_001_10 import pain_002_001_10 as p2  # type: ignore[import-untyped]
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDateTime

from services.payments.bulk.errors import InvalidPain001
from services.payments.bulk.models import FailureReason, ItemStatus

NAMESPACES = {
    "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03": "pain.001.001.03.xsd",
    "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09": "pain.001.001.09.xsd",
}
# ISO 20022 external status reason codes for what can go wrong with one item.
REASON_CODES = {
    FailureReason.unresolved: "BE06",  # unknown end customer
    FailureReason.account_closed: "AC04",  # closed account number
    FailureReason.currency_mismatch: "AM03",  # not allowed currency
    FailureReason.insufficient_funds: "AM04",  # insufficient funds
}


@dataclass(frozen=True)
class Pain001:
    namespace: str
    message_id: str
    debtor_fsp: str
    debtor_address: str
    currency: str
    control_sum: str | None
    items: list[tuple[str, str, str]]  # (end-to-end id, person reference, amount)


@functools.cache
def _validate_message() -> Any:
    """pyiso20022's constraint validator. Its package `__init__` also imports an Excel exporter that needs lxml
    (not installed), so the module is loaded from its file on its own; it needs only the standard library."""
    import pyiso20022  # type: ignore[import-untyped]

    path = Path(pyiso20022.__file__).parent / "tools" / "validation.py"
    spec = importlib.util.spec_from_file_location("pyiso20022_validation", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.validate_message


@functools.cache
def _schema(namespace: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(Path(sepaxml.__file__).parent / "schemas" / NAMESPACES[namespace]))


def parse_pain001(data: bytes) -> Pain001:
    try:
        resource = xmlschema.XMLResource(data, defuse="always")
    except Exception as error:  # any parse failure is the caller's file, never our 500
        raise InvalidPain001(f"The file is not well-formed XML: {_short(error)}") from None
    namespace = resource.namespace
    if namespace not in NAMESPACES:
        raise InvalidPain001(f"Not a pain.001.001.03 or .09 document (namespace {namespace[:100]!r}).")
    errors = list(_schema(namespace).iter_errors(resource))
    if errors:
        raise InvalidPain001(
            f"The file does not conform to {NAMESPACES[namespace]}: {_short(errors[0])}", errors_found=len(errors)
        )
    ns = {"p": namespace}
    root: Element = resource.root
    header = _one(root, "p:CstmrCdtTrfInitn/p:GrpHdr", ns)
    message_id = _text(header, "p:MsgId", ns)
    instructions = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", ns)
    debtors = {
        (
            _text(info, "p:DbtrAgt/p:FinInstnId/p:Othr/p:Id", ns, default="central-bank"),
            _text(info, "p:DbtrAcct/p:Id/p:Othr/p:Id", ns, default=""),
        )
        for info in instructions
    }
    if len(debtors) != 1 or not next(iter(debtors))[1]:
        raise InvalidPain001("Every PmtInf must name the same debtor account (DbtrAcct/Id/Othr/Id) and agent.")
    (debtor_fsp, debtor_address) = next(iter(debtors))
    items: list[tuple[str, str, str]] = []
    currencies: set[str] = set()
    for info in instructions:
        for transaction in info.findall("p:CdtTrfTxInf", ns):
            amount = _one(transaction, "p:Amt/p:InstdAmt", ns)
            currencies.add(amount.get("Ccy", ""))
            person = transaction.findtext("p:Cdtr/p:Id/p:PrvtId/p:Othr/p:Id", default="", namespaces=ns)
            if not person:
                raise InvalidPain001("Each credit transfer must name the beneficiary in Cdtr/Id/PrvtId/Othr/Id.")
            items.append((_text(transaction, "p:PmtId/p:EndToEndId", ns), person, _amount(amount.text or "")))
    if len(currencies) != 1:
        raise InvalidPain001("All credit transfers of one batch must be in one currency.")
    declared = _text(header, "p:NbOfTxs", ns)
    if declared != str(len(items)):
        raise InvalidPain001(f"NbOfTxs says {declared}, the file has {len(items)} credit transfers.")
    control_sum = header.findtext("p:CtrlSum", default=None, namespaces=ns)
    return Pain001(namespace, message_id, debtor_fsp, debtor_address, currencies.pop(),
                   _amount(control_sum) if control_sum else None, items)  # fmt: skip


def _amount(text: str) -> str:
    """The XSD's decimal as this API's amount text ("10.50", "5.5")."""
    value = Decimal(text.strip())
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _one(element: Element, path: str, ns: dict[str, str]) -> Element:
    found = element.find(path, ns)
    if found is None:  # the XSD requires these; kept as a guard
        raise InvalidPain001(f"{path.replace('p:', '')} is missing.")
    return found


def _text(element: Element, path: str, ns: dict[str, str], *, default: str | None = None) -> str:
    value = element.findtext(path, default=default, namespaces=ns)
    if value is None:
        raise InvalidPain001(f"{path.replace('p:', '')} is missing.")
    return value.strip()


def _short(error: Any) -> str:
    text = getattr(error, "reason", None) or str(error)
    return " ".join(str(text).split())[:300]


def pain002(
    *, report_id: str, original_message_id: str, original_format: str, item_count: int, control_sum: Decimal,
    items: Sequence[Any], now: datetime, complete: bool,
) -> bytes:  # fmt: skip
    """The status of every item (ACSC paid, RJCT failed with its reason code, PDNG not yet done)."""
    transactions = []
    counts = {"ACSC": 0, "RJCT": 0, "PDNG": 0}
    for item in items:
        status = {ItemStatus.paid: "ACSC", ItemStatus.failed: "RJCT"}.get(ItemStatus(item.status), "PDNG")
        counts[status] += 1
        reasons = []
        if status == "RJCT" and item.reason:
            code = REASON_CODES[FailureReason(item.reason)]
            reasons = [p2.StatusReasonInformation12(rsn=p2.StatusReason6Choice(cd=code), addtl_inf=[str(item.reason)])]
        transactions.append(
            p2.PaymentTransaction105(orgnl_end_to_end_id=item.end_to_end_id, tx_sts=status, sts_rsn_inf=reasons)
        )
    if not complete:
        group_status = "PDNG"
    elif counts["RJCT"] == 0:
        group_status = "ACSC"
    else:
        group_status = "RJCT" if counts["ACSC"] == 0 else "PART"
    document = p2.Document(
        cstmr_pmt_sts_rpt=p2.CustomerPaymentStatusReportV10(
            grp_hdr=p2.GroupHeader86(msg_id=report_id, cre_dt_tm=XmlDateTime.from_datetime(now)),
            orgnl_grp_inf_and_sts=p2.OriginalGroupHeader17(
                orgnl_msg_id=original_message_id,
                orgnl_msg_nm_id=original_format,
                orgnl_nb_of_txs=str(item_count),
                orgnl_ctrl_sum=control_sum,
                grp_sts=group_status,
                nb_of_txs_per_sts=[
                    p2.NumberOfTransactionsPerStatus5(dtld_nb_of_txs=str(n), dtld_sts=code)
                    for code, n in counts.items()
                    if n
                ],
            ),
            orgnl_pmt_inf_and_sts=[
                p2.OriginalPaymentInstruction32(orgnl_pmt_inf_id=f"{original_message_id}", tx_inf_and_sts=transactions)
            ],
        )
    )
    result = _validate_message()(document)
    if not result.is_valid:  # our own bug, not the caller's: fail loudly
        raise ValueError(f"pain.002 does not satisfy its schema constraints: {result.errors[:3]}")
    return XmlSerializer(config=SerializerConfig(indent="  ")).render(document).encode()
