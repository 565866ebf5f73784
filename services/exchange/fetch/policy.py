"""What a fetch may release, decided before the provider is called. Pure: the directory rows, the court order and
the verified gateway context in, the fields to ask for (or a denial naming its rule) out.

The gateway authenticated the caller and asked the consent service; the exchange trusts that signed context and
enforces on top of it: the access right (deny by default), a coherent legal basis, the jurisdiction, and the
field filter permitted ∩ covered ∩ the service's fields, less protected attributes no law requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.common.assertion import Caller
from services.common.problems import PolicyDenied
from services.exchange.fetch.schemas import Withheld
from services.exchange.members.repository import ConsumerSubsystem, GrantedRight, OfferedService
from services.exchange.orders.models import CourtOrder


class LegallyUnavailable(PolicyDenied):
    """451 (RFC 7725): the data may not go where the consumer processes it (SG-XBORDER-1)."""

    status = 451
    title = "Unavailable for legal reasons"


def deny(rule_id: str, detail: str, *, status: int | None = None) -> PolicyDenied:
    if status == 451:
        return LegallyUnavailable(rule_id, detail)
    return PolicyDenied(rule_id, detail, status=status)


@dataclass(frozen=True)
class Release:
    """What the provider is asked for, and what was held back and why."""

    fields: list[str]
    withheld: list[Withheld]
    legal_reference: str | None
    disclose_after: datetime | None


def decide(  # noqa: C901
    caller: Caller,
    *,
    requested: list[str] | None,
    subsystem: ConsumerSubsystem | None,
    service: OfferedService,
    right: GrantedRight | None,
    order: CourtOrder | None,
    approved_jurisdictions: list[str],
    now: datetime,
) -> Release:
    if subsystem is None:
        raise deny("SG-SEC-1", f"The client {caller.client_id} is not registered as a subsystem of any member.")
    if right is None:
        raise deny("SG-SEC-1", f"{subsystem.id} has no access right to {service.id} (deny by default).")
    if caller.purpose is None or caller.purpose not in right.purposes:
        raise deny(
            "SG-SEC-1",
            f"{subsystem.id}'s access right to {service.id} does not cover purpose {caller.purpose or '(none)'}.",
        )
    if caller.subject_ref is None:
        raise deny(
            "SG-CONSENT-1",
            "The request names no subject; the exchange releases personal data only about "
            "the subject a legal basis covers.",
        )
    covered, legal_reference, basis_rule = _legal_basis(caller, service, subsystem, order, now)
    _jurisdiction(caller, subsystem, approved_jurisdictions)

    withheld: list[Withheld] = []
    wanted = list(service.fields) if requested is None else [f for f in service.fields if f in requested]
    if requested is not None:
        withheld += [Withheld(field=f, rule_id="SG-MIN-1") for f in requested if f not in service.fields]
    fields: list[str] = []
    for name in wanted:
        if name not in right.fields:
            withheld.append(Withheld(field=name, rule_id="SG-MIN-1"))
        elif covered is not None and name not in covered:
            withheld.append(Withheld(field=name, rule_id=basis_rule))
        elif name in service.protected_fields and not any(
            ref["purpose"] == caller.purpose for ref in service.protected_fields[name]
        ):
            withheld.append(Withheld(field=name, rule_id="SG-NONDISC-1"))
        else:
            fields.append(name)
    if not fields:
        raise deny(
            "SG-MIN-1",
            "Nothing asked for is both permitted by the access right and covered by the legal "
            "basis; the provider was not called.",
        )
    return Release(fields, withheld, legal_reference, order.disclose_after if order else None)


def _legal_basis(  # noqa: C901, PLR0912
    caller: Caller, service: OfferedService, subsystem: ConsumerSubsystem, order: CourtOrder | None, now: datetime
) -> tuple[set[str] | None, str | None, str]:
    """The fields the legal basis covers (None: all), the law cited, and the rule that limits them."""
    basis = caller.legal_basis
    if basis == "consent":
        if not caller.consent_id or caller.consented_items is None:
            raise deny(
                "SG-CONSENT-1", "The legal basis is consent but the request carries no consent artefact and its items."
            )
        return set(caller.consented_items), None, "SG-MIN-1"
    if basis == "statute":
        for statute in service.statutes:
            if statute["purpose"] == caller.purpose:
                return None, str(statute["reference"]), "SG-MIN-1"
        raise deny(
            "SG-CONSENT-1",
            f"No statute registered for {service.id} provides for purpose {caller.purpose} without consent.",
        )
    if basis == "court_order":
        if not caller.has_role("law_enforcement"):
            raise deny("SG-LAWFUL-1", "Only a law-enforcement caller may act under a court order.")
        if not caller.court_order_id:
            raise deny("SG-LAWFUL-1", "The legal basis is a court order but the request names none.")
        if order is None:
            raise deny("SG-LAWFUL-1", f"There is no court order {caller.court_order_id} in the registry.")
        if order.revoked_at is not None:
            raise deny("SG-LAWFUL-1", f"Court order {order.id} was revoked.")
        if order.expires_at <= now:
            raise deny("SG-LAWFUL-1", f"Court order {order.id} expired at {order.expires_at.isoformat()}.")
        if order.subject != caller.subject_ref:
            raise deny("SG-LAWFUL-1", f"Court order {order.id} does not concern this subject.")
        if order.member_id != subsystem.member_id:
            raise deny("SG-LAWFUL-1", f"Court order {order.id} does not authorise {subsystem.member_id}.")
        if service.id not in order.services:
            raise deny("SG-LAWFUL-1", f"Court order {order.id} does not name {service.id}.")
        return set(order.fields), f"{order.court} {order.reference}", "SG-LAWFUL-1"
    raise deny(
        "SG-CONSENT-1",
        f"No registered legal basis ({basis or 'none'}): personal data leaves a provider "
        "only under consent, a statute or a court order.",
    )


def _jurisdiction(caller: Caller, subsystem: ConsumerSubsystem, approved: list[str]) -> None:
    """SG-XBORDER-1: the registered processing location must be approved, unless consent covers it; with consent
    the location the gateway's consent decision was taken for must be the registered one."""
    location = subsystem.processing_location
    if location in approved:
        return
    if caller.legal_basis == "consent" and caller.processing_location == location:
        return
    raise deny(
        "SG-XBORDER-1",
        f"{subsystem.id} processes data in {location}, which is not an approved "
        "jurisdiction, and no consent naming it covers this request.",
        status=451,
    )
