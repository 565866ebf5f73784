"""A pain.001.001.09 written by a third-party library (pyiso20022's dataclasses, serialised by xsdata)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pyiso20022.pain.pain_001_001_09 import pain_001_001_09 as p
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDate, XmlDateTime


def pain001(
    message_id: str, debtor_fsp: str, debtor_address: str, items: Sequence[tuple[str, str, str]], currency: str = "USD"
) -> bytes:
    """items: (end_to_end_id, beneficiary sub, amount)."""
    transactions = [
        p.CreditTransferTransaction34(
            pmt_id=p.PaymentIdentification6(end_to_end_id=e2e),
            amt=p.AmountType4Choice(instd_amt=p.ActiveOrHistoricCurrencyAndAmount(value=Decimal(amount), ccy=currency)),
            cdtr=p.PartyIdentification135(
                id=p.Party38Choice(prvt_id=p.PersonIdentification13(othr=[p.GenericPersonIdentification1(id=sub)]))
            ),
        )
        for e2e, sub, amount in items
    ]
    total = sum(Decimal(amount) for _, _, amount in items)
    document = p.Document(
        cstmr_cdt_trf_initn=p.CustomerCreditTransferInitiationV09(
            grp_hdr=p.GroupHeader85(
                msg_id=message_id,
                cre_dt_tm=XmlDateTime.from_string("2026-01-01T00:00:00Z"),
                nb_of_txs=str(len(items)),
                ctrl_sum=total,
                initg_pty=p.PartyIdentification135(nm="Sandbox Social Cash Transfer Programme"),
            ),
            pmt_inf=[
                p.PaymentInstruction30(
                    pmt_inf_id=f"{message_id}-1",
                    pmt_mtd=p.PaymentMethod3Code.TRF,
                    reqd_exctn_dt=p.DateAndDateTime2Choice(dt=XmlDate.from_string("2026-01-01")),
                    dbtr=p.PartyIdentification135(nm="Ministry of Social Protection"),
                    dbtr_acct=p.CashAccount38(
                        id=p.AccountIdentification4Choice(othr=p.GenericAccountIdentification1(id=debtor_address))
                    ),
                    dbtr_agt=p.BranchAndFinancialInstitutionIdentification6(
                        fin_instn_id=p.FinancialInstitutionIdentification18(
                            othr=p.GenericFinancialIdentification1(id=debtor_fsp)
                        )
                    ),
                    cdt_trf_tx_inf=transactions,
                )
            ],
        )
    )
    return XmlSerializer(config=SerializerConfig(indent="  ")).render(document).encode()
