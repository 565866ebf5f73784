"""How far a synthetic population load got: one row per seed, advanced in the same transaction as each batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base


class PopulationLoad(Base):
    __tablename__ = "population_loads"

    seed: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    people: Mapped[int] = mapped_column(Integer)  # the target
    households_done: Mapped[int] = mapped_column(Integer)
    people_done: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # loading | complete
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
