"""The scenario format: actors, steps, expected outcomes, narration, the Playbook play and the rules each step shows.

Scenario files are YAML under playbook/scenarios/. `playbook/scenario.schema.json` is this model as JSON Schema
(for editors and for the loader, which validates every file against it before anything runs).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["ar", "en", "es", "fr", "ru", "zh"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(Strict):
    """Someone who acts in the scenario. `anonymous` sends no credentials; `client` acts as a registered
    organisation (a demo client of the sandbox, by name); `citizen` acts as a person signed in through identity."""

    label: str = Field(description="How the narration names the actor, e.g. 'Amina, a resident'.", min_length=1)
    kind: Literal["anonymous", "client", "citizen"] = "anonymous"
    client: str | None = Field(default=None, description="With kind client: the registered client's name.")
    role: str | None = Field(default=None, description="The role the actor plays, for the narration and report.")
    signs_in_with: str | None = Field(
        default=None,
        description="With kind citizen: the VID the person signs in with at identity, usually `${a_saved_value}` from "
        "the enrolment step.",
    )

    @model_validator(mode="after")
    def _client_named(self) -> Actor:
        if self.kind == "client" and not self.client:
            raise ValueError("an actor of kind client names its registered client")
        if self.kind == "citizen" and not self.signs_in_with:
            raise ValueError("an actor of kind citizen names the VID they sign in with (signs_in_with)")
        return self


class Request(Strict):
    """An HTTP call through the gateway. Strings may use `${name}` for values saved by earlier steps."""

    method: Method
    path: str = Field(pattern=r"^/", description="The gateway path, e.g. /identity/v1/enrolments.")
    json_body: dict[str, Any] | list[Any] | None = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)


class Action(Strict):
    """A sandbox action instead of an HTTP call: advance the clock, tamper with a stored row, ..."""

    name: str = Field(pattern=r"^[a-z_]+$")
    args: dict[str, Any] = Field(default_factory=dict)


class Expect(Strict):
    status: int | list[int] = Field(description="The expected HTTP status (or any of several).")
    rule_id: str | None = Field(default=None, pattern=r"^SG-[A-Z]+-[0-9]+$", description="A denial's rule id.")
    body: dict[str, Any] = Field(
        default_factory=dict, description="Dotted paths into the JSON response and the values they must hold."
    )
    present: list[str] = Field(default_factory=list, description="Dotted paths that must exist in the response.")
    contains: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted path to a list → the values (by dotted path) that at least one of its items holds, or "
        "one value the list holds.",
    )
    text: list[str] = Field(
        default_factory=list,
        description="Pieces of text a plain-text answer must hold, in any order (a USSD screen: `CON ...`, `END ...`).",
    )

    def statuses(self) -> tuple[int, ...]:
        return tuple(self.status) if isinstance(self.status, list) else (self.status,)


class Step(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    actor: str
    say: dict[Language, str] = Field(description="Narration: what happens and why it matters, per language.")
    play: int = Field(ge=1, le=6, description="The Playbook play this step belongs to.")
    rules: list[str] = Field(default_factory=list, description="Safeguard rules the step demonstrates.")
    request: Request | None = None
    action: Action | None = None
    expect: Expect | None = None
    save: dict[str, str] = Field(
        default_factory=dict,
        description="Variable name → dotted path in the response (`header:NAME` for a header); `PATH ~ REGEX` keeps "
        "the regular expression's first group of the text found there.",
    )
    within: float | None = Field(
        default=None,
        gt=0,
        le=60,
        description="Ask again until the answer is as expected, for at most this many seconds: for work the "
        "sandbox does in the background (a disbursement batch being paid), as a real client polls.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if (self.request is None) == (self.action is None):
            raise ValueError("a step has exactly one of request or action")
        if self.request is not None and self.expect is None:
            raise ValueError("a request step says what it expects")
        if "en" not in self.say:
            raise ValueError("every step is narrated in English at least")
        return self


class Prelude(Strict):
    """Steps borrowed from another scenario to set the stage (the purpose registered, the person enrolled, ...),
    run first, with the actors they need."""

    scenario: str = Field(alias="from", pattern=r"^[a-z0-9][a-z0-9-]*$", description="The other scenario's name.")
    steps: list[str] = Field(min_length=1, description="The ids of its steps to run first, in this order.")


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    plays: list[int] = Field(min_length=1)
    prelude: Prelude | None = None
    actors: dict[str, Actor] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)

    def with_prelude(self, other: Scenario) -> Scenario:
        """This scenario with the prelude's steps (from `other`) first, and the actors they need."""
        assert self.prelude is not None
        by_id = {step.id: step for step in other.steps}
        missing = [step_id for step_id in self.prelude.steps if step_id not in by_id]
        if missing:
            raise ValueError(f"the prelude names steps {other.name} does not have: {', '.join(missing)}")
        borrowed = [by_id[step_id] for step_id in self.prelude.steps]
        actors = dict(self.actors)
        for step in borrowed:
            mine = actors.setdefault(step.actor, other.actors[step.actor])
            if mine != other.actors[step.actor]:
                raise ValueError(f"actor {step.actor} means something else in {other.name}")
        return Scenario.model_validate(
            {**self.model_dump(by_alias=True), "prelude": None, "actors": actors, "steps": [*borrowed, *self.steps]}
        )

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"step ids are used twice: {', '.join(duplicates)}")
        for step in self.steps:
            if step.actor not in self.actors and self.prelude is None:
                raise ValueError(f"step {step.id} names actor {step.actor!r}, who is not among the actors")
        return self

    @property
    def rules(self) -> list[str]:
        """Every rule the scenario demonstrates, in the order the steps first show it."""
        seen: dict[str, None] = {}
        for step in self.steps:
            seen.update(dict.fromkeys(step.rules))
        return list(seen)
