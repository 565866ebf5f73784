"""Instants from callers: the kit's `Instant` takes an offset, converts to UTC once, and refuses what cannot be stored.

9999-12-31T23:00:00-05:00 is a valid ISO 8601 instant whose UTC form lies in year 10000; before `Instant`, a court
order, an audit event or a breach carrying one answered 500 on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from dpi_sandbox.registry import ALL
from services.common.clock import LATEST_INSTANT, Instant, instant_in_utc
from tools.endpoint_tables import unstarted_app


class Body(BaseModel):
    at: Instant


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
        "0001-01-01T01:00:00+05:00",  # year 0 in UTC
        "9999-12-31T23:59:59.999999+00:00",  # representable, but no room left for a deadline added to it
        "1899-12-31T23:59:59Z",
        "2026-01-01T00:00:00",  # no offset
    ],
)
def test_out_of_range_or_naive_instants_are_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Body.model_validate({"at": value})
    assert raised.value.errors()[0]["loc"] == ("at",)


def test_an_instant_is_handed_on_in_utc_and_keeps_room_for_a_duration() -> None:
    parsed = Body.model_validate({"at": "2026-03-01T02:30:00+02:00"}).at
    assert parsed == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    latest = Body.model_validate({"at": (LATEST_INSTANT - timedelta(microseconds=1)).isoformat()}).at
    assert latest + timedelta(days=365 * 900) > latest  # a deadline or data life added to it cannot overflow


# Times the service checks itself, with `instant_in_utc`, so that a refusal names its rule (a naive or out-of-range
# consent window is SG-CONSENT-5), or that must lie within seconds of now anyway (a decision's `at`). Each has an
# HTTP test of its own with an out-of-range value (tests/consent/consents/test_artefact_rules.py).
SERVICE_CHECKED = {
    ("ConsentRequestCreate", "valid_from"),
    ("ConsentRequestCreate", "expires_at"),
    ("DecisionRequest", "at"),
}


def _checked(metadata: list[Any]) -> bool:
    return instant_in_utc in [getattr(m, "func", None) for m in metadata]


def _datetime_annotations(annotation: Any) -> bool:
    """Whether a field's type mentions datetime (directly, optionally, or inside a list or tuple)."""
    if annotation is datetime:
        return True
    return any(_datetime_annotations(arg) for arg in typing.get_args(annotation))


def _unchecked_datetimes(model: type[BaseModel], path: str, seen: set[type]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if _datetime_annotations(annotation) and not _checked(field.metadata):
            if (model.__name__, name) in SERVICE_CHECKED:
                continue
            found.append(f"{path}.{name}")
        for arg in (annotation, *typing.get_args(annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    found += _unchecked_datetimes(inner, f"{path}.{name}", seen)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also those of included routers (FastAPI keeps an included router as one entry that holds it)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found += _api_routes(included.routes)
    return found


@pytest.mark.parametrize("service", [e.name for e in ALL])
def test_every_datetime_a_caller_sends_is_an_instant(service: str, tmp_path: Path) -> None:
    app = unstarted_app(service, tmp_path)
    unchecked: list[str] = []
    routes = _api_routes(app.routes)
    assert len(routes) > 10
    for route in routes:
        where = f"{sorted(route.methods)[0]} {route.path}"
        for param in route.dependant.query_params + route.dependant.path_params + route.dependant.header_params:
            if _datetime_annotations(param.field_info.annotation) and not _checked(param.field_info.metadata):
                unchecked.append(f"{where} ?{param.name}")
        if route.body_field is not None:
            body = route.body_field.field_info.annotation
            for model in (body, *typing.get_args(body)):
                if isinstance(model, type) and issubclass(model, BaseModel):
                    unchecked += _unchecked_datetimes(model, f"{where} {model.__name__}", set())
    assert not unchecked, f"datetimes a caller sends that are not services.common.clock.Instant: {unchecked}"


def test_the_walker_sees_a_plain_datetime() -> None:
    class Inner(BaseModel):
        when: datetime | None = None

    class Outer(BaseModel):
        ok: Instant
        items: list[Inner]

    assert _unchecked_datetimes(Outer, "Outer", set()) == ["Outer.items.when"]
