"""Money on the wire and in the database: ISO 4217 currencies, integer minor units inside, decimal strings outside.

A ledger never holds a float. `"12.50" USD` is stored as 1250 and written back as "12.50"; an amount with more
decimals than its currency has (`"0.001" USD`, `"5.5" JPY`) is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated

from babel.numbers import get_currency_precision, list_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.common.problems import InvalidInput

# Mojaloop's Amount pattern, widened to four decimals (no currency has more minor units).
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,17})(\.[0-9]{1,4})?$"
MAX_MINOR = 2**62  # BigInteger headroom: sums of many amounts stay below 2**63


class InvalidAmount(InvalidInput):
    title = "Invalid amount"
    type_slug = "payments/invalid-amount"
    code = "payments.invalid_amount"


@cache
def _iso_currencies() -> frozenset[str]:
    # Babel also lists historical codes (e.g. DEM); a sandbox that refused them would gain nothing.
    return frozenset(code for code in list_currencies() if len(code) == 3 and code.isalpha() and code.isupper())


def _known_currency(code: str) -> str:
    if code not in _iso_currencies() or (code.startswith("X") and code not in {"XOF", "XAF", "XCD", "XPF"}):
        # X-codes are metals, funds and test codes (XAU, XDR, XTS), not money a G2P payment is made in.
        raise ValueError(f"{code} is not an ISO 4217 currency code for money")
    return code


Currency = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 alphabetic code.", examples=["USD"]),
    AfterValidator(_known_currency),
]
AmountText = Annotated[
    str,
    Field(
        pattern=AMOUNT_PATTERN,
        max_length=23,
        description="A decimal string with no more decimals than the currency has minor units.",
        examples=["12.50"],
    ),
]


def minor_digits(currency: str) -> int:
    """How many minor-unit digits `currency` has (USD 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(currency))


def to_minor(amount: str, currency: str) -> int:
    """ "12.50" USD -> 1250; more decimals than the currency allows, or a non-positive amount, is refused."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InvalidAmount(f"{amount!r} is not a decimal amount.") from None
    digits = minor_digits(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{currency} has {digits} decimal places; {amount} has more.")
    minor = int(scaled)
    if minor <= 0:
        raise InvalidAmount("The amount must be greater than zero.")
    if minor > MAX_MINOR:
        raise InvalidAmount("The amount is larger than the ledger holds.")
    return minor


def to_text(minor: int, currency: str) -> str:
    """1250 USD -> "12.50"; negative balances keep their sign."""
    digits = minor_digits(currency)
    if digits == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"


class Money(BaseModel):
    """An amount and its currency, as Mojaloop's `Money`."""

    model_config = ConfigDict(extra="forbid")

    amount: AmountText
    currency: Currency

    @property
    def minor(self) -> int:
        return to_minor(self.amount, self.currency)

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls.model_construct(amount=to_text(minor, currency), currency=currency)


class SignedMoney(BaseModel):
    """A balance or a net position: may be negative."""

    amount: str = Field(examples=["-12.50"])
    currency: str

    @classmethod
    def of(cls, minor: int, currency: str) -> SignedMoney:
        return cls(amount=to_text(minor, currency), currency=currency)
