"""`dpi-sandbox audit verify EXPORT` offline, with only the published key file."""

from __future__ import annotations

from typer.testing import CliRunner

from dpi_sandbox.cli import app
from tests.gateway.audit.conftest import as_caller, make_event


async def test_audit_verify_accepts_a_fresh_export_and_names_the_first_bad_position(gateway_app, tmp_path):
    log = gateway_app.app.state.audit
    await log.append_many([make_event(request_id=f"r{i}") for i in range(25)])
    export = (await gateway_app.client.get("/audit/export", headers=as_caller("auditor"))).content
    path = tmp_path / "export.jsonl"
    path.write_bytes(export)
    var_dir = gateway_app.settings.var_dir
    runner = CliRunner()
    good = runner.invoke(app, ["audit", "verify", str(path), "--var-dir", str(var_dir), "--deep"])
    assert good.exit_code == 0, good.output
    assert "OK: 25 entries" in good.output and "1 witness cosignatures" in good.output
    lines = export.splitlines(keepends=True)
    lines[1 + 13] = lines[1 + 13].replace(b'"status":200', b'"status":201')
    path.write_bytes(b"".join(lines))
    bad = runner.invoke(app, ["audit", "verify", str(path), "--key", str(var_dir / "keys" / "audit-log.vkey")])
    assert bad.exit_code == 1
    assert "first bad entry at position 13" in bad.output


async def test_a_mangled_line_is_reported_and_a_missing_final_newline_is_not(gateway_app):
    from gateway.audit.export import verify_export

    log = gateway_app.app.state.audit
    await log.append_many([make_event(request_id=f"r{i}") for i in range(9)])
    export = (await gateway_app.client.get("/audit/export", headers=as_caller("auditor"))).content
    lines = export.splitlines(keepends=True)
    no_newline = [*lines[:-1], lines[-1].rstrip(b"\n")]
    assert verify_export(no_newline, log.log_key).ok
    mangled = list(lines)
    mangled[1 + 4] = mangled[1 + 4][1:]  # the stored hash lost a character: the line no longer has its shape
    report = verify_export(mangled, log.log_key)
    assert not report.ok and report.first_bad_position == 4, report.summary()
