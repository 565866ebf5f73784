"""Path parameters of the exchange's endpoints, bounded so that nothing unbounded reaches a handler."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Directory identifiers in the X-Road form (`SBX:GOV:CRA:civil-registry:person-record:v1`).
DirectoryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9:-]{0,239}$")]
# The exchange's own row ids (`acr_…`, `cor_…`, `spl_…`, `sub_…`, `dlv_…`).
RowId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
