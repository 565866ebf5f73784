"""`dpi-sandbox clients add|list|approve|suspend` and `dpi-sandbox token --client NAME`: the operator's way in.

The commands work on the gateway's own database (the var dir's SQLite file, or DPI_GATEWAY_DATABASE_URL), as the
operator on the host rather than over HTTP, and generate each client's private key under the var dir's
keys/clients/ (never in the repository). `token` prints only the access token on stdout, so
`TOKEN=$(dpi-sandbox token --client demo-agency)` works; paste it into the docs page's Authorize button.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from gateway.auth.clients.models import ClientKind, ClientStatus
from gateway.auth.clients.provision import add_client, client_key
from gateway.auth.clients.schemas import ClientCreate, Jwks
from gateway.auth.clients.service import registry
from gateway.auth.tokens.schemas import JWT_BEARER
from gateway.config import GatewaySettings
from services.common import jws

clients_app = typer.Typer(
    help="The gateway's client registry: organisations, their keys, roles and approval.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)
OPERATOR = "operator-cli"

VarDir = Annotated[Path, typer.Option("--var-dir", help="Where SQLite files, keys and reports live.")]


def _settings(var_dir: Path) -> GatewaySettings:
    from dpi_sandbox.embedded import embedded_settings
    from dpi_sandbox.registry import GATEWAY

    settings = embedded_settings(GATEWAY, var_dir, None)
    assert isinstance(settings, GatewaySettings)
    return settings


async def _in_session(settings: GatewaySettings, work: Any) -> Any:
    from dpi_sandbox.registry import GATEWAY
    from services.common.clock import SystemClock
    from services.common.db import create_engine, create_sessionmaker
    from services.common.migrations import upgrade_service_database

    await upgrade_service_database(settings, GATEWAY.migrations_dir)
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session, SystemClock().now())
    finally:
        await engine.dispose()


def _fail(message: str) -> typer.Exit:
    errors.print(message)
    return typer.Exit(1)


@clients_app.command("add")
def clients_add(
    client_id: Annotated[str, typer.Argument(help="The client id, e.g. health-clinic.")],
    *,
    kind: Annotated[ClientKind, typer.Option("--kind", help="What the organisation is.")],
    name: Annotated[str | None, typer.Option("--name", help="Its display name.")] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role (repeat); default: the kind's first.")
    ] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="A scope it may request (repeat).")] = None,
    purpose: Annotated[list[str] | None, typer.Option("--purpose", help="A purpose it may act for (repeat).")] = None,
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction", help="ISO 3166-1 alpha-2.")] = None,
    processing_location: Annotated[str | None, typer.Option("--processing-location")] = None,
    dpia_ref: Annotated[
        str | None, typer.Option("--dpia-ref", help="Required for relying parties (SG-HRIA-1).")
    ] = None,
    hria_ref: Annotated[
        str | None, typer.Option("--hria-ref", help="Required for relying parties (SG-HRIA-1).")
    ] = None,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Its public JWKS; default: generate a key pair under keys/.")
    ] = None,
    dpop: Annotated[bool, typer.Option("--dpop", help="Require DPoP (always on for FSPs and programmes).")] = False,
    approve: Annotated[bool, typer.Option("--approve", help="Approve it at once (as oversight).")] = False,
    var_dir: VarDir = Path("var"),
) -> None:
    """Register a client (pending unless --approve)."""
    from pydantic import ValidationError

    from services.common.problems import ProblemError

    settings = _settings(var_dir)
    try:
        spec = ClientCreate(
            client_id=client_id,
            name=name or client_id,
            kind=kind,
            roles=role or None,
            scopes=scope or [],
            purposes=purpose or [],
            jurisdiction=jurisdiction,
            processing_location=processing_location,
            jwks=Jwks.model_validate_json(jwks_file.read_text()) if jwks_file else None,
            dpop_required=dpop,
            dpia_ref=dpia_ref,
            hria_ref=hria_ref,
        )
    except ValidationError as error:
        raise _fail(f"Invalid registration: {error}") from None

    async def work(session: Any, now: Any) -> None:
        await add_client(
            session,
            spec,
            keys_dir=settings.resolved_keys_dir,
            now=now,
            registered_by=OPERATOR,
            approve=approve,
            jwks_uri_allowlist=settings.client_jwks_uri_allowlist,
        )

    try:
        asyncio.run(_in_session(settings, work))
    except ProblemError as error:
        raise _fail(f"{error.title}: {error.detail}") from None
    where = "" if jwks_file else f"; private key in {settings.resolved_keys_dir / 'clients'}"
    console.print(f"Registered {client_id} ({'approved' if approve else 'pending'}){where}.")


@clients_app.command("list")
def clients_list(
    status: Annotated[ClientStatus | None, typer.Option("--status")] = None, var_dir: VarDir = Path("var")
) -> None:
    """The registered clients, their kind, roles, scopes and status."""
    settings = _settings(var_dir)
    rows = asyncio.run(_in_session(settings, lambda session, now: registry.list(session, status)))
    columns = ("client_id", "kind", "roles", "scopes", "dpop", "status")
    lines = [
        (
            c.client_id,
            c.kind.value,
            " ".join(c.roles),
            " ".join(c.scopes),
            "yes" if c.dpop_required else "no",
            c.status.value,
        )
        for c in rows
    ]
    if not console.is_terminal:  # piped: one tab-separated line per client, for scripts
        sys.stdout.write("".join("\t".join(line) + "\n" for line in [columns, *lines]))
        return
    table = Table(*columns)
    for line in lines:
        table.add_row(*line)
    console.print(table)


def _change(client_id: str, var_dir: Path, *, approve: bool, reason: str | None) -> None:
    from services.common.problems import ProblemError

    settings = _settings(var_dir)

    async def work(session: Any, now: Any) -> Any:
        if approve:
            return await registry.approve(session, client_id, approved_by=OPERATOR, now=now, reason=reason)
        return await registry.suspend(session, client_id, now=now, reason=reason)

    try:
        client = asyncio.run(_in_session(settings, work))
    except ProblemError as error:
        raise _fail(f"{error.title}: {error.detail}") from None
    console.print(f"{client.client_id} is {client.status.value}. A running gateway sees it within its cache time.")


@clients_app.command("approve")
def clients_approve(
    client_id: str, reason: Annotated[str | None, typer.Option("--reason")] = None, var_dir: VarDir = Path("var")
) -> None:
    """Approve a client (the operator acting for oversight); a relying party needs its impact assessments."""
    _change(client_id, var_dir, approve=True, reason=reason)


@clients_app.command("suspend")
def clients_suspend(
    client_id: str, reason: Annotated[str | None, typer.Option("--reason")] = None, var_dir: VarDir = Path("var")
) -> None:
    """Suspend a client: no new tokens, and its live tokens are refused."""
    _change(client_id, var_dir, approve=False, reason=reason)


def client_assertion(settings: GatewaySettings, client_id: str, now: int) -> str:
    key = client_key(settings.resolved_keys_dir, client_id)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": settings.token_endpoint,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    return jws.sign_claims(key, claims)


async def fetch_token(
    settings: GatewaySettings, client_id: str, *, scope: str | None, url: str | None
) -> httpx.Response:
    """A client-credentials token for `client_id`: from the gateway at `url`, or from an in-process gateway on the
    var dir's database and keys (which a running sandbox on the same var dir accepts)."""
    import time

    def form() -> dict[str, str]:
        if not (settings.resolved_keys_dir / "clients" / f"{client_id}.es256.pem").exists():
            raise _fail(f"No private key for {client_id} under {settings.resolved_keys_dir / 'clients'}.")
        fields = {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": client_assertion(settings, client_id, int(time.time())),
        }
        return fields | ({"scope": scope} if scope else {})

    if url is not None:
        async with httpx.AsyncClient(base_url=url) as http:
            return await http.post("/oauth2/token", data=form())
    from dpi_sandbox.registry import GATEWAY
    from gateway.app import create_app
    from services.common.migrations import upgrade_service_database

    await upgrade_service_database(settings, GATEWAY.migrations_dir)
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # in dev, registers the demo clients on first run
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            return await http.post("/oauth2/token", data=form())


def token(
    client: Annotated[str, typer.Option("--client", help="The client id, e.g. demo-agency.")],
    scope: Annotated[str | None, typer.Option("--scope", help="Space-separated; default: all it holds.")] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="A running gateway's base URL; default: an in-process gateway.")
    ] = None,
    var_dir: VarDir = Path("var"),
) -> None:
    """Print an access token for a registered client (private_key_jwt with its key under keys/clients/)."""
    settings = _settings(var_dir)
    response = asyncio.run(fetch_token(settings, client, scope=scope, url=url))
    if response.status_code != 200:
        raise _fail(f"The gateway refused: {response.status_code} {response.text}")
    body = response.json()
    if body["token_type"] == "DPoP":  # noqa: S105 (a token type, not a secret)
        errors.print(f"{client} moves money: the token is DPoP-bound and needs a DPoP proof with every request.")
    errors.print(f"Valid {body['expires_in']} s; scopes: {body['scope']}. Send it as Authorization: Bearer.")
    sys.stdout.write(body["access_token"] + "\n")
