"""The simulated social registry's own tables: households and their members, with the inputs a cash-transfer
programme's eligibility uses (income band, disability, location, ages). Only the social registry's code uses them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base


class Household(Base):
    __tablename__ = "social_households"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    income_band: Mapped[str] = mapped_column(String(16))  # none | very_low | low | middle | high
    district: Mapped[str] = mapped_column(String(60))
    region: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HouseholdMember(Base):
    __tablename__ = "social_household_members"

    sub: Mapped[str] = mapped_column(String(40), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("social_households.id"), index=True)
    relationship: Mapped[str] = mapped_column(String(16))  # head | spouse | child | other
    date_of_birth: Mapped[date] = mapped_column(Date)
    disability_flag: Mapped[bool] = mapped_column(Boolean)
