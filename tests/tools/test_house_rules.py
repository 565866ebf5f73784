from __future__ import annotations

from pathlib import Path

from tools.house_rules import violations


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_real_tree_keeps_the_house_rules():
    assert violations() == []


def test_each_rule_catches_its_violation(tmp_path):
    _write(tmp_path, "services/demo/things/service.py", "async def f(s):\n    await s.commit()\n")
    _write(tmp_path, "services/demo/things/repository.py", "from fastapi import HTTPException\n")
    _write(tmp_path, "gateway/config.py", "settings = GatewaySettings()\n")
    _write(tmp_path, "services/common/db.py", "async def g(s):\n    await s.commit()\n")
    _write(tmp_path, "services/demo/things/router.py", "from fastapi import HTTPException\n")
    _write(tmp_path, "gateway/auth/proofs.py", "import hashlib\nfrom jose import jws\n")
    _write(tmp_path, "services/common/jws.py", "from jose import jws\n")
    found = sorted(violations(tmp_path))
    assert found == [
        "gateway/auth/proofs.py:2: JOSE only through services.common.jws",
        "gateway/config.py:1: no module-level settings instance",
        "services/demo/things/repository.py:1: HTTPException only in routers",
        "services/demo/things/service.py:2: only services/common/db.py commits",
    ]
