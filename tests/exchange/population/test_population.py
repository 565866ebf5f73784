"""The synthetic population: deterministic, in several scripts, with a real population's edge cases, the same people
in identity and the registries, loaded resumably, and the same on SQLite and PostgreSQL (a digest)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import unicodedata
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from dpi_sandbox.cli import app as cli
from dpi_sandbox.seed import seed_population
from services.common.db import create_engine
from services.exchange.population.generator import households, people
from services.exchange.population.loader import TABLES


def test_the_same_seed_gives_the_same_people_and_a_resumed_run_the_same_tail():
    first = list(households(11, 3000))
    assert first == list(households(11, 3000))
    assert list(households(11, 3000, start_household=40)) == first[40:]
    assert [p.sub for p in people(12, 50)] != [p.sub for p in people(11, 50)]
    assert sum(len(h.members) for h in first) == 3000
    assert len({p.sub for h in first for p in h.members}) == 3000


def test_names_in_several_scripts_and_a_real_populations_edge_cases():
    population = list(people(5, 20_000))
    scripts = {unicodedata.name(p.given_name[0]).split()[0] for p in population}
    assert {"LATIN", "ARABIC", "CYRILLIC", "DEVANAGARI", "CJK", "ETHIOPIC"} <= scripts
    share = Counter[str]()
    for p in population:
        share["no foundational id"] += not p.has_foundational_id
        share[p.residency_status] += 1
        share["no phone"] += p.phone is None
        share["shared phone"] += p.phone_shared
        share["duplicate to adjudicate"] += p.duplicate_given_name is not None
        share["unbanked adult"] += p.account is None and (2026 - p.date_of_birth.year) > 18
        share["deceased"] += p.deceased_on is not None
        share["no nationality"] += p.nationality is None
    percent = {k: 100 * v / len(population) for k, v in share.items()}
    assert 5 < percent["no foundational id"] < 15
    assert 2 < percent["refugee"] < 7 and 0.5 < percent["stateless"] < 3
    assert percent["no nationality"] == percent["stateless"], "stateless people, and only they, have no nationality"
    assert 10 < percent["no phone"] < 60 and 3 < percent["shared phone"] < 20
    assert 0.1 < percent["duplicate to adjudicate"] < 1 and percent["unbanked adult"] > 5
    keys = Counter((p.given_name.casefold(), p.family_name.casefold(), p.date_of_birth) for p in population)
    assert max(keys.values()) == 1, "no two people share a name and a date of birth (identity would hold one)"


def overrides_for(database_url: str, tmp_path: Path, tag: str) -> dict[str, dict[str, Any]]:
    if database_url == "sqlite":
        return {
            name: {"database_url": f"sqlite+aiosqlite:///{tmp_path / f'{tag}-{name}.db'}"}
            for name in ("identity", "exchange")
        }
    suffix = uuid.uuid4().hex[:12]
    return {
        name: {"database_url": database_url, "database_schema": f"t_{suffix}_{tag}_{name}"}
        for name in ("identity", "exchange")
    }


async def digest(settings: dict[str, Any]) -> str:
    """A digest of every registry row and every identity person's sub and keyed name + date-of-birth index."""
    from services.identity.persons.models import Person

    hasher = hashlib.sha256()
    for name, tables in (("exchange", TABLES), ("identity", (Person.__table__,))):
        engine = create_engine(settings[name]["database_url"], schema=settings[name].get("database_schema"))
        async with engine.connect() as conn:
            for table in tables:
                columns = [
                    c
                    for c in table.columns
                    if c.name not in ("registered_at", "updated_at", "created_at", "uin_issued_at", "uin_index")
                ]
                rows = (await conn.execute(select(*columns).order_by(*table.primary_key.columns))).all()
                hasher.update(json.dumps([table.name, [list(map(str, r)) for r in rows]]).encode())
        await engine.dispose()
    return hasher.hexdigest()


async def drop_schemas(settings: dict[str, Any]) -> None:
    for values in settings.values():
        if values.get("database_schema"):
            engine = create_engine(values["database_url"])
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{values["database_schema"]}" CASCADE'))
            await engine.dispose()


async def test_the_same_seed_gives_the_same_people_on_sqlite_and_postgresql(database_url, tmp_path):
    """On the PostgreSQL run the digest is compared with a SQLite load; on the SQLite run, with a second one."""
    reference = overrides_for("sqlite", tmp_path, "ref")
    other = overrides_for(database_url, tmp_path, "other")
    try:
        for settings in (reference, other):
            report = await seed_population(
                people=400, seed=9, var_dir=tmp_path, batch_households=40, overrides=settings
            )
            assert report.households > 0 and report.enrolled > 300
        assert await digest(reference) == await digest(other)
    finally:
        await drop_schemas(other)


