"""Client contracts: every method of a typed client (services/<name>/client.py) names, with `@endpoint`, the
operation it calls; this checks each against the target app's OpenAPI document.

    def test_identity_client_matches_identity(identity_openapi):
        assert contract_problems(IdentityClient, identity_openapi) == []
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.common.http import ServiceClient, endpoints_of

JSON = "application/json"


def contract_problems(client: type[ServiceClient], openapi: dict[str, Any]) -> list[str]:
    """What does not match: undeclared methods, unknown paths or methods, models that differ from the app's."""
    problems: list[str] = []
    for name, declared in sorted(endpoints_of(client).items()):
        where = f"{client.__name__}.{name}"
        if declared is None:
            problems.append(f"{where}: declares no @endpoint")
            continue
        operation = openapi.get("paths", {}).get(declared.path, {}).get(declared.method.lower())
        if operation is None:
            problems.append(f"{where}: {declared.method} {declared.path} is not in the app's OpenAPI document")
            continue
        if declared.body is not None:
            schema = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema")
            problems += _differences(f"{where} request", declared.body, schema, openapi, mode="validation")
        if declared.response is not None:
            success = next((r for code, r in operation.get("responses", {}).items() if code.startswith("2")), {})
            schema = success.get("content", {}).get(JSON, {}).get("schema")
            problems += _differences(f"{where} response", declared.response, schema, openapi, mode="serialization")
    return problems


def _differences(
    where: str, model: type[BaseModel], schema: dict[str, Any] | None, openapi: dict[str, Any], *, mode: str
) -> list[str]:
    if schema is None:
        return [f"{where}: the app documents no JSON body, the client sends or expects {model.__name__}"]
    ref = schema.get("$ref", "")
    component = openapi.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1]) if ref else schema
    if component is None:
        return [f"{where}: {ref} does not resolve"]
    ours = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    found: list[str] = []
    if set(ours.get("properties", {})) != set(component.get("properties", {})):
        found.append(
            f"{where}: {model.__name__} has fields {sorted(ours.get('properties', {}))}, the app "
            f"{sorted(component.get('properties', {}))}"
        )
    if set(ours.get("required", [])) != set(component.get("required", [])):
        found.append(f"{where}: required fields {sorted(ours.get('required', []))} vs {component.get('required')}")
    return found
