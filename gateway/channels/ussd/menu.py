"""The USSD menu as a state machine over the person's inputs (SG-INCL-3, text-only channel).

Aggregators (Africa's Talking and most others) post every step of a session with the whole input so far in `text`,
the person's answers joined by `*` ("" on dialling, then "1", "1*2", ...), and expect `CON <screen>` (wait for an
answer) or `END <screen>` (hang up). A shortcut dial (`*384*1*2#`) arrives as several inputs at once; the menu takes
each new input in turn. The session row remembers how many inputs were handled, where the person is and the language
they chose; never a PIN, a code, a VID or a phone number (the VID is read back from `text` by its position). A session
idle longer than the timeout, by the gateway's clock, ends.

    language → main → vid → method → secret → (revoke: pick → confirm) | (access log: log → 9 more …) |
                                              (complaint: topic → describe) | (correction: field → value)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.auth.caller import AuthenticatedCaller
from gateway.channels.people import Confirmed, ConfirmingFactor, PersonChannel
from gateway.channels.ussd import texts
from gateway.channels.ussd.models import UssdSession
from gateway.channels.ussd.texts import Screen, ask, end, lines_within, text
from gateway.oversight.grievances.models import GrievanceCategory
from gateway.oversight.grievances.schemas import GrievanceCreate
from gateway.proxy.service import Acted
from services.common.problems import DEFAULT_GRIEVANCE, PolicyDenied, ProblemError

ACTIONS = {"1": "revoke", "2": "access_log", "3": "complaint", "4": "correction"}
TOPICS = dict(zip("123456", GrievanceCategory, strict=True))
FIELDS = dict(
    zip("123456", ("given_name", "family_name", "address", "phone", "email", "preferred_language"), strict=True)
)
MAX_CONSENTS = 5
MORE = "9"
CORRECTION_REASON = "Asked by the person on the USSD channel."
ACTION = "POST /channels/ussd"


@dataclass
class Step:
    """The session's state while the new inputs are handled."""

    row: UssdSession
    inputs: list[str]
    actor: AuthenticatedCaller

    @property
    def language(self) -> str | None:
        return self.row.language

    @property
    def data(self) -> dict[str, Any]:
        return self.row.data

    def say(self, message: str, **values: str) -> str:
        return text(self.language, message, **values)


