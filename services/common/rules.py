"""The safeguard rule catalogue, loaded once: every denial names a rule by id and takes the rest from here.

`services/common/catalogue.yaml` is the one source of each rule's title, framework references and the grievance
channel. Code names rules only by id; nobody spells framework references by hand:

    from services.common.problems import PolicyDenied, ProblemError

    raise PolicyDenied("SG-SEC-1", "Only a registrar can read this case.")
    # -> 403, type .../rules/SG-SEC-1, title and framework_refs from the catalogue, grievance channel attached

    class ReferenceNotResolved(ProblemError):  # a 401 (or 409, ...) that names its rule
        status = 401
        rule_id = "SG-TOKEN-1"                 # checked against the catalogue when the class is defined

    rules.rule("SG-TOKEN-1").framework_refs    # ('UDPI-SF O3.4', ...)
    rules.rule("SG-NOPE-9")                    # UnknownRule: an unknown id fails loudly, at import or construction

This module depends on nothing else in services/common, so problems.py can build on it.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
RULE_ID_PATTERN = r"^SG-[A-Z]+-[0-9]+$"

Severity = Literal["critical", "high", "medium"]
Enforcer = Literal["gateway", "identity", "payments", "consent", "exchange", "audit"]
# The statuses the sandbox's denials (and the one exception-path acceptance) may carry.
RuleStatus = Literal[202, 401, 403, 405, 409, 410, 422, 451]


class UnknownRule(KeyError):
    """Code named a rule id the catalogue does not have."""


class Framework(BaseModel):
    """A cited framework or reference document, by title and URL (never its text)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")


class GrievanceChannel(BaseModel):
    """Where and how a person complains about an outcome (SG-GRIEV-1): attached to every problem body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    href: str = Field(min_length=1)
    authority: str = Field(min_length=1)
    phone: str | None = None


class Rule(BaseModel):
    """One safeguard rule: the public contract a denial's `rule_id` points to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=RULE_ID_PATTERN)
    title: str = Field(min_length=1, max_length=70)
    requirement: str = Field(min_length=1)
    framework_refs: tuple[str, ...] = Field(min_length=1)
    severity: Severity
    enforced_by: tuple[Enforcer, ...] = Field(min_length=1)
    http_status: RuleStatus
    play: int = Field(ge=1, le=6, description="The DPI Playbook play the rule best demonstrates.")
    derived: bool = Field(default=False, description="True when no framework states the rule explicitly.")


class Catalogue(BaseModel):
    """The whole catalogue: frameworks cited, a note on configured numbers, the grievance channel and the rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    grievance: GrievanceChannel
    frameworks: dict[str, Framework] = Field(min_length=1)
    note: str = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_ids_and_refs(self) -> Catalogue:
        counts = Counter(r.id for r in self.rules)
        duplicates = sorted(rule_id for rule_id, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate rule ids: {', '.join(duplicates)}")
        prefixes = tuple(self.frameworks)
        unknown = [f"{r.id}: {ref!r}" for r in self.rules for ref in r.framework_refs if not ref.startswith(prefixes)]
        if unknown:
            raise ValueError(f"framework_refs with no known framework prefix: {'; '.join(unknown)}")
        return self

    @property
    def ids(self) -> frozenset[str]:
        """Every rule id in the catalogue."""
        return frozenset(r.id for r in self.rules)

    def rule(self, rule_id: str, /) -> Rule:
        """The rule with this id; UnknownRule (a KeyError) if there is none."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise UnknownRule(rule_id)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate a catalogue; the default (bundled) one is parsed once and cached."""
    if path is None:
        return _load_default()
    return _load(path)


def catalogue() -> Catalogue:
    """The one loaded catalogue every service and the gateway use."""
    return _load_default()


def rule(rule_id: str) -> Rule:
    """The catalogue's rule `rule_id`; raises UnknownRule for an id the catalogue lacks."""
    return _load_default().rule(rule_id)


@lru_cache(maxsize=1)
def _load_default() -> Catalogue:
    return _load(DEFAULT_CATALOGUE_PATH)


def _load(path: Path) -> Catalogue:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalogue.model_validate(data)
