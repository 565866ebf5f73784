"""`dpi-sandbox`: run, migrate and demonstrate the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from dpi_sandbox.registry import ALL, entry

app = typer.Typer(help="The DPI reference sandbox: identity, payments, consent and data exchange behind a gateway.",
                  no_args_is_help=True)  # fmt: skip
db_app = typer.Typer(help="Database migrations (one Alembic history per service).", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="Signing keys (one ES256 key per app, under the var dir's keys/).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
playbook_app = typer.Typer(
    help="Playbook scenarios: list them, run one narrated, get its report.", no_args_is_help=True
)
app.add_typer(playbook_app, name="playbook")
# The exchange engineer's commands (dpi_sandbox/exchange_cli.py).
from dpi_sandbox.exchange_cli import exchange_app, seed  # noqa: E402

app.add_typer(exchange_app, name="exchange")
app.command("seed")(seed)
console = Console()

# Callers (gateway.auth): `clients add|list|approve|suspend` and `token --client NAME`.
from dpi_sandbox.clients_cli import clients_app, token  # noqa: E402

app.add_typer(clients_app, name="clients")
app.command("token")(token)

VarDir = Annotated[Path, typer.Option("--var-dir", help="Where SQLite files, keys and reports live.")]
Host = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
Port = Annotated[int, typer.Option("--port", help="The gateway's port.")]


@app.command()
def up(
    host: Host = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="The gateway's port; with --processes the services take the next four.")
    ] = 8000,
    processes: Annotated[bool, typer.Option("--processes", help="Five uvicorn processes instead of one.")] = False,
    var_dir: VarDir = Path("var"),
) -> None:
    """Start the sandbox: embedded (one process) by default, or one process per service with --processes."""
    from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all

    asyncio.run(upgrade_all(all_settings(var_dir)))
    if processes:
        from dpi_sandbox.processes import Supervisor

        console.print(f"Starting five processes on {host}:{port}-{port + 4} (Ctrl-C stops them all)")
        raise typer.Exit(Supervisor(var_dir=var_dir, host=host, port_base=port, log=console.print).serve_forever())
    console.print(f"Embedded sandbox at http://{host}:{port} (OpenAPI at /docs). Ctrl-C stops it.")
    uvicorn.run(build_embedded(var_dir=var_dir), host=host, port=port, log_level="warning")


@app.command()
def demo(
    once: Annotated[bool, typer.Option("--once", help="Exit after the report instead of serving.")] = False,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    var_dir: VarDir = Path("var"),
) -> None:
    """Serve the embedded sandbox, narrate the demo scenario, write its report, keep serving until Ctrl-C."""
    from dpi_sandbox.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(host=host, port=port, once=once, var_dir=var_dir, console=console)))


@keys_app.command("rotate")
def keys_rotate(
    app_name: Annotated[str, typer.Argument(metavar="APP", help=f"One of {', '.join(e.name for e in ALL)}.")],
    publish_days: Annotated[
        int | None,
        typer.Option(
            "--publish-days",
            min=0,
            help="How long the old public key stays published and trusted. Default: identity, its offline "
            "credentials' lifetime plus a day (what the old key signed must keep verifying); the others, one day. "
            "0 withdraws it at once (a compromised key).",
        ),
    ] = None,
    var_dir: VarDir = Path("var"),
) -> None:
    """Replace an app's signing key; restart the sandbox for it to sign with the new one."""
    from datetime import timedelta

    from dpi_sandbox.embedded import all_settings
    from services.common.keys import rotate_signing_key

    try:
        settings = all_settings(var_dir)[entry(app_name).name]
    except KeyError as error:
        console.print(str(error.args[0]))
        raise typer.Exit(2) from None
    if publish_days is None:
        validity = getattr(settings, "offline_credential_validity_days", None)
        publish_days = validity + 1 if isinstance(validity, int) else 1
    key = rotate_signing_key(settings.resolved_keys_dir, app_name, publish_for=timedelta(days=publish_days))
    console.print(
        f"{app_name}: new key {key.kid}; {len(key.retired)} retired key(s) still published. Restart to sign with it."
    )


@db_app.command("upgrade")
def db_upgrade(var_dir: VarDir = Path("var")) -> None:
    """Apply every service's migrations to its own database (SQLite files or PostgreSQL from DPI_*_DATABASE_URL)."""
    from dpi_sandbox.embedded import all_settings, upgrade_all

    asyncio.run(upgrade_all(all_settings(var_dir)))
    console.print("Every service's database is at its latest migration.")


