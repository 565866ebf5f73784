"""House rules that ruff cannot express (CONTRIBUTING.md, "Test"): each is a grep over the application code.

- Only services/common/db.py commits: services, repositories and routers never call `.commit(`.
- `HTTPException` appears only in router.py files: deeper layers raise ProblemError subclasses.
- No module-level `Settings()` instances: settings are built by app factories and passed down.
- JOSE in one place: only services/common/jws.py (and the key material in keys.py) imports the JOSE library;
  everything else signs and verifies through `services.common.jws`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPLICATION = ("services", "gateway")
RULES: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = [
    ("only services/common/db.py commits", re.compile(r"\.commit\("), ("services/common/db.py",)),
    ("HTTPException only in routers", re.compile(r"\bHTTPException\b"), ("router.py", "services/common/problems.py")),
    ("no module-level settings instance", re.compile(r"^\w+\s*=\s*\w*Settings\(\)", re.MULTILINE), ()),
    (
        "JOSE only through services.common.jws",
        re.compile(r"^\s*(?:from\s+jose\b|import\s+jose\b)", re.MULTILINE),
        ("services/common/jws.py", "services/common/keys.py"),
    ),
]


def violations(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for folder in APPLICATION:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "/migrations/" in relative:
                continue
            text = path.read_text()
            for description, pattern, allowed in RULES:
                if any(relative.endswith(suffix) for suffix in allowed):
                    continue
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{relative}:{line}: {description}")
    return found


def main() -> int:
    problems = violations()
    for problem in problems:
        print(problem)
    print(f"house rules: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
