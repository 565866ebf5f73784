"""Scenario files are checked before anything runs, and each problem names the file, the line and the field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from playbook.loader import SCHEMA_PATH, ScenarioError, load, load_all, schema

GOOD = textwrap.dedent(
    """\
    name: sample
    title: A sample
    summary: Shows the format.
    plays: [1]
    actors:
      visitor: {label: A visitor}
    steps:
      - id: first
        actor: visitor
        play: 1
        say: {en: Looks at the gateway.}
        request: {method: GET, path: /healthz}
        expect: {status: 200}
    """
)


def _write(tmp_path: Path, text: str, name: str = "sample") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, "utf-8")
    return path


def test_the_committed_json_schema_is_the_model():
    assert json.loads(SCHEMA_PATH.read_text("utf-8")) == schema(), "regenerate playbook/scenario.schema.json"


def test_every_shipped_scenario_loads():
    assert "foundation" in load_all()


def test_a_good_file_loads(tmp_path):
    scenario = load(_write(tmp_path, GOOD))
    assert [step.id for step in scenario.steps] == ["first"]


def test_a_wrong_type_names_file_line_and_field(tmp_path):
    path = _write(tmp_path, GOOD.replace("expect: {status: 200}", "expect: {status: lots}"))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert problem.file == path
    assert problem.line == 13
    assert problem.field == "steps[0].expect.status"
    assert str(problem).startswith(f"{path}:13: steps[0].expect.status:")


def test_an_unknown_field_is_refused_where_it_stands(tmp_path):
    path = _write(tmp_path, GOOD.replace("    play: 1\n", "    play: 1\n    colour: red\n"))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (8, "steps[0]")
    assert "colour" in problem.message


def test_a_missing_field_names_its_parent(tmp_path):
    path = _write(tmp_path, GOOD.replace("    say: {en: Looks at the gateway.}\n", ""))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(8, "steps[0]")]
    assert "say" in caught.value.problems[0].message


def test_a_step_naming_an_unknown_actor_is_refused(tmp_path):
    with pytest.raises(ScenarioError, match="who is not among the actors"):
        load(_write(tmp_path, GOOD.replace("actor: visitor", "actor: stranger")))


def test_a_rule_that_is_not_in_the_catalogue_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path, GOOD.replace("    play: 1\n", "    play: 1\n    rules: [SG-MADE-UP-1]\n"))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    problem = caught.value.problems[0]
    assert problem.line == 11
    assert "SG-MADE-UP-1" in problem.message or "SG-MADE-UP-1" in str(caught.value)


def test_an_actor_given_twice_is_refused_at_its_second_line(tmp_path):
    """A YAML loader keeps the last of two equal keys without a word: the first actor would silently vanish."""
    path = _write(tmp_path, GOOD.replace("  visitor: {label: A visitor}\n", "  visitor: {label: A visitor}\n" * 2))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (7, "actors.visitor")
    assert "given twice" in problem.message


def test_broken_yaml_names_the_line(tmp_path):
    path = _write(tmp_path, GOOD.replace("plays: [1]", "plays: [1"))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert caught.value.problems[0].line >= 4
    assert "not valid YAML" in caught.value.problems[0].message


def test_the_name_must_match_the_file(tmp_path):
    with pytest.raises(ScenarioError, match="must match the file name"):
        load(_write(tmp_path, GOOD, name="other"))


def test_all_problems_of_all_files_are_reported_together(tmp_path):
    _write(tmp_path, GOOD)
    _write(tmp_path, GOOD.replace("name: sample", "name: broken").replace("play: 1", "play: 9"), name="broken")
    _write(tmp_path, "just text", name="odd")
    with pytest.raises(ScenarioError) as caught:
        load_all(tmp_path)
    files = {p.file.name for p in caught.value.problems}
    assert files == {"broken.yaml", "odd.yaml"}


PRELUDED = textwrap.dedent(
    """\
    name: later
    title: Later
    summary: Starts where the sample leaves off.
    plays: [1]
    prelude:
      from: sample
      steps: [first]
    actors:
      auditor: {label: An auditor}
    steps:
      - id: second
        actor: auditor
        play: 1
        say: {en: Looks again.}
        request: {method: GET, path: /healthz}
        expect: {status: 200}
    """
)


def test_a_prelude_runs_the_other_scenario_s_steps_first_with_their_actors(tmp_path):
    _write(tmp_path, GOOD)
    scenario = load(_write(tmp_path, PRELUDED, name="later"))
    assert [step.id for step in scenario.steps] == ["first", "second"]
    assert set(scenario.actors) == {"visitor", "auditor"}


@pytest.mark.parametrize(
    ("change", "message"),
    [(("steps: [first]", "steps: [first, missing]"), "missing"), (("from: sample", "from: nowhere"), "nowhere")],
)
def test_a_wrong_prelude_names_file_line_and_field(tmp_path, change, message):
    _write(tmp_path, GOOD)
    path = _write(tmp_path, PRELUDED.replace(*change), name="later")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (path, 5)
    assert problem.field.startswith("prelude") and message in problem.message


def test_two_scenarios_borrowing_from_each_other_are_refused(tmp_path):
    _write(tmp_path, GOOD.replace("plays: [1]\n", "plays: [1]\nprelude: {from: later, steps: [second]}\n"))
    path = _write(tmp_path, PRELUDED, name="later")
    with pytest.raises(ScenarioError, match="borrows back"):
        load(path)
