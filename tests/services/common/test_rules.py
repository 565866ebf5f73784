"""Rules by id: code names a rule only by its id, and every denial takes its title and references from the catalogue.

The suite-wide half of this check lives in tests/conftest.py (`RuleReferenceCheck`): every problem+json response
of every service built by `service_factory`, in every test, that names a rule must carry the catalogue's
framework references for it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.common import rules
from services.common.problems import PolicyDenied, ProblemError

REPO = Path(__file__).resolve().parents[3]
RULE_ID = re.compile(r"\bSG-(?!NOPE-)[A-Z]+-[0-9]+\b")  # SG-NOPE-n: the one spelling reserved for examples
SCANNED = ("services", "gateway", "dpi_sandbox", "tests", "benchmarks", "docs")
SUFFIXES = (".py", ".yaml", ".yml", ".md", ".json")
UNKNOWN = "SG-NOPE-9"


def _sources() -> list[Path]:
    return [
        path
        for folder in SCANNED
        for path in sorted((REPO / folder).rglob("*"))
        if path.suffix in SUFFIXES and path.is_file() and "/migrations/versions/" not in path.as_posix()
    ]


class TestRuleIdsInCode:
    def test_every_rule_id_named_anywhere_in_the_repository_is_in_the_catalogue(self) -> None:
        known = rules.catalogue().ids
        unknown = sorted(
            f"{path.relative_to(REPO)}: {rule_id}"
            for path in _sources()
            for rule_id in set(RULE_ID.findall(path.read_text(encoding="utf-8", errors="replace")))
            if rule_id not in known
        )
        assert unknown == []

    def test_the_reserved_example_spelling_is_never_a_rule(self) -> None:
        assert not any(rule_id.startswith("SG-NOPE-") for rule_id in rules.catalogue().ids)

    def test_the_scan_sees_the_places_that_name_rules(self) -> None:
        named = {path.relative_to(REPO).as_posix() for path in _sources() if RULE_ID.search(path.read_text())}
        assert "services/common/auth.py" in named
        assert "services/identity/tokens/errors.py" in named

    def test_no_application_code_spells_framework_references_by_hand(self) -> None:
        spelled = sorted(
            f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}"
            for folder in ("services", "gateway", "dpi_sandbox")
            for path in sorted((REPO / folder).rglob("*.py"))
            if path.relative_to(REPO).as_posix() not in {"services/common/problems.py", "services/common/rules.py"}
            for text in [path.read_text()]
            # A literal list of references (not a copy read from the catalogue's rule object).
            for match in re.finditer(r"(?:framework_refs|_REFS)\s*=\s*[\[(]\s*[\"']", text)
        )
        assert spelled == []


class TestPolicyDenied:
    @pytest.mark.parametrize("rule_id", sorted(rules.catalogue().ids))
    def test_a_denial_carries_the_catalogue_title_references_and_grievance_channel(self, rule_id: str) -> None:
        rule = rules.rule(rule_id)
        body = PolicyDenied(rule_id, "Denied for the test.").to_problem(instance="/x", request_id="req-1")
        assert body["rule_id"] == rule_id
        assert body["type"] == f"https://problems.dpi-sandbox.example/rules/{rule_id}"
        assert body["title"] == rule.title
        assert body["framework_refs"] == list(rule.framework_refs)
        assert body["grievance"] == rules.catalogue().grievance.model_dump(exclude_none=True)
        assert body["status"] == 403

    def test_an_unknown_rule_id_fails_loudly(self) -> None:
        with pytest.raises(rules.UnknownRule):
            PolicyDenied(UNKNOWN, "No such rule.")

    def test_framework_references_cannot_be_passed_by_hand(self) -> None:
        with pytest.raises(TypeError):
            PolicyDenied("SG-SEC-1", "x", framework_refs=["made up"])
        with pytest.raises(TypeError):
            ProblemError("x", rule_id="SG-SEC-1")


class TestRuleNamingErrors:
    def test_an_error_class_naming_an_unknown_rule_fails_when_defined(self) -> None:
        with pytest.raises(rules.UnknownRule):

            class Bad(ProblemError):
                rule_id = UNKNOWN

    def test_an_error_class_naming_a_rule_carries_its_references(self) -> None:
        class Paused(ProblemError):
            status = 401
            rule_id = "SG-INCL-2"

        body = Paused("Use another factor.").to_problem()
        assert body["rule_id"] == "SG-INCL-2"
        assert body["framework_refs"] == list(rules.rule("SG-INCL-2").framework_refs)
        assert body["status"] == 401

    def test_errors_without_a_rule_name_none(self) -> None:
        body = ProblemError("Plain.").to_problem()
        assert "rule_id" not in body and "framework_refs" not in body
