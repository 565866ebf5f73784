"""Structured logging (structlog): JSON in deployments, console in dev, never personal data.

Code logs internal ids only; the redaction processor is the backstop that masks known personal keys and anything
shaped like a UIN, phone number or e-mail address if one slips into an event.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        "uin", "vid", "name", "names", "given_name", "family_name", "full_name", "date_of_birth", "dob",
        "address", "phone", "phone_number", "email", "account", "account_number", "iban", "msisdn", "otp",
        "pin", "password", "biometric", "national_id", "nationality",
    }
)  # fmt: skip
_DIGITS_RUN = re.compile(r"(?<!\d)\d{9,}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# The sandbox's own ids (services.common.ids: UUIDv7 hex, optionally prefixed) and request ids: their hex often holds
# a run of nine digits, which redaction used to mask, leaving ids in the logs that match nothing an auditor can find.
_GENERATED_ID = re.compile(r"(?:[a-z]{1,12}_)?[0-9a-f]{32}")


def redact_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        value = event_dict[key]
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(value, str) and not _GENERATED_ID.fullmatch(value):
            event_dict[key] = _EMAIL.sub(REDACTED, _DIGITS_RUN.sub(REDACTED, value))
    return event_dict


def configure_logging(*, json_output: bool = False, level: str = "INFO") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


log = structlog.get_logger("dpi.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Pure ASGI: takes a well-formed X-Request-ID or makes one, binds it to the log context, echoes it back."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A caller's id is kept only if it cannot carry a UIN or phone number past redaction (see _GENERATED_ID).
        request_id = incoming if _REQUEST_ID.match(incoming) and not _DIGITS_RUN.search(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(
            request_id=request_id, service=self.service, method=scope["method"], path=scope["path"]
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                # Method, path template-free path and status only: paths carry ids, never personal data.
                log.info(
                    "request.completed", status=status, duration_ms=round((time.perf_counter() - started) * 1000, 2)
                )
