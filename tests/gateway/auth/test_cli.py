"""The operator's way in: `dpi-sandbox clients add|list|approve|suspend` and `dpi-sandbox token --client NAME`
print a token that the sandbox, started on the same var dir, accepts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from typer.testing import CliRunner

from dpi_sandbox.cli import app
from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from gateway.auth.clients.models import ClientKind

runner = CliRunner()


def _cli(*args: str, var_dir: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--var-dir", str(var_dir)])
    return result.exit_code, result.stdout, result.stderr


async def _call(var_dir: Path, path: str, token: str) -> httpx.Response:
    await upgrade_all(all_settings(var_dir))
    sandbox = build_embedded(var_dir=var_dir)
    async with sandbox.router.lifespan_context(sandbox):
        transport = httpx.ASGITransport(app=sandbox)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            return await http.get(path, headers={"Authorization": f"Bearer {token}"})


def test_a_new_client_gets_a_token_only_once_approved_and_the_sandbox_accepts_it(tmp_path):
    code, out, _ = _cli(
        "clients",
        "add",
        "health-clinic",
        "--kind",
        "relying_party",
        "--scope",
        "identity",
        "--dpia-ref",
        "DPIA-9",
        "--hria-ref",
        "HRIA-9",
        var_dir=tmp_path,
    )
    assert code == 0, out
    assert (tmp_path / "keys" / "clients" / "health-clinic.es256.pem").stat().st_mode & 0o077 == 0
    code, _, err = _cli("token", "--client", "health-clinic", var_dir=tmp_path)
    assert code == 1 and "pending" in err
    assert _cli("clients", "approve", "health-clinic", var_dir=tmp_path)[0] == 0
    code, token, _ = _cli("token", "--client", "health-clinic", var_dir=tmp_path)
    assert code == 0 and token.count(".") == 2
    response = asyncio.run(_call(tmp_path, "/identity/v1/caller", token.strip()))
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == "health-clinic" and response.json()["roles"] == ["relying_party"]
    code, listing, _ = _cli("clients", "list", var_dir=tmp_path)
    assert "health-clinic" in listing and "approved" in listing
    assert _cli("clients", "suspend", "health-clinic", var_dir=tmp_path)[0] == 0
    assert _cli("token", "--client", "health-clinic", var_dir=tmp_path)[0] == 1


def test_a_relying_party_without_impact_assessments_is_refused(tmp_path):
    code, _, err = _cli("clients", "add", "clinic", "--kind", "relying_party", var_dir=tmp_path)
    assert code == 1 and "impact assessment" in err


def test_demo_clients_for_every_kind_exist_on_first_run_and_get_tokens(tmp_path):
    code, token, _ = _cli("token", "--client", "demo-oversight", var_dir=tmp_path)
    assert code == 0, token
    code, listing, _ = _cli("clients", "list", "--status", "approved", var_dir=tmp_path)
    for client in (
        "demo-agency",
        "demo-bank",
        "demo-programme",
        "demo-registrar",
        "demo-police",
        "demo-auditor",
        "demo-oversight",
        "demo-trainer",
        "demo-field-agent",
        "demo-social-registry",
        "demo-civil-registry",
        "demo-scheme",
        "demo-platform",
        "demo-grievance-desk",
        "demo-ussd-aggregator",
    ):
        assert client in listing
    response = asyncio.run(_call(tmp_path, "/clients", token.strip()))
    assert response.status_code == 200 and len(response.json()["items"]) == 15
    assert {item["kind"] for item in response.json()["items"]} == set(ClientKind), "one demo client per kind"
    assert (tmp_path / "keys" / "clients" / "demo-agency.es256.pem").exists(), "keys generated under the var dir"
