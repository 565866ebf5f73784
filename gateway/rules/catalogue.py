"""The safeguard rule catalogue as the gateway reads it: the same models and loaded catalogue every service uses.

The data file and its models live in services/common (`catalogue.yaml`, `rules.py`) so that a service's denials
and the gateway's draw on one catalogue; this module only names them for the gateway's rule engine.
"""

from __future__ import annotations

from services.common.rules import (
    DEFAULT_CATALOGUE_PATH,
    Catalogue,
    Enforcer,
    Framework,
    GrievanceChannel,
    Rule,
    RuleStatus,
    Severity,
    UnknownRule,
    catalogue,
    load_catalogue,
    rule,
)

__all__ = [
    "DEFAULT_CATALOGUE_PATH",
    "Catalogue",
    "Enforcer",
    "Framework",
    "GrievanceChannel",
    "Rule",
    "RuleStatus",
    "Severity",
    "UnknownRule",
    "catalogue",
    "load_catalogue",
    "rule",
]
