from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gateway.rules.catalogue import DEFAULT_CATALOGUE_PATH, Catalogue, Rule, load_catalogue

REPO_ROOT = Path(__file__).resolve().parents[3]
ALLOWED_STATUSES = {202, 401, 403, 405, 409, 410, 422, 451}
EXPECTED_RULE_COUNT = 35


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


class TestLoad:
    def test_has_exactly_35_rules_with_unique_ids(self, catalogue: Catalogue) -> None:
        ids = [r.id for r in catalogue.rules]
        assert len(ids) == EXPECTED_RULE_COUNT
        assert len(set(ids)) == EXPECTED_RULE_COUNT
        assert catalogue.ids == frozenset(ids)

    def test_default_load_is_cached(self) -> None:
        assert load_catalogue() is load_catalogue()

    def test_explicit_path_loads_the_same_rules(self, catalogue: Catalogue) -> None:
        assert load_catalogue(DEFAULT_CATALOGUE_PATH) == catalogue

    def test_version_and_note(self, catalogue: Catalogue) -> None:
        assert catalogue.version == 1
        assert "sandbox configuration" in catalogue.note
        assert "CC BY-SA 4.0" in catalogue.note

    def test_core_frameworks_are_listed(self, catalogue: Catalogue) -> None:
        for key in ("UDPI-SF", "MGF-DLI", "GAF-DX", "ID4D-P", "CDPI", "DPI-Playbook"):
            assert key in catalogue.frameworks
            assert catalogue.frameworks[key].url.startswith("https://")


class TestRules:
    def test_every_rule_has_a_framework_ref_and_allowed_status(self, catalogue: Catalogue) -> None:
        prefixes = tuple(catalogue.frameworks)
        for rule in catalogue.rules:
            assert rule.framework_refs, rule.id
            assert all(ref.startswith(prefixes) for ref in rule.framework_refs), rule.id
            assert rule.http_status in ALLOWED_STATUSES, rule.id
            assert rule.enforced_by, rule.id
            assert 1 <= rule.play <= 6, rule.id
            assert len(rule.title) <= 70, rule.id

    def test_only_xborder_is_derived(self, catalogue: Catalogue) -> None:
        assert {r.id for r in catalogue.rules if r.derived} == {"SG-XBORDER-1"}

    @pytest.mark.parametrize(
        ("rule_id", "status"),
        [
            ("SG-CONSENT-1", 403),
            ("SG-CONSENT-2", 422),
            ("SG-CONSENT-3", 422),
            ("SG-NONDISC-1", 422),
            ("SG-HRIA-1", 422),
            ("SG-XBORDER-1", 451),
            ("SG-RETAIN-1", 410),
            ("SG-INCL-1", 202),
            ("SG-INCL-2", 401),
            ("SG-ID-1", 409),
            ("SG-AUDIT-1", 405),
        ],
    )
    def test_statuses_follow_the_source_table(self, catalogue: Catalogue, rule_id: str, status: int) -> None:
        assert catalogue.rule(rule_id).http_status == status

    def test_rule_lookup(self, catalogue: Catalogue) -> None:
        rule = catalogue.rule("SG-CONSENT-1")
        assert isinstance(rule, Rule)
        assert "UDPI-SF O3.26" in rule.framework_refs
        with pytest.raises(KeyError):
            catalogue.rule("SG-NOPE-1")


GOVERNANCE_PAGE = REPO_ROOT / "docs" / "governance.md"
TABLE_ROW = re.compile(r"^\|\s*`(SG-[A-Z]+-[0-9]+)`\s*\|([^|]+)\|\s*(\d+)\s*\|([^|]+)\|\s*(\d)\s*\|\s*$", re.MULTILINE)


class TestGovernancePage:
    """docs/governance.md prints the 35 rules for readers; its table must say what the catalogue says."""

    def test_the_rule_table_matches_the_catalogue(self, catalogue: Catalogue) -> None:
        rows = {
            rule_id: (title.strip(), int(status), tuple(part.strip() for part in enforced.split(",")), int(play))
            for rule_id, title, status, enforced, play in TABLE_ROW.findall(GOVERNANCE_PAGE.read_text("utf-8"))
        }
        expected = {
            rule.id: (rule.title, rule.http_status, tuple(rule.enforced_by), rule.play) for rule in catalogue.rules
        }
        assert rows == expected


class TestValidation:
    def test_duplicate_id_is_rejected(self, tmp_path: Path) -> None:
        data = _raw()
        data["rules"][1]["id"] = data["rules"][0]["id"]
        with pytest.raises(ValidationError, match="duplicate rule ids"):
            load_catalogue(_write(tmp_path, data))

    def test_unknown_framework_prefix_is_rejected(self, tmp_path: Path) -> None:
        data = _raw()
        data["rules"][0]["framework_refs"].append("NOPE-FW 1.2")
        with pytest.raises(ValidationError, match="no known framework prefix"):
            load_catalogue(_write(tmp_path, data))

    def test_malformed_id_is_rejected(self, tmp_path: Path) -> None:
        data = _raw()
        data["rules"][0]["id"] = "sg-consent-1"
        with pytest.raises(ValidationError):
            load_catalogue(_write(tmp_path, data))

    def test_status_outside_the_contract_is_rejected(self, tmp_path: Path) -> None:
        data = _raw()
        data["rules"][0]["http_status"] = 404
        with pytest.raises(ValidationError):
            load_catalogue(_write(tmp_path, data))

    def test_doctored_copy_round_trips_when_untouched(self, tmp_path: Path, catalogue: Catalogue) -> None:
        assert load_catalogue(_write(tmp_path, _raw())) == catalogue
