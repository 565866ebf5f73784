"""The safeguard rule catalogue: typed models over `catalogue.yaml` and a cached loader."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")

Severity = Literal["critical", "high", "medium"]
Enforcer = Literal["gateway", "identity", "payments", "consent", "exchange", "audit"]
# The statuses the sandbox's denials (and the one exception-path acceptance) may carry.
RuleStatus = Literal[202, 401, 403, 405, 409, 410, 422, 451]


class Framework(BaseModel):
    """A cited framework or reference document, by title and URL (never its text)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")


class Rule(BaseModel):
    """One safeguard rule: the public contract a denial's `rule_id` points to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^SG-[A-Z]+-[0-9]+$")
    title: str = Field(min_length=1, max_length=70)
    requirement: str = Field(min_length=1)
    framework_refs: tuple[str, ...] = Field(min_length=1)
    severity: Severity
    enforced_by: tuple[Enforcer, ...] = Field(min_length=1)
    http_status: RuleStatus
    play: int = Field(ge=1, le=6, description="The DPI Playbook play the rule best demonstrates.")
    derived: bool = Field(default=False, description="True when no framework states the rule explicitly.")


class Catalogue(BaseModel):
    """The whole catalogue: frameworks cited, a note on configured numbers, and the rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
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
        """Return the rule with this id, or raise KeyError."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate a catalogue; the default (bundled) one is parsed once and cached."""
    if path is None:
        return _load_default()
    return _load(path)


@lru_cache(maxsize=1)
def _load_default() -> Catalogue:
    return _load(DEFAULT_CATALOGUE_PATH)


def _load(path: Path) -> Catalogue:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalogue.model_validate(data)
