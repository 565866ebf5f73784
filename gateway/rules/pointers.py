"""JSON pointers (RFC 6901) with one extension, `*` for every element of an array: how route declarations say where
a person reference or a released record sits in a body."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _walk(document: Any, tokens: list[str]) -> Iterator[tuple[Any, str | int]]:
    """Every (container, key) the pointer reaches, where the last step exists."""
    if not tokens:
        return
    head, rest = tokens[0], tokens[1:]
    if isinstance(document, list):
        indices: list[int]
        if head == "*":
            indices = list(range(len(document)))
        elif head.isdigit() and int(head) < len(document):
            indices = [int(head)]
        else:
            indices = []
        for index in indices:
            if rest:
                yield from _walk(document[index], rest)
            else:
                yield document, index
    elif isinstance(document, dict) and head in document:
        if rest:
            yield from _walk(document[head], rest)
        else:
            yield document, head


def values(document: Any, pointer: str) -> list[Any]:
    """The values the pointer reaches (none where a step is missing)."""
    return [container[key] for container, key in _walk(document, _tokens(pointer))]


def first(document: Any, pointer: str) -> Any:
    found = values(document, pointer)
    return found[0] if found else None


def replace(document: Any, pointer: str, change: Callable[[Any], Any]) -> None:
    """Replace every value the pointer reaches by `change(value)`, in place."""
    for container, key in list(_walk(document, _tokens(pointer))):
        container[key] = change(container[key])


def remove(document: Any, pointer: str) -> None:
    """Delete every member the pointer reaches, in place (array elements are left alone)."""
    for container, key in reversed(list(_walk(document, _tokens(pointer)))):
        if isinstance(container, dict):
            del container[key]
