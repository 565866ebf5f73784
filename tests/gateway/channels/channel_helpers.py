"""What the channel tests share: a relying party's access to a person, which their access log then shows."""

from __future__ import annotations

from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.identity.access_helpers import Enrolled


async def bank_authenticates(edge: Edge, person: Enrolled) -> None:
    """The bank authenticates the person by VID and a one-time code, through the gateway."""
    code = await edge.otp(person)
    response = await edge.client.post(
        "/identity/v1/authn",
        json={"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "otp", "otp": code}},
        headers=as_caller("bank"),
    )
    assert response.status_code == 200, response.text