async def test_identity_and_the_registries_know_the_same_people(tmp_path):
    from services.common.app import open_resources
    from services.identity.app import create_app
    from services.identity.config import IdentitySettings
    from services.identity.persons.models import Person
    from services.identity.persons.service import PersonService

    settings = overrides_for("sqlite", tmp_path, "same")
    await seed_population(people=300, seed=4, var_dir=tmp_path, overrides=settings)
    population = {p.sub: p for p in people(4, 300)}
    identity = create_app(IdentitySettings(_env_file=None, var_dir=tmp_path, **settings["identity"]))  # type: ignore[call-arg]
    async with open_resources(identity) as state, state.sessionmaker() as session:
        enrolled = {p.sub: p for p in await session.scalars(select(Person))}
    assert set(enrolled) == {sub for sub, p in population.items() if p.has_foundational_id}
    for sub, person in enrolled.items():
        values = {
            "given_name": population[sub].given_name,
            "family_name": population[sub].family_name,
            "full_name": None,
            "date_of_birth": population[sub].date_of_birth.isoformat(),
        }
        assert person.name_dob_index == PersonService.name_dob_index(values, identity.state.identity)
    engine = create_engine(settings["exchange"]["database_url"])
    async with engine.connect() as conn:
        civil = set((await conn.scalars(text("SELECT sub FROM civil_persons"))).all())
        members = set((await conn.scalars(text("SELECT sub FROM social_household_members"))).all())
    await engine.dispose()
    assert civil == members == set(population), "everyone is in the civil and the social registry"


async def test_an_interrupted_load_resumes_without_writing_anyone_twice(tmp_path):
    settings = overrides_for("sqlite", tmp_path, "resume")
    calls = 0

    def stop_after_two_batches(_: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # the first call reports where it starts; then one per batch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await seed_population(
            people=500,
            seed=3,
            var_dir=tmp_path,
            batch_households=20,
            overrides=settings,
            progress=stop_after_two_batches,
        )
    report = await seed_population(people=500, seed=3, var_dir=tmp_path, batch_households=20, overrides=settings)
    assert report.resumed_from > 0
    engine = create_engine(settings["exchange"]["database_url"])
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM civil_persons")) == 500
        assert await conn.scalar(text("SELECT status FROM population_loads")) == "complete"
    await engine.dispose()
    again = await seed_population(people=500, seed=3, var_dir=tmp_path, overrides=settings)
    assert again.already_complete


async def test_the_command_shows_its_progress_and_prints_its_time(tmp_path, monkeypatch):
    for name, values in overrides_for("sqlite", tmp_path, "cli").items():
        monkeypatch.setenv(f"DPI_{name.upper()}_DATABASE_URL", values["database_url"])
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["seed", "--people", "100", "--var-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Seeded 100 people" in result.output and " s (generate" in result.output
    identity_file, exchange_file = (tmp_path / f"cli-{name}.db" for name in ("identity", "exchange"))
    said = [
        f"Seeding identity into the SQLite file {identity_file}",
        f"and the registries into the SQLite file {exchange_file}.",
        "Seeded 100 people",
    ]
    squeezed = "".join(result.output.split())  # rich wraps long lines, at a path's hyphens too
    at = [squeezed.find("".join(line.split())) for line in said]
    assert -1 not in at and at == sorted(at), result.output  # where it loads is said first
    mismatch = await asyncio.to_thread(CliRunner().invoke, cli, ["seed", "--people", "200", "--var-dir", str(tmp_path)])
    assert mismatch.exit_code == 2 and "already loaded with 100 people" in mismatch.output


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (
            "postgresql+asyncpg://seeder:s3cret@db.example:6543/registry",
            "PostgreSQL at db.example:6543, database registry",
        ),
        (
            "postgresql+asyncpg://seeder@db.example/registry?password=s3cret",
            "PostgreSQL at db.example, database registry",
        ),
        (
            "postgresql+asyncpg:///registry?host=/var/run/postgresql",
            "PostgreSQL at /var/run/postgresql, database registry",
        ),
        (
            "postgresql+asyncpg://",
            "PostgreSQL at the default server (PGHOST or the local socket), database (the default)",
        ),
    ],
)
def test_the_command_says_which_database_and_schema_it_loads_and_never_a_password(monkeypatch, tmp_path, url, where):
    from dpi_sandbox.seed import destinations

    monkeypatch.chdir(tmp_path)  # no developer's .env steers the settings
    monkeypatch.setenv("DPI_IDENTITY_DATABASE_URL", url)
    monkeypatch.setenv("DPI_IDENTITY_DATABASE_SCHEMA", "people")
    monkeypatch.delenv("DPI_EXCHANGE_DATABASE_URL", raising=False)
    said = destinations(tmp_path)
    assert said["identity"] == f"{where}, schema people"
    assert said["exchange"] == f"the SQLite file {tmp_path / 'exchange.db'}"
    assert "s3cret" not in " ".join(said.values())
