"""The members and services the sandbox starts with: the two simulated registries as providers.

Written at start-up if missing (idempotent, safe with several replicas starting together). Consumers are not
built in: each relying party is registered with the subsystem its gateway client acts as, and granted access.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.exchange.members.models import ExchangeService, Member, Subsystem
from services.exchange.registries.civil.service import CIVIL_FIELDS
from services.exchange.registries.social.service import SOCIAL_FIELDS

CIVIL_MEMBER = "SBX:GOV:CRA"
CIVIL_SUBSYSTEM = f"{CIVIL_MEMBER}:civil-registry"
CIVIL_PERSON_SERVICE = f"{CIVIL_SUBSYSTEM}:person-record:v1"
SOCIAL_MEMBER = "SBX:GOV:MSW"
SOCIAL_SUBSYSTEM = f"{SOCIAL_MEMBER}:social-registry"
SOCIAL_HOUSEHOLD_SERVICE = f"{SOCIAL_SUBSYSTEM}:household-record:v1"
CASH_TRANSFER_PURPOSE = "SOCIAL_CASH_TRANSFER"
SOCIAL_ASSISTANCE_ACT = "Social Assistance Act (sandbox) s.12"

MEMBERS: list[dict[str, Any]] = [
    {"id": CIVIL_MEMBER, "member_class": "GOV", "code": "CRA", "name": "Civil Registration Authority (simulated)"},
    {"id": SOCIAL_MEMBER, "member_class": "GOV", "code": "MSW", "name": "Ministry of Social Welfare (simulated)"},
]
SUBSYSTEMS: list[dict[str, Any]] = [
    {
        "id": CIVIL_SUBSYSTEM,
        "member_id": CIVIL_MEMBER,
        "code": "civil-registry",
        "client_id": None,
        "processing_location": "SB",
    },
    {
        "id": SOCIAL_SUBSYSTEM,
        "member_id": SOCIAL_MEMBER,
        "code": "social-registry",
        "client_id": None,
        "processing_location": "SB",
    },
]
SERVICES: list[dict[str, Any]] = [
    {
        "id": CIVIL_PERSON_SERVICE,
        "provider_subsystem_id": CIVIL_SUBSYSTEM,
        "code": "person-record",
        "version": "v1",
        "title": "Civil record of a person",
        "description": "Names, date and place of birth, sex, vital and marital status, parents, from the civil "
        "registry. Ethnicity is a protected attribute no purpose is registered for: it never leaves.",
        "provider_path": "/civil/v1/persons/{subject}",
        "fields": list(CIVIL_FIELDS),
        "protected_fields": {"ethnicity": []},
        "statutes": [],
        "event_types": ["exchange.civil.birth_registered", "exchange.civil.death_registered"],
        "max_retention_days": 30,
    },
    {
        "id": SOCIAL_HOUSEHOLD_SERVICE,
        "provider_subsystem_id": SOCIAL_SUBSYSTEM,
        "code": "household-record",
        "version": "v1",
        "title": "Household and programme eligibility inputs",
        "description": "A person's household in the social registry: size, income band, location, the ages that "
        "count for eligibility, and the disability flag, which only the cash-transfer purpose may receive (the law "
        "requires it there).",
        "provider_path": "/social/v1/persons/{subject}/household",
        "fields": list(SOCIAL_FIELDS),
        "protected_fields": {
            "disability_flag": [{"purpose": CASH_TRANSFER_PURPOSE, "reference": SOCIAL_ASSISTANCE_ACT}]
        },
        "statutes": [{"purpose": CASH_TRANSFER_PURPOSE, "reference": SOCIAL_ASSISTANCE_ACT}],
        "event_types": ["exchange.social.household_updated"],
        "max_retention_days": 90,
    },
]


async def ensure_builtin_directory(session: AsyncSession, now: datetime) -> None:
    for model, rows in ((Member, MEMBERS), (Subsystem, SUBSYSTEMS), (ExchangeService, SERVICES)):
        for row in rows:
            extra = {"status": "active"} if model is ExchangeService else {}
            await insert_unless_conflict(session, table_of(model), {**row, **extra, "created_at": now})