@db_app.command("revision")
def db_revision(
    service: Annotated[str, typer.Argument(help=f"One of {', '.join(e.name for e in ALL)}.")],
    message: Annotated[str, typer.Option("-m", "--message")],
    var_dir: VarDir = Path("var/migration-scratch"),
) -> None:
    """Maintainers: autogenerate a migration for one service from its models (against a scratch SQLite database)."""
    from alembic import command

    from dpi_sandbox.embedded import all_settings
    from services.common.migrations import alembic_config, upgrade_service_database

    # Always the scratch SQLite file: autogenerate must compare against a database built only by the migrations.
    scratch = var_dir / f"{service}.db"
    target = all_settings(var_dir, {service: {"database_url": f"sqlite+aiosqlite:///{scratch}"}})[service]
    asyncio.run(upgrade_service_database(target, entry(service).migrations_dir))
    config = alembic_config(entry(service).migrations_dir, target.resolved_database_url, target.resolved_schema)
    command.revision(config, message=message, autogenerate=True)


# ---- payments: offline verification of signed payment records (SG-AUDIT-2) ----
payments_app = typer.Typer(help="Payments: verify signed transaction records offline.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")


@payments_app.command("verify")
def payments_verify(
    records: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A file from GET /v1/payments/{id}/records.")
    ],
    jwks: Annotated[
        Path | None, typer.Option("--jwks", help="The payments JWKS (default: var/keys/payments.jwks.json).")
    ] = None,
    var_dir: VarDir = Path("var"),
) -> None:
    """Check every step's JWS with only the published keys, and that each record is exactly what was signed."""
    import json

    from services.payments.records.verify import verify_records

    keys = json.loads((jwks or var_dir / "keys" / "payments.jwks.json").read_text())
    checks = verify_records(json.loads(records.read_text()), keys)
    for check in checks:
        console.print(f"{'ok  ' if check.ok else 'FAIL'} {check.step:<12} {check.record_id}  {check.reason}",
                      markup=False, highlight=False)  # fmt: skip
    ok = bool(checks) and all(check.ok for check in checks)
    console.print(f"{sum(c.ok for c in checks)} of {len(checks)} steps verified", markup=False, highlight=False)
    raise typer.Exit(0 if ok else 1)


# ---- audit (gateway/audit): offline verification and the oversight witness ----
identity_app = typer.Typer(help="Identity service maintenance.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")


@identity_app.command("reindex-names")
def identity_reindex_names(var_dir: VarDir = Path("var")) -> None:
    """Recompute every person's name blind index after the name matching rules change (idempotent)."""
    from dpi_sandbox.embedded import all_settings
    from services.common.app import open_resources
    from services.identity.app import create_app as create_identity
    from services.identity.persons.service import person as person_service

    async def run() -> int:
        identity = create_identity(all_settings(var_dir)["identity"])  # type: ignore[arg-type]
        async with open_resources(identity) as state, state.sessionmaker() as session, session.begin():
            return await person_service.reindex_names(session, rt=identity.state.identity)

    console.print(f"identity: {asyncio.run(run())} name index(es) recomputed.")


