"""`dpi-sandbox exchange ...` and `dpi-sandbox seed`: the exchange's offline log verifier and the synthetic
population loader (composition-root code: it may call each service's own loader)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

exchange_app = typer.Typer(help="The data exchange: verify its message log offline.", no_args_is_help=True)
console = Console()


@exchange_app.command("verify-log")
def verify_log(
    file: Annotated[
        Path | None, typer.Option("--file", help="An export from GET /v1/message-log/export; default: the database.")
    ] = None,
    var_dir: Annotated[Path, typer.Option("--var-dir", help="Where the database and keys live.")] = Path("var"),
) -> None:
    """Check every entry's signature, hash and link and each chain's signed head; name what was altered, deleted or
    swapped. Exit status 1 if anything was."""
    from services.exchange.config import ExchangeSettings
    from services.exchange.messagelog.offline import load_export, published_keys, verify_database
    from services.exchange.messagelog.verify import verify_log as verify

    if file is not None:
        report = verify(*load_export(file))
    else:
        settings = ExchangeSettings(var_dir=var_dir)
        report = asyncio.run(verify_database(settings, published_keys(settings)))
    for finding in report.findings:
        console.print(f"[red]{finding}[/]")
    if not report.ok:
        console.print(f"Message log NOT intact: {len(report.findings)} finding(s) in {report.entries} entries.")
        raise typer.Exit(1)
    console.print(f"Message log intact: {report.entries} entries, signatures, hashes, chains and heads verified.")


def seed(
    people: Annotated[
        int, typer.Option("--people", min=100, max=1_000_000, help="How many people (100 to 1,000,000).")
    ],
    seed_value: Annotated[int, typer.Option("--seed", help="The same seed gives the same people.")] = 2026,
    var_dir: Annotated[Path, typer.Option("--var-dir", help="Where SQLite files and keys live.")] = Path("var"),
) -> None:
    """Load a deterministic synthetic population into identity and the exchange's civil and social registries:
    the same people, households and (for the payments loader) accounts everywhere. Resumable: run it again after an
    interruption with the same arguments. Into the SQLite files under --var-dir, unless DPI_IDENTITY_DATABASE_URL and
    DPI_EXCHANGE_DATABASE_URL name other databases (PostgreSQL: written with COPY)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dpi_sandbox.seed import destinations, seed_population
    from services.exchange.population.loader import PopulationMismatch

    where = destinations(var_dir)
    # Said first: each service reads its own database URL (DPI_IDENTITY_DATABASE_URL, DPI_EXCHANGE_DATABASE_URL),
    # and without them the load goes to the SQLite files under --var-dir.
    console.print(
        f"Seeding identity into {where['identity']} and the registries into {where['exchange']}.", markup=False
    )
    with Progress(
        TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("people", total=people)
        try:
            report = asyncio.run(
                seed_population(
                    people=people, seed=seed_value, var_dir=var_dir, progress=lambda n: bar.advance(task, n)
                )
            )
        except PopulationMismatch as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(2) from None
    if report.already_complete:
        console.print(f"Seed {seed_value}: {people:,} people were already loaded; nothing to do.")
        return
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.seconds.items() if name != "total")
    resumed = f" (resumed after {report.resumed_from:,})" if report.resumed_from else ""
    console.print(
        f"Seeded {people:,} people in {report.households:,} households{resumed}: {report.enrolled:,} enrolled in "
        f"identity, all in the civil and social registries, in {report.seconds['total']:.1f} s ({parts})."
    )
