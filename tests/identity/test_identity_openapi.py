"""The identity API documents itself: a summary, a typed success response and problem responses per operation."""

from __future__ import annotations

CORE_TAGS = {"persons", "adjudication", "tokens", "vids", "corrections"}
CORE_OPERATIONS = {
    ("post", "/v1/enrolments"),
    ("get", "/v1/persons/{person_id}"),
    ("get", "/v1/me/record"),
    ("get", "/v1/adjudication-cases"),
    ("get", "/v1/adjudication-cases/{case_id}"),
    ("post", "/v1/adjudication-cases/{case_id}/decision"),
    ("post", "/v1/subjects/resolve"),
    ("post", "/v1/subjects/{sub}/pairwise-token"),
    ("post", "/v1/me/vids"),
    ("get", "/v1/me/vids"),
    ("delete", "/v1/me/vids/{vid_id}"),
    ("post", "/v1/subjects/{sub}/reissue"),
    ("post", "/v1/me/corrections"),
    ("get", "/v1/me/corrections"),
    ("get", "/v1/corrections"),
    ("post", "/v1/corrections/escalate-overdue"),
    ("get", "/v1/corrections/{case_id}"),
    ("post", "/v1/corrections/{case_id}/decision"),
}


async def test_every_core_identity_operation_is_documented(identity):
    schema = (await identity.client.get("/openapi.json")).json()
    operations = {
        (method, path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if set(operation.get("tags", ())) & CORE_TAGS
    }
    assert set(operations) == CORE_OPERATIONS
    for (method, path), operation in operations.items():
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        responses = operation["responses"]
        success = next(code for code in responses if code.startswith("2"))
        assert responses[success]["content"]["application/json"]["schema"], where
        for status in ("401", "403", "422"):
            assert "application/problem+json" in responses[status]["content"], f"{where} lacks {status}"
