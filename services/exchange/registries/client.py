"""The exchange's client for the providers' information systems (the simulated registries): every request is signed
with the exchange's key, and what a provider answers comes back as bytes for the message log. When the registries
run in the exchange's process, a record read goes to them in-process (`registries/inprocess.py`); everything else,
and every read when they run apart, goes over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel

from services.common.clock import Clock
from services.common.http import RemoteProblem, raise_for_problem
from services.common.ids import new_id
from services.common.keys import SigningKey
from services.exchange.errors import ProviderRefused, ProviderUnavailable
from services.exchange.registries.credential import CREDENTIAL_HEADER, ExchangeRequest, mint
from services.exchange.registries.inprocess import InProcessReads

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class ProviderAnswer:
    status: int
    content: bytes
    request_path: str

    def json(self) -> Any:
        return json.loads(self.content)


class RegistriesClient:
    def __init__(
        self, http: httpx.AsyncClient, key: SigningKey, clock: Clock, *, in_process: InProcessReads | None = None
    ) -> None:
        self.http = http
        self.in_process = in_process
        self._key = key
        self._clock = clock

    async def _send(self, method: str, path: str, request: ExchangeRequest, **kwargs: Any) -> httpx.Response:
        headers = {CREDENTIAL_HEADER: mint(self._key, self._clock, request), **kwargs.pop("headers", {})}
        try:
            return await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"The provider did not answer ({type(error).__name__}).") from error

    @staticmethod
    def _raise_for_problem(response: httpx.Response) -> None:
        try:
            raise_for_problem(response)
        except RemoteProblem as problem:
            raise ProviderRefused(problem.status, problem.body) from None

    async def fetch(self, path: str, request: ExchangeRequest) -> ProviderAnswer:
        """GET a provider's record, asking only for `request.fields`; the answer as the provider sent it."""
        if self.in_process is not None:
            credential = mint(self._key, self._clock, request)
            answer = await self.in_process.get(path, credential, request.fields)
            if answer is not None:
                query = urlencode([("fields", f) for f in request.fields])
                return ProviderAnswer(answer.status, answer.content, f"{path}?{query}" if query else path)
        response = await self._send("GET", path, request, params=[("fields", f) for f in request.fields])
        return ProviderAnswer(response.status_code, response.content, str(response.request.url.raw_path, "ascii"))

    async def write(self, method: str, path: str, body: BaseModel, client: str, model: type[Model]) -> Model:
        """A registry officer's write, forwarded under the exchange's signature; a provider problem is re-raised."""
        request = ExchangeRequest(client=client, message_id=new_id("msg"))
        response = await self._send(
            method, path, request, content=body.model_dump_json(), headers={"content-type": "application/json"}
        )
        self._raise_for_problem(response)
        return model.model_validate_json(response.content)

    async def read(self, path: str, client: str, model: type[Model]) -> Model:
        response = await self._send("GET", path, ExchangeRequest(client=client, message_id=new_id("msg")))
        self._raise_for_problem(response)
        return model.model_validate_json(response.content)

    async def openapi(self) -> dict[str, Any]:
        try:
            response = await self.http.get("/openapi.json")
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"The provider did not answer ({type(error).__name__}).") from error
        self._raise_for_problem(response)
        document: dict[str, Any] = response.json()
        return document


async def service_openapi(
    client: RegistriesClient, service_id: str, title: str, version: str, provider_path: str
) -> dict[str, Any]:
    """One service's own OpenAPI document: the provider's operation for `provider_path` and the schemas it uses."""
    document = await client.openapi()
    operations = document.get("paths", {}).get(provider_path)
    if operations is None:
        raise ProviderUnavailable(f"The provider's OpenAPI document does not describe {provider_path}.")
    return {
        "openapi": document.get("openapi", "3.1.0"),
        "info": {
            "title": title,
            "version": version,
            "x-dpi-service-id": service_id,
            "description": "Reached through the exchange: POST /v1/fetch with this service id.",
        },
        "paths": {provider_path: operations},
        "components": document.get("components", {}),
    }
