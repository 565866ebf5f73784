"""Structured logging (structlog): JSON in deployments, console in dev, never personal data.

Code logs internal ids only; redaction is the backstop: known personal keys are masked before formatting, and the
formatted line (exception text and tracebacks included) is masked again for anything shaped like a UIN, phone number
or e-mail address, grouped or not, while the sandbox's own ids are kept whole.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.ids import OWN_ID

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        "uin", "vid", "name", "names", "given_name", "family_name", "full_name", "date_of_birth", "dob",
        "address", "phone", "phone_number", "email", "account", "account_number", "iban", "msisdn", "otp",
        "pin", "password", "biometric", "national_id", "nationality",
    }
)  # fmt: skip
# Nine or more digits, joined or written in groups (a UIN as 9890-5576-7045, a phone number as +000 555 0101 23).
_NUMBER = re.compile(r"(?<![0-9])\+?[0-9](?:[ .-]?[0-9]){8,}(?![0-9])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def redact_text(text: str) -> str:
    """`text` with anything shaped like a UIN, phone number or e-mail address masked, and the sandbox's own ids
    (services.common.ids: their hex often holds a long run of digits) kept whole, so they still match what an
    auditor can find."""
    parts: list[str] = []
    last = 0
    for own in OWN_ID.finditer(text):
        parts += [_redact_span(text[last : own.start()]), own.group()]
        last = own.end()
    parts.append(_redact_span(text[last:]))
    return "".join(parts)


def _redact_span(text: str) -> str:
    return _EMAIL.sub(REDACTED, _NUMBER.sub(REDACTED, text))


def redact_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Known personal keys masked whole; every string value through `redact_text`."""
    for key in list(event_dict):
        value = event_dict[key]
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    """The last step, after formatting: the whole line through `redact_text`, exception text and tracebacks
    included (SQL parameters never reach them: engines hide them, services.common.db)."""
    if isinstance(rendered, str):
        return redact_text(rendered)
    return rendered


class RedactingFilter(logging.Filter):
    """For the standard library's loggers (uvicorn's access and error logs): the formatted message redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_text(record.getMessage()), None
        if record.exc_info:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _CurrentStderr:
    """Whatever sys.stderr is when a line is written, not when logging was configured: a stream swapped out since
    (a test's captured output, closed after it) must not turn the next log line into an error."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


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
            redact_rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    for name in ("uvicorn.access", "uvicorn.error", "sqlalchemy"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


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
        # A caller's id is kept only if redaction would leave it whole: it carries no UIN or phone number, grouped
        # or not, and it is echoed back and logged as it came.
        request_id = incoming if _REQUEST_ID.match(incoming) and redact_text(incoming) == incoming else uuid.uuid4().hex
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
