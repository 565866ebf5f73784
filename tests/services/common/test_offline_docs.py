"""The docs pages work in a room without internet: Swagger UI and ReDoc come from an installed package."""

from __future__ import annotations

import re

import pytest

APPS = ("gateway", "identity", "payments", "consent", "exchange")


@pytest.mark.parametrize("name", APPS)
async def test_docs_pages_load_every_asset_from_the_app_itself(service_factory, name):
    service = await service_factory(name)
    for page in ("/docs", "/redoc"):
        response = await service.client.get(page)
        assert response.status_code == 200, page
        html = response.text
        assert "cdn." not in html and "unpkg" not in html and "fonts.googleapis" not in html, page
        assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", html)
        assert assets, f"{page} references no script or style"
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            loaded = await service.client.get(asset)
            assert loaded.status_code == 200, asset
            assert len(loaded.content) > 1000, asset
