"""Rotating a signing key: the new key signs, the old public key stays published for its grace period, then goes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from jose import jwt
from typer.testing import CliRunner

from dpi_sandbox.cli import app as cli
from services.common import jws
from services.common.keys import load_or_create_signing_key, rotate_signing_key

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _kids(jwks: dict) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]


def test_the_old_key_stays_published_and_trusted_for_its_grace_period(tmp_path) -> None:
    old = load_or_create_signing_key(tmp_path, "identity", now=NOW)
    token = jws.sign_claims(old, {"sub": "someone", "exp": int((NOW + timedelta(days=30)).timestamp())})

    new = rotate_signing_key(tmp_path, "identity", publish_for=timedelta(days=10), now=NOW)

    assert new.kid != old.kid
    assert _kids(new.jwks()) == [new.kid, old.kid]  # the signing key first
    assert _kids(json.loads((tmp_path / "identity.jwks.json").read_text())) == [new.kid, old.kid]
    assert (tmp_path / "identity.es256.pem").stat().st_mode & 0o077 == 0
    reloaded = load_or_create_signing_key(tmp_path, "identity", now=NOW + timedelta(days=9))
    assert reloaded.kid == new.kid
    [old_public] = [k for k in reloaded.jwks()["keys"] if k["kid"] == old.kid]
    assert jwt.decode(token, old_public, algorithms=["ES256"], options={"verify_exp": False})["sub"] == "someone"

    later = load_or_create_signing_key(tmp_path, "identity", now=NOW + timedelta(days=10, seconds=1))
    assert _kids(later.jwks()) == [new.kid]
    assert _kids(json.loads((tmp_path / "identity.jwks.json").read_text())) == [new.kid]


def test_a_compromised_key_can_be_withdrawn_at_once(tmp_path) -> None:
    old = load_or_create_signing_key(tmp_path, "gateway", now=NOW)
    new = rotate_signing_key(tmp_path, "gateway", publish_for=timedelta(0), now=NOW)
    assert _kids(new.jwks()) == [new.kid]
    assert old.kid not in _kids(json.loads((tmp_path / "gateway.jwks.json").read_text()))


def test_rotating_twice_keeps_both_earlier_keys_while_their_grace_lasts(tmp_path) -> None:
    first = load_or_create_signing_key(tmp_path, "payments", now=NOW)
    second = rotate_signing_key(tmp_path, "payments", publish_for=timedelta(days=2), now=NOW)
    third = rotate_signing_key(tmp_path, "payments", publish_for=timedelta(days=2), now=NOW + timedelta(days=1))
    assert _kids(third.jwks()) == [third.kid, first.kid, second.kid]
    at_day_two = load_or_create_signing_key(tmp_path, "payments", now=NOW + timedelta(days=2, seconds=1))
    assert _kids(at_day_two.jwks()) == [third.kid, second.kid]


def test_the_cli_rotates_identity_with_the_offline_credentials_lifetime_as_grace(tmp_path) -> None:
    before = load_or_create_signing_key(tmp_path / "keys", "identity")
    result = CliRunner().invoke(cli, ["keys", "rotate", "identity", "--var-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    retired = json.loads((tmp_path / "keys" / "identity.retired.json").read_text())["keys"]
    [entry] = retired
    assert entry["jwk"]["kid"] == before.kid
    grace = datetime.fromisoformat(entry["publish_until"]) - datetime.fromisoformat(entry["retired_at"])
    assert grace == timedelta(days=91)  # 90-day offline credentials, plus a day

    unknown = CliRunner().invoke(cli, ["keys", "rotate", "nonesuch", "--var-dir", str(tmp_path)])
    assert unknown.exit_code == 2