class UssdMenu:
    def __init__(self, channel: PersonChannel, timeout: timedelta) -> None:
        self.channel = channel
        self.timeout = timeout

    def expired(self, row: UssdSession, now: datetime) -> bool:
        return now - row.last_seen_at > self.timeout

    async def answer(self, row: UssdSession, inputs: list[str], actor: AuthenticatedCaller) -> Screen:
        """Take every input not handled yet, in order; the screen for the last one (or the current prompt)."""
        step = Step(row, inputs, actor)
        if row.state == "ended":
            return end(step.say(texts.EXPIRED))
        screen = self.prompt(step)
        while row.inputs_seen < len(inputs):
            index = row.inputs_seen
            row.inputs_seen += 1
            try:
                screen = await self.take(step, index, inputs[index].strip())
            except ProblemError:  # a service behind the gateway did not answer, or refused on a rule
                screen = end(step.say(texts.UNAVAILABLE))
            if screen.end:
                row.state = "ended"
                break
        return screen

    def prompt(self, step: Step) -> Screen:
        """What the current state asks (a step repeated by the aggregator shows it again)."""
        state = step.row.state
        if state == "language":
            return ask(texts.LANGUAGE_MENU)
        if state == "pick":
            return ask(self._consent_menu(step))
        if state == "log":
            return ask(step.data["log_page"])
        static = {
            "main": texts.MAIN, "vid": texts.ASK_VID, "method": texts.ASK_METHOD, "pin": texts.ASK_PIN,
            "topic": texts.TOPICS, "describe": texts.DESCRIBE, "field": texts.FIELDS, "value": texts.ASK_VALUE,
        }  # fmt: skip
        if state in static:
            return ask(step.say(static[state]))
        if state == "code":
            return ask(step.say(texts.ASK_CODE, destination=step.data.get("destination", "")))
        if state == "revoke":
            chosen = step.data["chosen"]
            return ask(step.say(texts.CONFIRM_REVOKE, requester=chosen["requester"], purpose=chosen["purpose"]))
        return end(step.say(texts.INVALID))

    async def take(self, step: Step, index: int, value: str) -> Screen:
        """One input in the current state: the next screen."""
        handlers = {
            "language": self._language, "main": self._main, "vid": self._vid, "method": self._method,
            "pin": self._secret, "code": self._secret, "pick": self._pick, "revoke": self._revoke, "log": self._more,
            "topic": self._topic, "describe": self._complain, "field": self._field, "value": self._correct,
        }  # fmt: skip
        handler = handlers.get(step.row.state)
        if handler is None:
            return end(step.say(texts.INVALID))
        return await handler(step, index, value)

    async def _language(self, step: Step, index: int, value: str) -> Screen:
        languages = dict(zip("123456", (code for code, _ in texts.LANGUAGES), strict=True))
        if value not in languages:
            return end(texts.text(None, texts.INVALID))
        step.row.language = languages[value]
        return self._to(step, "main")

    async def _main(self, step: Step, index: int, value: str) -> Screen:
        if value not in ACTIONS:
            return end(step.say(texts.INVALID))
        step.data["action"] = ACTIONS[value]
        return self._to(step, "vid")

    async def _vid(self, step: Step, index: int, value: str) -> Screen:
        if not (value.isdigit() and len(value) == 16):
            return end(step.say(texts.INVALID))
        step.data["vid_at"] = index  # the VID stays in the aggregator's `text`, not in the session row
        return self._to(step, "method")

    async def _pick(self, step: Step, index: int, value: str) -> Screen:
        consents = step.data.get("consents", [])
        if not value.isdigit() or not 1 <= int(value) <= len(consents):
            return end(step.say(texts.INVALID))
        step.data["chosen"] = consents[int(value) - 1]
        return self._to(step, "revoke")

    async def _revoke(self, step: Step, index: int, value: str) -> Screen:
        if value != "1":
            return end(step.say(texts.NOTHING_CHANGED))
        chosen = step.data["chosen"]
        acted = await self.channel.revoke_consent(self._person(step), chosen["id"])
        if not acted.ok:
            return self._refused(step, acted)
        return end(step.say(texts.REVOKED, requester=chosen["requester"], purpose=chosen["purpose"]))

    async def _topic(self, step: Step, index: int, value: str) -> Screen:
        if value not in TOPICS:
            return end(step.say(texts.INVALID))
        step.data["topic"] = TOPICS[value].value
        return self._to(step, "describe")

    async def _field(self, step: Step, index: int, value: str) -> Screen:
        if value not in FIELDS:
            return end(step.say(texts.INVALID))
        step.data["field"] = FIELDS[value]
        return self._to(step, "value")

    async def _correct(self, step: Step, index: int, value: str) -> Screen:
        correction = {"field": step.data["field"], "value": value, "reason": CORRECTION_REASON}
        acted = await self.channel.request_correction(self._person(step), correction)
        if not acted.ok:
            return self._refused(step, acted)
        case = acted.json()
        return end(step.say(texts.CORRECTION_FILED, case=case["id"], date=case["due_at"][:10]))

    def _person(self, step: Step) -> Confirmed:
        return self.channel.resume(step.actor, step.row.sub or "", step.row.confirmation or "")

    def _to(self, step: Step, state: str) -> Screen:
        step.row.state = state
        return self.prompt(step)

    async def _method(self, step: Step, index: int, value: str) -> Screen:
        if value == "1":
            return self._to(step, "pin")
        if value != "2":
            return end(step.say(texts.INVALID))
        vid = step.inputs[step.data["vid_at"]]
        try:
            acted = await self.channel.send_otp(step.actor, vid, assisted_by=None)
        except PolicyDenied:  # a VID nobody holds (SG-TOKEN-1): the same answer as a wrong PIN
            return end(step.say(texts.NOT_CONFIRMED))
        if not acted.ok:
            return end(step.say(texts.NOT_CONFIRMED))
        step.data["destination"] = str(acted.json()["destination"])
        return self._to(step, "code")

    async def _secret(self, step: Step, index: int, secret: str) -> Screen:
        factor: ConfirmingFactor = "pin" if step.row.state == "pin" else "otp"
        vid = step.inputs[step.data["vid_at"]]
        if not secret.isdigit():
            return end(step.say(texts.NOT_CONFIRMED))
        try:
            confirmed = await self.channel.confirm(step.actor, vid, factor, secret, assisted_by=None)
        except PolicyDenied:  # a VID nobody holds (SG-TOKEN-1): the same answer as a wrong PIN
            return end(step.say(texts.NOT_CONFIRMED))
        if not isinstance(confirmed, Confirmed):
            return end(step.say(texts.NOT_CONFIRMED))
        step.row.sub = confirmed.sub
        step.row.confirmation = confirmed.context.confirmation
        action = step.data["action"]
        if action == "revoke":
            return await self._consents(step, confirmed)
        if action == "access_log":
            return await self._access_log(step, confirmed)
        return self._to(step, "topic" if action == "complaint" else "field")

    async def _consents(self, step: Step, person: Confirmed) -> Screen:
        acted = await self.channel.consents(person)
        if not acted.ok:
            return self._refused(step, acted)
        granted = [c for c in acted.json()["items"] if c["status"] == "granted"][:MAX_CONSENTS]
        if not granted:
            return end(step.say(texts.NO_CONSENTS))
        step.data["consents"] = [{"id": c["id"], "purpose": c["purpose"], "requester": c["requester"]} for c in granted]
        return self._to(step, "pick")

    def _consent_menu(self, step: Step) -> str:
        lines = [f"{n} {c['purpose'][:24]} {c['requester'][:16]}" for n, c in enumerate(step.data["consents"], 1)]
        return lines_within(step.say(texts.CONSENTS), lines)

    async def _access_log(self, step: Step, person: Confirmed, before: int | None = None) -> Screen:
        """Newest first, as many entries as a screen holds; `9 More` pages on to older ones (the session keeps the
        log index of the last entry shown, so entries recorded meanwhile, this reading among them, neither repeat
        nor push anything off; each page is read afresh and its reading recorded). The last page says how many
        entries a court order keeps back for now (SG-ACCESS-2)."""
        view = await self.channel.access_log(person, ACTION)
        older = [e for e in view.entries if before is None or e.index < before]
        lines = []
        for entry in older:
            record = entry.record
            service = str(record["action"]).split(" ", 1)[-1].split("/")[1]
            lines.append(f"{str(record['time'])[5:10]} {str(record['actor'])[:16]} {service}")
        if not lines and before is None:
            if view.withheld:
                return end(step.say(texts.WITHHELD, count=str(view.withheld)))
            return end(step.say(texts.NO_ACCESS))
        tail = [step.say(texts.WITHHELD, count=str(view.withheld))] if view.withheld else []
        whole = lines_within(step.say(texts.ACCESS_LOG), lines + tail)
        if whole.count("\n") == len(lines + tail):
            return end(whole)
        more = step.say(texts.MORE)
        page = lines_within(step.say(texts.ACCESS_LOG), lines, room=texts.MAX_CHARACTERS - 4 - len(more) - 1)
        shown = page.count("\n")
        if shown == 0:  # a line too long for a screen of its own: never loop on an empty page
            return end(whole)
        step.data["log_before"] = older[shown - 1].index
        step.data["log_page"] = f"{page}\n{more}"
        return self._to(step, "log")

    async def _more(self, step: Step, index: int, value: str) -> Screen:
        if value != MORE:
            return end(step.say(texts.NOTHING_CHANGED))
        return await self._access_log(step, self._person(step), before=int(step.data["log_before"]))

    async def _complain(self, step: Step, index: int, description: str) -> Screen:
        if not description:
            return end(step.say(texts.INVALID))
        grievance = GrievanceCreate(category=GrievanceCategory(step.data["topic"]), description=description)
        try:
            ticket = await self.channel.file_grievance(self._person(step), grievance, ACTION)
        except ProblemError as problem:
            return end(step.say(texts.REFUSED, reason=problem.code, grievance=_grievance_contact()))
        return end(step.say(texts.FILED, ticket=ticket.id, date=ticket.sla.resolve_by.date().isoformat()))

    def _refused(self, step: Step, acted: Acted) -> Screen:
        problem = acted.json() if acted.content else {}
        reason = str(problem.get("rule_id") or problem.get("code") or acted.status)
        return end(step.say(texts.REFUSED, reason=reason, grievance=_grievance_contact()))


def _grievance_contact() -> str:
    return DEFAULT_GRIEVANCE.get("phone") or DEFAULT_GRIEVANCE["href"]
