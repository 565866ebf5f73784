"""The report of a run, in Markdown (with a Mermaid sequence diagram) and in HTML that opens offline (the sequence
diagram drawn here as inline SVG, no script and no CDN), plus the run as JSON."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playbook.runner import RunResult, StepResult
from services.common.rules import load_catalogue

GATEWAY = "Gateway"


@dataclass(frozen=True)
class Message:
    source: str
    target: str
    text: str
    reply: bool = False


@dataclass
class Section:
    """An extra part of the report (the citizen's access log, the audit checkpoint that anchors the run, ...)."""

    title: str
    markdown: str
    data: Any = None


@dataclass
class Report:
    run: RunResult
    sections: list[Section] = field(default_factory=list)

    def participants(self) -> list[str]:
        names = list(dict.fromkeys(step.actor for step in self.run.steps))
        services = [s.service for s in self.run.steps if s.service]
        return [*names, GATEWAY, *dict.fromkeys(s.capitalize() for s in services if s)]

    def messages(self) -> list[Message]:
        messages: list[Message] = []
        for step in self.run.steps:
            if step.action:
                messages.append(Message(step.actor, step.actor, f"sandbox: {step.action}"))
                continue
            if not step.request:
                continue
            messages.append(Message(step.actor, GATEWAY, step.request))
            answer = f"{step.status}" + (f" {step.rule_id}" if step.rule_id else "")
            if step.service and not step.rule_id and step.status not in (None, 401):
                service = step.service.capitalize()
                messages.append(Message(GATEWAY, service, "forwards"))
                messages.append(Message(service, GATEWAY, str(step.status), reply=True))
            messages.append(Message(GATEWAY, step.actor, answer, reply=True))
        return messages

    def markdown(self) -> str:
        run = self.run
        scenario = run.scenario
        catalogue = load_catalogue()
        outcome = (
            "every step behaved as expected"
            if run.ok
            else f"FAILED at step {run.failed.step.id if run.failed else '?'}"
        )
        lines = [
            f"# {scenario.title}",
            "",
            scenario.summary,
            "",
            f"- Scenario: `{scenario.name}` (Playbook plays {', '.join(map(str, scenario.plays))})",
            f"- Run: {run.started_at.isoformat(timespec='seconds')} against {run.base_url} ({run.mode} mode)",
            f"- Outcome: {outcome}",
            "- All data in this sandbox is synthetic.",
            "",
            "## Steps",
            "",
            "| # | Play | Who | What | Expected | Got | Decision | Result |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for number, step in enumerate(run.steps, start=1):
            lines.append(_row(number, step))
        lines += ["", "## Sequence", "", "```mermaid", "sequenceDiagram"]
        aliases = {name: f"P{i}" for i, name in enumerate(self.participants())}
        lines += [f"    participant {alias} as {name}" for name, alias in aliases.items()]
        for message in self.messages():
            arrow = "-->>" if message.reply else "->>"
            lines.append(f"    {aliases[message.source]}{arrow}{aliases[message.target]}: {_mermaid(message.text)}")
        lines += ["```", "", "## Safeguard rules demonstrated", ""]
        lines += ["| Rule | Title | Framework references | Steps |", "|---|---|---|---|"]
        for rule_id in scenario.rules:
            rule = catalogue.rule(rule_id)
            steps = ", ".join(s.id for s in scenario.steps if rule_id in s.rules)
            lines.append(f"| `{rule_id}` | {rule.title} | {'; '.join(rule.framework_refs)} | {steps} |")
        lines.append("")
        for section in self.sections:
            lines += [f"## {section.title}", "", section.markdown, ""]
        failed = [s for s in run.steps if not s.ok]
        if failed:
            lines += ["## What went wrong", ""] + [f"- `{s.step.id}`: {s.reason}" for s in failed] + [""]
        return "\n".join(lines)

    def html(self) -> str:
        run = self.run
        scenario = run.scenario
        catalogue = load_catalogue()
        rows = "".join(
            f"<tr class={'ok' if s.ok else 'bad'}><td>{i}</td><td>{s.step.play}</td><td>{_e(s.actor)}</td>"
            f"<td>{_e(s.step.say.get(run.language) or s.step.say['en'])}<br>"
            f"<code>{_e(s.action or s.request)}</code></td>"
            f"<td>{_e(_expected(s))}</td><td>{_e(str(s.status or ''))}</td>"
            f"<td>{_e(s.rule_id or '')} {_e(s.detail or '')}</td><td>{'ok' if s.ok else _e(s.reason)}</td></tr>"
            for i, s in enumerate(run.steps, start=1)
        )
        rules = "".join(
            f"<tr><td><code>{r}</code></td><td>{_e(catalogue.rule(r).title)}</td>"
            f"<td>{_e('; '.join(catalogue.rule(r).framework_refs))}</td></tr>"
            for r in scenario.rules
        )
        extra = "".join(f"<h2>{_e(s.title)}</h2><pre>{_e(s.markdown)}</pre>" for s in self.sections)
        verdict = "Every step behaved as expected." if run.ok else "The run FAILED; see the red rows."
        return f"""<!doctype html>
<html lang="{run.language}"><head><meta charset="utf-8"><title>{_e(scenario.title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1b1b1b}}
table{{border-collapse:collapse;width:100%;margin:1rem 0}}
td,th{{border:1px solid #ccc;padding:.35rem;vertical-align:top}}
tr.ok td:last-child{{color:#116611}} tr.bad td{{background:#fde8e8}} code{{font-size:.9em}}
svg text{{font-family:system-ui,sans-serif;font-size:12px}}
</style></head><body>
<h1>{_e(scenario.title)}</h1><p>{_e(scenario.summary)}</p>
<p>Scenario <code>{scenario.name}</code>, Playbook plays {", ".join(map(str, scenario.plays))}. Run
{run.started_at.isoformat(timespec="seconds")} against {_e(run.base_url)} ({run.mode} mode). <strong>{verdict}</strong>
All data in this sandbox is synthetic.</p>
<h2>Steps</h2><table><tr><th>#</th><th>Play</th><th>Who</th><th>What</th><th>Expected</th><th>Got</th>
<th>Decision</th><th>Result</th></tr>{rows}</table>
<h2>Sequence</h2>{self.svg()}
<h2>Safeguard rules demonstrated</h2>
<table><tr><th>Rule</th><th>Title</th><th>Framework references</th></tr>{rules}</table>
{extra}
</body></html>
"""

    def svg(self) -> str:
        """The sequence diagram as SVG: one lifeline per participant, one arrow per message."""
        participants = self.participants()
        messages = self.messages()
        column, row, top = 190, 28, 50
        width = column * len(participants) + 20
        height = top + row * (len(messages) + 1) + 20
        x = {name: 20 + column * i + column // 2 for i, name in enumerate(participants)}
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
        parts.append(
            '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>'
        )
        for name, cx in x.items():
            parts.append(f'<rect x="{cx - 85}" y="10" width="170" height="26" rx="4" fill="#eef" stroke="#336"/>')
            parts.append(f'<text x="{cx}" y="28" text-anchor="middle">{_e(name[:26])}</text>')
            parts.append(f'<line x1="{cx}" y1="36" x2="{cx}" y2="{height - 10}" stroke="#999" stroke-dasharray="4"/>')
        for i, message in enumerate(messages):
            y = top + row * (i + 1)
            x1, x2 = x[message.source], x[message.target]
            dash = ' stroke-dasharray="5,3"' if message.reply else ""
            if x1 == x2:
                parts.append(
                    f'<path d="M{x1},{y - 8} h30 v10 h-30" fill="none" stroke="#333" marker-end="url(#arrow)"/>'
                )
                parts.append(f'<text x="{x1 + 36}" y="{y}">{_e(message.text[:60])}</text>')
                continue
            parts.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#333"{dash} marker-end="url(#arrow)"/>')
            parts.append(f'<text x="{(x1 + x2) // 2}" y="{y - 5}" text-anchor="middle">{_e(message.text[:60])}</text>')
        parts.append("</svg>")
        return "".join(parts)

    def data(self) -> dict[str, Any]:
        run = self.run
        return {
            "scenario": run.scenario.name,
            "ok": run.ok,
            "mode": run.mode,
            "base_url": run.base_url,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "rules": run.scenario.rules,
            "steps": [
                {
                    "id": s.step.id,
                    "play": s.step.play,
                    "actor": s.actor,
                    "request": s.request or None,
                    "action": s.action,
                    "status": s.status,
                    "rule_id": s.rule_id,
                    "audit_event_id": s.audit_event_id,
                    "ok": s.ok,
                    "reason": s.reason or None,
                    "milliseconds": round(s.milliseconds, 2),
                }
                for s in run.steps
            ],
            "sections": {s.title: s.data for s in self.sections if s.data is not None},
        }

    def write(self, directory: Path) -> dict[str, Path]:
        """Writes NAME.md, NAME.html and NAME.json; returns their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        name = self.run.scenario.name
        paths = {kind: directory / f"{name}.{kind}" for kind in ("md", "html", "json")}
        paths["md"].write_text(self.markdown(), "utf-8")
        paths["html"].write_text(self.html(), "utf-8")
        paths["json"].write_text(json.dumps(self.data(), indent=2, ensure_ascii=False) + "\n", "utf-8")
        return paths


ACCESS_LOG = "/me/access-log"


def access_log_section(run: RunResult) -> Section | None:
    """The person's access log as they last read it in the run: each entry with the length of its inclusion proof
    and the checkpoint it is proved against."""
    seen = [s for s in run.steps if s.ok and s.request.endswith(" " + ACCESS_LOG) and isinstance(s.body, dict)]
    if not seen:
        return None
    view = seen[-1].body
    lines = [
        f"As {seen[-1].actor} saw it (step `{seen[-1].step.id}`): {len(view.get('entries', []))} entries shown, "
        f"{view.get('withheld', 0)} withheld by a court order until their date (SG-ACCESS-2). Every entry is proved "
        f"against the signed checkpoint of size {view.get('checkpoint', {}).get('size')}.",
        "",
        "| Index | When | Who | What | Decision | Rules | Purpose | Fields | Proof |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in view.get("entries", []):
        record = entry.get("record", {})
        cells = [
            str(entry.get("index")), str(record.get("time", "")), str(record.get("actor", "")),
            str(record.get("action", "")), str(record.get("decision", "")),
            ", ".join(map(str, record.get("rule_ids", []))), str(record.get("purpose") or ""),
            ", ".join(map(str, record.get("fields_returned", []))),
            f"{len(entry.get('inclusion_proof', []))} hashes to size {entry.get('tree_size')}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return Section("The person's access log, with its inclusion proofs", "\n".join(lines), data=view)


def checkpoint_section(checkpoint: dict[str, Any]) -> Section:
    """The log's signed checkpoint after the run: whoever keeps it can check every decision of the run later."""
    text = (
        f"After the run the audit log holds {checkpoint.get('size')} entries; its root hash is "
        f"`{checkpoint.get('root_hash')}`, signed by `{checkpoint.get('log_key', '').split('+')[0]}`. Keep this "
        "checkpoint: every decision of this run is in the tree it signs, and no later history can contradict it "
        "unnoticed (SG-AUDIT-1).\n\n```\n" + str(checkpoint.get("note", "")).strip() + "\n```"
    )
    return Section("The audit checkpoint that anchors this run", text, data=checkpoint)


def _expected(step: StepResult) -> str:
    expect = step.step.expect
    if expect is None:
        return ""
    statuses = " or ".join(map(str, expect.statuses()))
    return f"{statuses} {expect.rule_id}" if expect.rule_id else statuses


def _row(number: int, step: StepResult) -> str:
    what = f"`{step.action or step.request}`"
    decision = f"`{step.rule_id}` {step.detail or ''}".strip() if step.rule_id else ""
    result = "ok" if step.ok else f"FAILED: {step.reason}"
    cells = [
        str(number),
        str(step.step.play),
        step.actor,
        what,
        _expected(step),
        str(step.status or ""),
        decision,
        result,
    ]
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _mermaid(text: str) -> str:
    return text.replace(";", ",").replace("#", "").replace("\n", " ")


def _e(text: str | None) -> str:
    return html.escape(text or "")
