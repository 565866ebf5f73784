"""How the gateway app takes in the channels: their routers (before the proxy's catch-all)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.channels import assisted
from gateway.channels.me import alias_router
from gateway.channels.ussd import router as ussd

ROUTERS: tuple[APIRouter, ...] = (assisted.router, ussd.router, alias_router())
