"""Running a scenario: each step is an HTTP call through the gateway as one of the actors, or a sandbox action;
each outcome is checked against what the step expects, narrated as it happens, and kept for the report."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from gateway.rules.routes import load_routes
from playbook.model import Actor, Expect, Language, Scenario, Step

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SERVICES = ("identity", "payments", "consent", "exchange")
POLL_SECONDS = 0.2


def service_of(method: str, path: str) -> str | None:
    """The service a request through the gateway reaches: its prefix (`/consent/...`), or for a `/me/...` alias the
    service of the route it stands for; None for what the gateway answers itself (governance, oversight, ...)."""
    path = path.split("?", 1)[0]
    segment = path.split("/")[1] if path.count("/") > 1 else ""
    if segment in SERVICES:
        return segment
    route = load_routes().alias_match(method, path)
    return route.service if route is not None else None


class StepFailed(Exception):
    """A step could not be carried out (not the same as an unexpected outcome, which is recorded and reported)."""


class Credentials(Protocol):
    """Gives the headers an actor sends with a request (a bearer token, a DPoP proof, ...)."""

    async def headers(self, name: str, actor: Actor, request: httpx.Request) -> dict[str, str]: ...


class Control(Protocol):
    """Carries out sandbox actions (advance the clock, tamper with a stored row, ...); returns what it did."""

    async def perform(self, name: str, args: dict[str, Any]) -> str: ...


class Anonymous:
    """Credentials for a sandbox without a client registry: anonymous actors only."""

    async def headers(self, name: str, actor: Actor, request: httpx.Request) -> dict[str, str]:
        if actor.kind != "anonymous":
            raise StepFailed(f"actor {name} ({actor.kind}) needs credentials this runner was not given")
        return {}


class NoActions:
    async def perform(self, name: str, args: dict[str, Any]) -> str:
        raise StepFailed(f"the sandbox action {name!r} is not available against this sandbox")


@dataclass
class StepResult:
    step: Step
    actor: str
    ok: bool
    reason: str = ""
    request: str = ""
    service: str | None = None
    status: int | None = None
    rule_id: str | None = None
    detail: str | None = None
    audit_event_id: str | None = None
    action: str | None = None
    milliseconds: float = 0.0
    body: Any = field(default=None, repr=False)  # the JSON answer, for the report's sections


@dataclass
class RunResult:
    scenario: Scenario
    base_url: str
    mode: str
    language: Language
    started_at: datetime
    finished_at: datetime | None = None
    steps: list[StepResult] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(self.scenario.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """`${name}` in strings (recursively) → the saved value; a string that is only `${name}` keeps the value's type."""
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value)
        if whole:
            return _variable(whole.group(1), variables)
        return VARIABLE.sub(lambda m: str(_variable(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value


_LATER = re.compile(r"^in_([0-9]+)_(days|hours|minutes)$")
_BIRTH_DATES_DRAWN: set[date] = set()
NOW = "_now"  # the variable holding the run's clock (a callable), which `${in_30_days}` counts from


def _variable(name: str, variables: dict[str, Any]) -> Any:
    later = _LATER.fullmatch(name)
    if later and NOW in variables:
        moment = datetime.fromtimestamp(variables[NOW](), UTC) + timedelta(**{later.group(2): int(later.group(1))})
        return moment.isoformat(timespec="seconds")
    if name not in variables:
        raise StepFailed(f"${{{name}}} was not saved by an earlier step")
    return variables[name]


def built_in_variables(now: Callable[[], float]) -> dict[str, Any]:
    """What every run starts with: `${run}` (a tag unique to the run, for ids that must not repeat when a scenario
    runs again on the same sandbox), made-up birth dates and phone numbers for the people it enrols (so a second
    run is not a suspected duplicate of the first), and `${in_N_days}` (or _hours, _minutes) on the run's clock."""
    draw = secrets.SystemRandom()
    values: dict[str, Any] = {NOW: now, "run": secrets.token_hex(4)}
    for suffix in ("", "_2", "_3"):
        born = date(1950, 1, 1) + timedelta(days=draw.randrange(50 * 365))
        while born in _BIRTH_DATES_DRAWN:  # runs in one process never enrol the same name twice on one date
            born = date(1950, 1, 1) + timedelta(days=draw.randrange(50 * 365))
        _BIRTH_DATES_DRAWN.add(born)
        values[f"birth_date{suffix}"] = born.isoformat()
        values[f"phone{suffix}"] = f"+000 555 {draw.randrange(10_000, 100_000)}"
    return values


_MISSING = object()


_PART = re.compile(r"\[([^=\]]+)=([^\]]*)\]|[^.\[]+")


def lookup(document: Any, path: str) -> Any:
    """A dotted path into a JSON document: `items.0.id`; `items[record.decision=deny].index` (the first item whose
    path holds that value); `.` (the document itself). `_MISSING` where it leads nowhere."""
    if path == ".":
        return document
    current = document
    for match in _PART.finditer(path):
        part, key, value = match.group(0), match.group(1), match.group(2)
        if key is not None:
            found = (
                next((i for i in current if str(lookup(i, key)) == value), _MISSING)
                if isinstance(current, list)
                else _MISSING
            )
            if found is _MISSING:
                return _MISSING
            current = found
        elif isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _json(response: httpx.Response) -> Any:
    """The answer as JSON; a plain-text answer (a USSD screen) as its text; else None."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/plain"):
        return response.text
    if "json" not in content_type:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def check(step: Step, response: httpx.Response, variables: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Whether the response is what the step expects (values may use `${name}`), and if not, why not."""
    assert step.expect is not None
    expect = step.expect.model_copy(
        update={
            "body": substitute(step.expect.body, variables or {}),
            "contains": substitute(step.expect.contains, variables or {}),
            "text": substitute(step.expect.text, variables or {}),
        }
    )
    body = _json(response)
    if response.status_code not in expect.statuses():
        detail = f" ({body.get('detail')})" if isinstance(body, dict) and body.get("detail") else ""
        return False, f"expected status {' or '.join(map(str, expect.statuses()))}, got {response.status_code}{detail}"
    if expect.rule_id is not None:
        got = body.get("rule_id") if isinstance(body, dict) else None
        if got != expect.rule_id:
            return False, f"expected a denial under {expect.rule_id}, got {got or 'no rule id'}"
    return _check_body(expect, body)


def _check_body(expect: Expect, body: Any) -> tuple[bool, str]:
    for path, wanted in expect.body.items():
        found = lookup(body, path)
        if found is _MISSING:
            return False, f"the response has no {path}"
        if found != wanted:
            return False, f"{path} is {found!r}, expected {wanted!r}"
    for path in expect.present:
        if lookup(body, path) is _MISSING:
            return False, f"the response has no {path}"
    for path, wanted_item in expect.contains.items():
        ok, reason = _contains(lookup(body, path), path, wanted_item)
        if not ok:
            return ok, reason
    return _check_text(expect.text, body)


def _check_text(pieces: list[str], body: Any) -> tuple[bool, str]:
    """Every piece is in the plain-text answer (a USSD screen)."""
    for piece in pieces:
        if not isinstance(body, str):
            return False, f"expected a plain-text answer holding {piece!r}"
        if piece not in body:
            return False, f"the answer {body!r} does not hold {piece!r}"
    return True, ""


def _contains(items: Any, path: str, wanted: Any) -> tuple[bool, str]:
    if not isinstance(items, list):
        return False, f"the response has no list at {path}"
    if not isinstance(wanted, dict):
        return (True, "") if wanted in items else (False, f"{path} does not hold {wanted!r}")
    if not any(all(lookup(item, k) == v for k, v in wanted.items()) for item in items):
        shown = ", ".join(f"{k} = {v!r}" for k, v in wanted.items())
        return False, f"no item of {path} has {shown}"
    return True, ""


class Narrator:
    """Tells the story on the terminal as the steps run."""

    def __init__(self, console: Console, language: Language) -> None:
        self.console = console
        self.language = language

    def begin(self, scenario: Scenario) -> None:
        self.console.rule(f"[bold]{scenario.title}[/]")
        self.console.print(scenario.summary, style="dim")

    def step(self, index: int, total: int, step: Step, actor: Actor) -> None:
        text = step.say.get(self.language) or step.say["en"]
        fallback = "" if self.language in step.say else " [dim](English: no narration in this language yet)[/]"
        rules = f"  [cyan]{', '.join(step.rules)}[/]" if step.rules else ""
        self.console.print(f"\n[bold][{index}/{total}] Play {step.play} · {actor.label}[/]{rules}")
        self.console.print(f"  {text}{fallback}")

    def outcome(self, result: StepResult) -> None:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        what = result.action or f"{result.request} → {result.status}"
        decided = f"  [yellow]{result.rule_id}[/] {result.detail or ''}" if result.rule_id else ""
        self.console.print(f"  {mark} {what}{decided}")
        if isinstance(result.body, str) and result.body:  # a text screen (USSD): show what the phone shows
            self.console.print(Padding(Text(result.body), (0, 0, 0, 6)), style="dim")
        if not result.ok:
            self.console.print(f"  [red]{result.reason}[/]")

    def end(self, run: RunResult) -> None:
        if run.ok:
            self.console.print(f"\n[green]All {len(run.steps)} steps behaved as expected.[/]")
        elif run.failed is not None:
            self.console.print(f"\n[red]Step {run.failed.step.id} did not behave as expected: {run.failed.reason}[/]")


async def run(
    scenario: Scenario,
    client: httpx.AsyncClient,
    *,
    console: Console,
    mode: str = "embedded",
    language: Language = "en",
    credentials: Credentials | None = None,
    control: Control | None = None,
    pause: Callable[[Step], Awaitable[None]] | None = None,
    now: Callable[[], float] = time.time,
) -> RunResult:
    """Run every step in order; stop at the first step that does not behave as expected."""
    narrator = Narrator(console, language)
    result = RunResult(scenario, str(client.base_url), mode, language, datetime.now(UTC))
    result.variables.update(built_in_variables(now))
    session = _Session(client, credentials or Anonymous(), control or NoActions(), result.variables)
    narrator.begin(scenario)
    for index, step in enumerate(scenario.steps, start=1):
        actor = scenario.actors[step.actor]
        narrator.step(index, len(scenario.steps), step, actor)
        started = time.perf_counter()
        try:
            outcome = await session.perform(step, actor)
        except StepFailed as error:
            outcome = StepResult(step, actor.label, ok=False, reason=str(error))
        outcome.milliseconds = (time.perf_counter() - started) * 1000
        result.steps.append(outcome)
        narrator.outcome(outcome)
        if not outcome.ok:
            break
        if pause is not None and index < len(scenario.steps):
            await pause(step)
    result.finished_at = datetime.now(UTC)
    narrator.end(result)
    return result


@dataclass
class _Session:
    client: httpx.AsyncClient
    credentials: Credentials
    control: Control
    variables: dict[str, Any]

    async def perform(self, step: Step, actor: Actor) -> StepResult:
        if step.action is not None:
            done = await self.control.perform(step.action.name, substitute(step.action.args, self.variables))
            return StepResult(step, actor.label, ok=True, action=done)
        assert step.request is not None
        spec = step.request
        path = substitute(spec.path, self.variables)
        request = self.client.build_request(
            spec.method,
            path,
            json=substitute(spec.json_body, self.variables),
            params=substitute(spec.query, self.variables),
            headers=substitute(spec.headers, self.variables),
        )
        signed_in = actor.model_copy(update={"signs_in_with": substitute(actor.signs_in_with, self.variables)})
        deadline = time.monotonic() + (step.within or 0)
        while True:
            attempt = self.client.build_request(
                request.method, request.url, headers=request.headers, content=request.content
            )
            attempt.headers.update(await self.credentials.headers(step.actor, signed_in, attempt))
            try:
                response = await self.client.send(attempt)
            except httpx.HTTPError as error:
                raise StepFailed(f"the gateway did not answer {spec.method} {path} ({type(error).__name__})") from error
            ok, reason = check(step, response, self.variables)
            if ok or time.monotonic() >= deadline:
                break
            await asyncio.sleep(POLL_SECONDS)  # the sandbox is working in the background: ask again shortly
        body = _json(response)
        is_problem = "application/problem+json" in response.headers.get("content-type", "")
        problem = body if is_problem and isinstance(body, dict) else {}
        outcome = StepResult(
            step,
            actor.label,
            ok=ok,
            reason=reason,
            request=f"{spec.method} {path}",
            service=service_of(spec.method, path),
            status=response.status_code,
            rule_id=problem.get("rule_id"),
            detail=problem.get("detail"),
            audit_event_id=problem.get("audit_event_id"),
            body=body,
        )
        if ok:
            self._save(step, response, body, outcome)
        return outcome

    def _save(self, step: Step, response: httpx.Response, body: Any, outcome: StepResult) -> None:
        for name, source in step.save.items():
            path, _, pattern = (part.strip() for part in str(substitute(source, self.variables)).partition(" ~ "))
            if path.startswith("header:"):
                value: Any = response.headers.get(path.removeprefix("header:"))
            else:
                value = lookup(body, path)
            if pattern and isinstance(value, str):  # `items.0.body ~ ([0-9]{6})`: the pattern's first group
                found = re.search(pattern, value)
                value = found.group(1) if found else None
            if value is _MISSING or value is None:
                outcome.ok, outcome.reason = False, f"nothing to save as {name}: the response has no {source}"
                return
            self.variables[name] = value
