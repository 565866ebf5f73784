"""Route declarations: for every operation the gateway forwards, as data (`routes.yaml`), who may call it, which
safeguard rules guard it, the request context it needs and whether (and which fields) it releases personal data.

An operation that is not declared is refused (deny by default). The same table renders the authorisation matrix on
the governance page, so what the docs say and what the gateway does cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_ROUTES_PATH = Path(__file__).with_name("routes.yaml")

Access = Literal["public", "anonymous", "authenticated"]
Need = Literal["required", "optional", "forbidden"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
SubjectSource = Literal["caller", "header", "body", "query", "path", "none"]
# Rules the engine evaluates before the provider is called, in this order, and rules applied to the response.
PRE_RULES = ("SG-OVERSIGHT-1", "SG-SEC-1", "SG-INCL-3", "SG-TOKEN-1", "SG-PURPOSE-1", "SG-LAWFUL-1", "SG-CONSENT-1")
POST_RULES = ("SG-MIN-1", "SG-PURPOSE-2")
ENGINE_RULES = frozenset((*PRE_RULES, *POST_RULES))
_PARAM = re.compile(r"\{([a-z_]+)\}")


class ContextNeeds(BaseModel):
    """Which request context headers the operation needs (`required`), may take (`optional`) or refuses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    purpose: Need = "optional"
    legal_basis: Need = "optional"
    consent_id: Need = "optional"
    court_order: Need = "forbidden"


class SubjectDeclaration(BaseModel):
    """Where the person the request is about comes from, and what the provider receives instead of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SubjectSource = "none"
    pointer: str | None = Field(default=None, description="JSON pointer into the body (source `body`).")
    name: str | None = Field(default=None, description="The query or path parameter (source `query`, `path`).")
    when: dict[str, str] = Field(
        default_factory=dict,
        description="Path parameters that must have these values for the parameter to name a person (source "
        "`path`): `{party_id_type: PERSONAL_ID}`; otherwise the request is about no particular person.",
    )
    required: bool = True
    forward: Literal["drop", "sub"] = Field(
        default="sub",
        description="`sub`: the provider gets the internal subject reference in place of what the caller "
        "presented; `drop`: the field is removed (the assertion's `sub` names the person).",
    )

    @model_validator(mode="after")
    def _pointer_for_body(self) -> SubjectDeclaration:
        if (self.source == "body") != (self.pointer is not None):
            raise ValueError("a body subject needs a pointer, and only a body subject has one")
        if (self.source in ("query", "path")) != (self.name is not None):
            raise ValueError("a query or path subject needs a parameter name, and only those have one")
        if self.when and self.source != "path":
            raise ValueError("only a path subject is conditional on other path parameters")
        return self

    def applies(self, path_params: dict[str, str]) -> bool:
        """Whether this request names a person at all (a path subject's `when` holds)."""
        return all(path_params.get(name) == value for name, value in self.when.items())


class Release(BaseModel):
    """Personal data the operation can release: the items it may ask consent for, and where they sit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: tuple[str, ...] | None = Field(
        default=None,
        description="Every data item the provider may release; none: whatever the purpose allows (the exchange's "
        "services each have their own fields, and the purpose registry bounds them).",
    )
    requested: str | None = Field(
        default=None, description="JSON pointer to the list of items the caller asks for (default: all items)."
    )
    record: str | None = Field(
        default=None,
        description="JSON pointer to the object holding the released items in the response; the gateway drops any "
        "key outside consented ∩ purpose-allowed (SG-MIN-1). Without it the provider's own "
        "X-DPI-Fields-Returned is recorded.",
    )


class Route(BaseModel):
    """One declared operation behind the gateway."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z]+(\.[a-z0-9_]+)+$")
    service: str
    method: Method
    path: str = Field(pattern=r"^/[A-Za-z0-9_./{}-]*$")
    summary: str = Field(min_length=1)
    access: Access = "authenticated"
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    context: ContextNeeds = ContextNeeds()
    subject: SubjectDeclaration = SubjectDeclaration()
    person_refs: tuple[str, ...] = Field(
        default=(), description="Further JSON pointers (`*` for every array element) holding person references."
    )
    releases: Release | None = None
    may_carry_uin: bool = Field(
        default=False, description="A registrar endpoint whose answer may hold a UIN (to registrars only)."
    )
    alias: str | None = Field(
        default=None,
        pattern=r"^/me(/[a-z0-9{}_-]+)+$",
        description="A path under /me at which the gateway also serves this subject route (the person's own "
        "address for it); the same operation, rules and audit event.",
    )

    @model_validator(mode="after")
    def _alias_of_a_subject_route(self) -> Route:
        if self.alias is None:
            return self
        if self.roles != ("subject",) or self.subject.source != "caller":
            raise ValueError(f"{self.id}: only a route of the signed-in person's own data has a /me alias")
        if _PARAM.findall(self.alias) != _PARAM.findall(self.path):
            raise ValueError(f"{self.id}: the alias {self.alias} takes the same parameters as {self.path}")
        return self

    @model_validator(mode="after")
    def _coherent(self) -> Route:  # noqa: C901
        if self.access == "authenticated":
            if not self.roles:
                raise ValueError(f"{self.id}: an authenticated route names the roles it admits")
            if "SG-SEC-1" not in self.rules:
                raise ValueError(f"{self.id}: every authenticated route is guarded by SG-SEC-1")
        elif self.roles or self.releases or self.subject.source != "none":
            raise ValueError(f"{self.id}: a {self.access} route has no roles, subject or release")
        if self.releases is not None:
            for rule in ("SG-PURPOSE-1", "SG-CONSENT-1", "SG-MIN-1"):
                if rule not in self.rules:
                    raise ValueError(f"{self.id}: a route that releases personal data is guarded by {rule}")
            if self.context.purpose != "required":
                raise ValueError(f"{self.id}: a route that releases personal data needs a purpose")
            if self.subject.source == "none":
                raise ValueError(f"{self.id}: a route that releases personal data names its subject")
        if self.subject.source == "path":
            params = set(_PARAM.findall(self.path))
            if self.subject.name not in params or not set(self.subject.when) <= params:
                raise ValueError(f"{self.id}: a path subject names parameters of the route's path")
        if self.may_carry_uin and self.roles != ("registrar",):
            raise ValueError(f"{self.id}: only registrar-only routes may carry a UIN")
        return self

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def path_with(self, params: dict[str, str]) -> str:
        """The route's path with its parameters filled in (each percent-encoded as one path segment)."""
        return _PARAM.sub(lambda found: quote(params[found.group(1)], safe=""), self.path)

    @property
    def gateway_path(self) -> str:
        return f"/{self.service}{self.path}"

    def filled(self, params: dict[str, str]) -> str:
        """The service path with its parameters filled in, each one path segment, percent-encoded."""
        return _PARAM.sub(lambda found: quote(params[found.group(1)], safe=""), self.path)


class RouteFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    roles: tuple[str, ...] = Field(min_length=1, description="Every caller role: the matrix's columns.")
    routes: tuple[Route, ...]

    @field_validator("routes", mode="before")
    @classmethod
    def _expand_services(cls, value: object) -> object:
        """`service: [a, b]` declares the same operation on several services (`{service}` in the id)."""
        if not isinstance(value, list):
            return value
        expanded: list[object] = []
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("service"), list):
                for name in item["service"]:
                    expanded.append({**item, "service": name, "id": str(item["id"]).replace("{service}", name)})
            else:
                expanded.append(item)
        return expanded


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class RouteTable:
    """The declared routes, indexed for matching a request's (service, method, path)."""

    def __init__(self, declared: RouteFile) -> None:
        self.roles = declared.roles
        self.routes = declared.routes
        self._by_service: dict[str, list[tuple[re.Pattern[str], Route]]] = {}
        self._by_alias = [(_compile(r.alias), r) for r in declared.routes if r.alias is not None]
        seen: set[str] = set()
        for route in declared.routes:
            if route.id in seen:
                raise ValueError(f"duplicate route id {route.id}")
            seen.add(route.id)
            unknown_roles = set(route.roles) - set(declared.roles)
            if unknown_roles:
                raise ValueError(f"{route.id}: unknown roles {sorted(unknown_roles)}")
            pattern = _compile(route.path)
            self._by_service.setdefault(route.service, []).append((pattern, route))
        duplicates = _duplicate_operations(declared.routes)
        aliases = [(r.method, _PARAM.sub("{}", r.alias)) for r in declared.routes if r.alias is not None]
        duplicates += sorted({f"{m} {a}" for m, a in aliases if aliases.count((m, a)) > 1})
        if duplicates:
            raise ValueError(f"operations declared twice: {', '.join(duplicates)}")

    @property
    def services(self) -> frozenset[str]:
        return frozenset(self._by_service)

    def match(self, service: str, method: str, path: str) -> Match | None:
        """The declared operation for this request, or None (undeclared: refused)."""
        for pattern, route in self._by_service.get(service, ()):
            if route.method == method and (found := pattern.match(path)):
                return Match(route, found.groupdict())
        return None

    def alias_match(self, method: str, path: str) -> Route | None:
        """The subject route a `/me/...` request stands for, or None."""
        for pattern, route in self._by_alias:
            if route.method == method and pattern.match(path):
                return route
        return None

    def allowed_methods(self, service: str, path: str) -> list[str]:
        """The methods declared for a path (for 405 + Allow)."""
        return sorted({route.method for pattern, route in self._by_service.get(service, ()) if pattern.match(path)})

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def get(self, route_id: str) -> Route:
        for route in self.routes:
            if route.id == route_id:
                return route
        raise KeyError(route_id)


def _compile(path: str) -> re.Pattern[str]:
    """`/v1/cases/{case_id}` as a regular expression with one named group per parameter (one path segment each)."""
    parts: list[str] = []
    position = 0
    for found in _PARAM.finditer(path):
        parts.append(re.escape(path[position : found.start()]))
        parts.append(f"(?P<{found.group(1)}>[^/]+)")
        position = found.end()
    parts.append(re.escape(path[position:]))
    return re.compile("^" + "".join(parts) + "$")


def _duplicate_operations(routes: tuple[Route, ...]) -> list[str]:
    keys = [(r.service, r.method, _PARAM.sub("{}", r.path)) for r in routes]
    return sorted({f"{m} /{s}{p}" for s, m, p in keys if keys.count((s, m, p)) > 1})


def load_routes(path: Path | None = None) -> RouteTable:
    """Load and validate the route declarations; the bundled file is parsed once."""
    if path is None:
        return _load_default()
    return _load(path)


@lru_cache(maxsize=1)
def _load_default() -> RouteTable:
    return _load(DEFAULT_ROUTES_PATH)


def _load(path: Path) -> RouteTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RouteTable(RouteFile.model_validate(data))
