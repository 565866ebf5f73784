"""The simulated civil registry's own tables: people as civil registration knows them, births, deaths, marriages and
the parent links a birth registration records. Only the civil registry's code reads or writes them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base


class CivilPerson(Base):
    __tablename__ = "civil_persons"

    sub: Mapped[str] = mapped_column(String(40), primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    place_of_birth: Mapped[str] = mapped_column(String(100))
    ethnicity: Mapped[str | None] = mapped_column(String(40))  # recorded by some civil registries; protected
    vital_status: Mapped[str] = mapped_column(String(16))  # alive | deceased
    marital_status: Mapped[str] = mapped_column(String(16))  # never_married | married | divorced | widowed
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Birth(Base):
    __tablename__ = "civil_births"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    child_sub: Mapped[str] = mapped_column(ForeignKey("civil_persons.sub"), unique=True)
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ParentLink(Base):
    __tablename__ = "civil_parent_links"

    child_sub: Mapped[str] = mapped_column(ForeignKey("civil_persons.sub"), primary_key=True)
    parent_sub: Mapped[str] = mapped_column(ForeignKey("civil_persons.sub"), primary_key=True, index=True)
    relation: Mapped[str] = mapped_column(String(16))  # mother | father | parent


class Death(Base):
    __tablename__ = "civil_deaths"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sub: Mapped[str] = mapped_column(ForeignKey("civil_persons.sub"), unique=True)
    date_of_death: Mapped[date] = mapped_column(Date)
    place_of_death: Mapped[str] = mapped_column(String(100))
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Marriage(Base):
    __tablename__ = "civil_marriages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spouse_a_sub: Mapped[str] = mapped_column(ForeignKey("civil_persons.sub"), index=True)
    spouse_b_sub: Mapped[str] = mapped_column(ForeignKey("civil_persons.sub"), index=True)
    date_of_marriage: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # in_force | dissolved
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
