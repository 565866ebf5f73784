"""The event bus behind one interface: in-process (embedded, multi-process, tests) or NATS JetStream (distributed).

Publishing carries a message id; both buses drop a second publication of the same id within their dedup window,
so an outbox relay that crashes between publishing and marking a row published does not deliver twice.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Event:
    subject: str
    msg_id: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Event], Awaitable[None]]


class Bus(Protocol):
    async def publish(self, event: Event) -> bool:
        """Publish; False if the bus recognised `msg_id` as a duplicate and dropped it."""
        ...

    async def subscribe(self, subject: str, handler: Handler) -> None: ...

    async def close(self) -> None: ...


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard semantics: `*` matches one token, `>` matches one or more trailing tokens."""
    pattern_tokens, subject_tokens = pattern.split("."), subject.split(".")
    for index, part in enumerate(pattern_tokens):
        if part == ">":
            return len(subject_tokens) > index
        if index >= len(subject_tokens) or (part not in ("*", subject_tokens[index])):
            return False
    return len(pattern_tokens) == len(subject_tokens)


class InProcessBus:
    def __init__(self, *, dedup_window: int = 100_000) -> None:
        self._subscriptions: list[tuple[str, Handler]] = []
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._window = dedup_window

    async def publish(self, event: Event) -> bool:
        if event.msg_id in self._recent:
            return False
        self._recent[event.msg_id] = None
        if len(self._recent) > self._window:
            self._recent.popitem(last=False)
        for pattern, handler in list(self._subscriptions):
            if subject_matches(pattern, event.subject):
                try:
                    await handler(event)
                except Exception:
                    log.exception("bus.handler_failed", subject=event.subject, msg_id=event.msg_id)
        return True

    async def subscribe(self, subject: str, handler: Handler) -> None:
        self._subscriptions.append((subject, handler))

    async def close(self) -> None:
        self._subscriptions.clear()


class NatsJetStreamBus:
    """JetStream with a stream over `<prefix>.>`; `Nats-Msg-Id` gives server-side de-duplication."""

    def __init__(self, url: str, *, stream: str = "DPI", prefix: str = "dpi") -> None:
        self._url = url
        self._stream = stream
        self._prefix = prefix
        self._nc: Any = None
        self._js: Any = None
        self._subscriptions: list[Any] = []

    async def connect(self) -> NatsJetStreamBus:
        import nats  # imported here so the embedded sandbox never needs a NATS server

        self._nc = await nats.connect(self._url, connect_timeout=2, max_reconnect_attempts=3)
        self._js = self._nc.jetstream()
        await self._js.add_stream(name=self._stream, subjects=[f"{self._prefix}.>"], duplicate_window=120.0)
        return self

    def _full(self, subject: str) -> str:
        return f"{self._prefix}.{subject}"

    async def publish(self, event: Event) -> bool:
        ack = await self._js.publish(
            self._full(event.subject),
            json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode(),
            headers={"Nats-Msg-Id": event.msg_id, **event.headers},
        )
        return not bool(getattr(ack, "duplicate", False))

    async def subscribe(self, subject: str, handler: Handler) -> None:
        async def on_message(message: Any) -> None:
            headers = dict(message.headers or {})
            event = Event(
                subject=message.subject.removeprefix(self._prefix + "."),
                msg_id=headers.pop("Nats-Msg-Id", ""),
                payload=json.loads(message.data),
                headers=headers,
            )
            await handler(event)
            await message.ack()

        self._subscriptions.append(await self._js.subscribe(self._full(subject), cb=on_message, manual_ack=True))

    async def delete_stream(self) -> None:
        await self._js.delete_stream(self._stream)

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        if self._nc is not None:
            await self._nc.drain()
