"""Message catalogues: gettext `.po` files read with Babel, compiled in memory once per language and domain.

The catalogues live beside the code that speaks them (`<package>/locale/<lang>/LC_MESSAGES/<domain>.po`); nothing is
compiled at build time, so a translator's edit to a `.po` file is what the next process says.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


@cache
def po_catalogue(locale_dir: Path, language: str, domain: str) -> Translations:
    """The translations of `domain` for `language` under `locale_dir`, compiled once."""
    with (locale_dir / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        compiled = io.BytesIO()
        write_mo(compiled, read_po(po, locale=language))
    compiled.seek(0)
    return Translations(fp=compiled, domain=domain)