audit_app = typer.Typer(help="The audit log: verify an export offline, run a witness.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    export: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A file from GET /audit/export.")],
    key: Annotated[
        str | None, typer.Option("--key", help="The log's verifier key, or its .vkey file (default: var/keys).")
    ] = None,
    witness_key: Annotated[
        list[str] | None, typer.Option("--witness-key", help="A witness's verifier key or .vkey file (repeatable).")
    ] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also check every entry is canonical RFC 8785 JSON.")] = False,
    var_dir: VarDir = Path("var"),
) -> None:
    """Check an audit export with only the published keys: every hash, proof, checkpoint and cosignature."""
    from gateway.audit.export import read_key, verify_export

    log_key = read_key(key or str(var_dir / "keys" / "audit-log.vkey"))
    default_witness = var_dir / "keys" / "audit-witness.vkey"
    witnesses = [read_key(k) for k in witness_key or ([str(default_witness)] if default_witness.exists() else [])]
    with export.open("rb") as lines:
        report = verify_export(lines, log_key, witnesses, deep=deep)
    console.print(report.summary(), markup=False, highlight=False)
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("witness")
def audit_witness(  # noqa: PLR0917 (typer options)
    gateway: Annotated[str, typer.Option("--gateway", help="The gateway's base URL.")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option("--token", envvar="DPI_WITNESS_TOKEN", help="An oversight token.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="This witness's key name.")] = "oversight-witness",
    log_key: Annotated[str | None, typer.Option("--log-key", help="The log's verifier key or .vkey file.")] = None,
    origin: Annotated[str, typer.Option("--origin", help="The log's origin.")] = "dpi-sandbox.example/audit-log",
    var_dir: VarDir = Path("var"),
) -> None:
    """Check the gateway's latest checkpoint against the last one this witness co-signed; co-sign it or refuse it."""
    import time

    import httpx

    from gateway.audit.export import read_key
    from gateway.audit.note import ALG_COSIGNATURE_V1, load_or_create_note_signer
    from gateway.audit.witness import Witness, witness_once

    signer = load_or_create_note_signer(var_dir / "keys", f"witness-{name}", name, alg=ALG_COSIGNATURE_V1)
    witness = Witness(signer, read_key(log_key or str(var_dir / "keys" / "audit-log.vkey")), origin)
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def run() -> int:
        async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=10) as client:
            verdict = await witness_once(
                client, witness, var_dir / "witness" / f"{name}.json", timestamp=int(time.time())
            )
        if verdict.refusal:
            console.print(f"REFUSED: {verdict.refusal}", markup=False)
            return 1
        size = verdict.checkpoint.size if verdict.checkpoint else "?"
        console.print(
            f"{'stale checkpoint of size' if verdict.stale else 'co-signed size'} {size} as {signer.verifier}"
        )
        return 0

    raise typer.Exit(asyncio.run(run()))


@playbook_app.command("list")
def playbook_list() -> None:
    """The scenarios, with their plays and the safeguard rules each demonstrates."""
    from playbook.loader import ScenarioError, load_all

    try:
        scenarios = load_all()
    except ScenarioError as error:
        console.print(str(error), style="red", markup=False, soft_wrap=True)  # file:line kept on one line
        raise typer.Exit(2) from None
    for name, scenario in scenarios.items():
        plays = ", ".join(map(str, scenario.plays))
        console.print(
            f"[bold]{name}[/]  {scenario.title}  [dim](plays {plays}; {', '.join(scenario.rules) or 'no rules'})[/]"
        )


@playbook_app.command("run")
def playbook_run(
    name: Annotated[str, typer.Argument(help="The scenario (see `dpi-sandbox playbook list`).")],
    url: Annotated[
        str | None, typer.Option("--url", help="A running sandbox (multi-process or distributed) instead of embedded.")
    ] = None,
    workshop: Annotated[bool, typer.Option("--workshop", help="Pause between steps (on a terminal).")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Narration language: ar, en, es, fr, ru or zh.")] = "en",
    var_dir: VarDir = Path("var"),
) -> None:
    """Run one scenario, narrated; write its report (Markdown, HTML, JSON) under VAR/reports/; exit 1 on a failed
    expectation (the report and the terminal say which)."""
    from playbook.loader import ScenarioError
    from playbook.sandbox import embedded_sandbox, remote, run_scenario

    if lang not in ("ar", "en", "es", "fr", "ru", "zh"):
        console.print(f"[red]--lang must be one of ar, en, es, fr, ru, zh, not {lang!r}[/]")
        raise typer.Exit(2)

    async def go() -> int:
        if url:
            async with remote(url) as client:
                result, paths = await run_scenario(
                    name, client, console=console, reports_dir=var_dir / "reports", var_dir=var_dir,
                    mode="remote", language=lang, workshop=workshop,  # type: ignore[arg-type]
                )  # fmt: skip
        else:
            async with embedded_sandbox(var_dir) as sandbox:
                result, paths = await run_scenario(
                    name, sandbox.client, console=console, reports_dir=var_dir / "reports", var_dir=var_dir,
                    mode="embedded", language=lang, workshop=workshop,  # type: ignore[arg-type]
                    control=sandbox.control, now=sandbox.clock.timestamp,
                )  # fmt: skip
        console.print(f"Report: {paths['md']} and {paths['html']}")
        return 0 if result.ok else 1

    try:
        raise typer.Exit(asyncio.run(go()))
    except (ScenarioError, KeyError) as error:
        console.print(str(error), style="red", markup=False, soft_wrap=True)  # file:line kept on one line
        raise typer.Exit(2) from None


if __name__ == "__main__":
    app()
