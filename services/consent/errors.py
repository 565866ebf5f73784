"""The consent service's 422 under a safeguard rule: the body names the rule and the offending field."""

from __future__ import annotations

from typing import Any

from services.common import rules
from services.common.problems import InvalidInput


class RuleInvalid(InvalidInput):
    """A governance artefact (a purpose, a consent) that a safeguard rule refuses: 422 with `rule_id` and the field."""

    def __init__(self, rule_id: str, field: str, message: str, **extensions: Any) -> None:
        rules.rule(rule_id)  # a refusal never names a rule the catalogue lacks
        super().__init__(
            f"{rule_id}: {field}: {message}",
            field=field,
            errors=[{"loc": ["body", field], "msg": message, "type": rule_id}],
            **extensions,
        )
        self.rule_id = rule_id  # the body names it, with the catalogue's framework references
        self.field = field
