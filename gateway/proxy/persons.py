"""Person references at the edge (SG-TOKEN-1): what a caller presented becomes `sub` on the way in, every `sub` in
an answer becomes the caller's own pairwise token on the way out, and an answer holding a UIN never leaves.

The formats are identity's own (services.identity.client): a UIN is 12 digits with a valid Verhoeff check digit,
so the scan neither misses one nor mistakes an id, an amount or a 16-digit VID for one; a `sub` is `sub_` and 26
base32 characters. Pairwise tokens are stable by design (unchanged by corrections), so a (sub, client) → token
pair is cached for the process's life.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.rules import pointers
from gateway.rules.engine import Evaluation
from services.identity.client import SUB_PATTERN, find_uins

_SUB = re.compile(SUB_PATTERN.pattern.encode("ascii"))


def carries_uin(body: bytes) -> bool:
    """Whether the bytes hold a UIN, plain or grouped in fours, with a right Verhoeff check digit; digits inside
    the sandbox's own ids are not one (identity's find_uins)."""
    return bool(find_uins(body))


def forwarded_body(evaluation: Evaluation) -> Any:
    """The request body as the provider receives it: the presented person reference replaced by `sub`, or dropped
    when the assertion's `sub` names the person."""
    body, route = evaluation.body, evaluation.route
    subs = evaluation.person_subs
    for pointer in route.person_refs:
        pointers.replace(body, pointer, lambda value: subs.get(value, value))
    declared = route.subject
    if body is None or declared.source != "body" or evaluation.subject is None:
        return body
    if evaluation.reference is not None and evaluation.reference.type == "uin":
        return body
    assert declared.pointer is not None
    if declared.forward == "drop":
        pointers.remove(body, declared.pointer)
    else:
        subject = evaluation.subject
        pointers.replace(body, declared.pointer, lambda _old: subject)
    return body


TokenSource = Callable[[str, str], Awaitable[str]]


class PairwiseTokens:
    """Rewrites every `sub` in an answer into the caller's pairwise token for that person."""

    def __init__(self, issue: TokenSource, *, max_entries: int = 100_000) -> None:
        self._issue = issue
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._max = max_entries

    async def token(self, sub: str, client_id: str) -> str:
        key = (sub, client_id)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        token = await self._issue(sub, client_id)
        self._cache[key] = token
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return token

    async def rewrite(self, body: bytes, client_id: str) -> bytes:
        found = {match.decode("ascii") for match in _SUB.findall(body)}
        if not found:
            return body
        tokens = {sub: await self.token(sub, client_id) for sub in sorted(found)}
        return _SUB.sub(lambda m: tokens[m.group(0).decode("ascii")].encode("ascii"), body)
