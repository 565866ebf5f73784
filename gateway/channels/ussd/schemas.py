"""What a USSD aggregator posts on every step of a session (Africa's Talking's field names)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class UssdCallback(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    session_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,100}$")] = Field(alias="sessionId")
    phone_number: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{6,15}$")] = Field(
        alias="phoneNumber", repr=False, description="The caller's MSISDN; not stored."
    )
    service_code: Annotated[str, StringConstraints(max_length=32)] | None = Field(default=None, alias="serviceCode")
    text: Annotated[str, StringConstraints(max_length=1000)] = Field(
        default="", repr=False, description="Every input of the session so far, joined by `*` (empty on dialling)."
    )

    @property
    def inputs(self) -> list[str]:
        return self.text.split("*") if self.text else []
