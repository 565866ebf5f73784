"""Loading scenario files: every file is checked against the JSON Schema and the catalogue before anything runs,
and each problem names the file, the line and the field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from pydantic import ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from playbook.model import Scenario
from services.common.rules import load_catalogue

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
SCHEMA_PATH = Path(__file__).parent / "scenario.schema.json"


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field or '(the file)'}: {self.message}"


class ScenarioError(Exception):
    """One or more problems in scenario files; nothing has run."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _OmitNotNull(GenerateJsonSchema):
    """Optional fields are written as "may be omitted" rather than "may be null", so that a wrong value is reported
    at the field itself instead of as a failed anyOf one level up."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])


def schema() -> dict[str, Any]:
    """The scenario format as JSON Schema, generated from the model (the committed file must equal it)."""
    document = Scenario.model_json_schema(by_alias=True, schema_generator=_OmitNotNull)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["$id"] = "https://dpi-sandbox.example/playbook/scenario.schema.json"
    return document


@cache
def _validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text("utf-8")))


def _lines(node: yaml.Node, path: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], int]:
    """Each value's path in the document → its 1-based line, from the composed YAML nodes."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            lines.update({p: n for p, n in _lines(value, (*path, key.value)).items() if p != (*path, key.value)})
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, (*path, index)))
    return lines


def _duplicate_keys(node: yaml.Node, path: tuple[str | int, ...] = ()) -> list[tuple[int, str, str]]:
    """Keys given twice in one mapping (YAML loaders keep the last silently: an actor or a step would vanish)."""
    found: list[tuple[int, str, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                found.append((key.start_mark.line + 1, _field((*path, key.value)), f"{key.value!r} is given twice"))
            seen.add(key.value)
            found.extend(_duplicate_keys(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.extend(_duplicate_keys(item, (*path, index)))
    return found


def _line_of(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _field(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load(path: Path, _borrowing: frozenset[Path] = frozenset()) -> Scenario:
    """One scenario file, validated; raises ScenarioError naming file, line and field."""
    try:
        text = path.read_text("utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ScenarioError([Problem(path, (mark.line + 1) if mark else 1, "", f"not valid YAML: {error}")]) from None
    except OSError as error:
        raise ScenarioError([Problem(path, 1, "", f"cannot be read: {error.strerror}")]) from None
    if node is None or not isinstance(data, dict):
        raise ScenarioError([Problem(path, 1, "", "a scenario file holds a mapping (name, title, actors, steps, ...)")])
    lines = _lines(node)
    twice = _duplicate_keys(node)
    if twice:
        raise ScenarioError([Problem(path, line, field, message) for line, field, message in twice])
    problems = [
        Problem(path, _line_of(lines, tuple(e.instance_path)), _field(tuple(e.instance_path)), e.message)
        for e in _validator().iter_errors(data)
    ]
    if problems:
        raise ScenarioError(sorted(problems, key=lambda p: p.line))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(
            [Problem(path, _line_of(lines, tuple(e["loc"])), _field(tuple(e["loc"])), e["msg"]) for e in error.errors()]
        ) from None
    known = load_catalogue().ids
    unknown = [
        Problem(
            path, _line_of(lines, ("steps", index, "rules")), f"steps[{index}].rules", f"{rule} is not in the catalogue"
        )
        for index, step in enumerate(scenario.steps)
        for rule in step.rules
        if rule not in known
    ]
    if unknown:
        raise ScenarioError(unknown)
    if scenario.name != path.stem:
        raise ScenarioError([Problem(path, _line_of(lines, ("name",)), "name", "the name must match the file name")])
    if scenario.prelude is not None:
        scenario = _with_prelude(path, scenario, lines, _borrowing | {path})
    return scenario


def _with_prelude(
    path: Path, scenario: Scenario, lines: dict[tuple[str | int, ...], int], borrowing: frozenset[Path]
) -> Scenario:
    assert scenario.prelude is not None
    source = path.parent / f"{scenario.prelude.scenario}.yaml"
    where = _line_of(lines, ("prelude",))
    if not source.is_file() or source == path:
        raise ScenarioError([Problem(path, where, "prelude.from", f"there is no other scenario {source.stem}")])
    if source in borrowing:
        raise ScenarioError([Problem(path, where, "prelude.from", f"{source.stem} borrows back from this scenario")])
    other = load(source, borrowing)
    try:
        return scenario.with_prelude(other)
    except ValueError as error:
        raise ScenarioError([Problem(path, where, "prelude", str(error))]) from None


def load_all(directory: Path = SCENARIOS_DIR) -> dict[str, Scenario]:
    """Every scenario in the directory by name; all files are checked, and all their problems reported together."""
    scenarios: dict[str, Scenario] = {}
    problems: list[Problem] = []
    for file in sorted(directory.glob("*.yaml")):
        try:
            scenarios[file.stem] = load(file)
        except ScenarioError as error:
            problems.extend(error.problems)
    if problems:
        raise ScenarioError(problems)
    return scenarios
