"""Health, readiness, the API key, validation and the generated OpenAPI document."""

from __future__ import annotations

import pytest
from apiclient import API_KEY, data, error_of, fields, running_api
from dupeless.server.app import create_app, operations

pytest_plugins = ["fixtures_paperless", "fixtures_api"]


async def test_health_is_ok(api):
    assert data(await api.get("/api/v1/health"))["status"] == "ok"


async def test_ready_checks_database_and_paperless(api):
    assert data(await api.get("/api/v1/ready")) == {
        "status": "ready",
        "checks": {"database": {"status": "ok"}, "paperless": {"status": "ok"}},
    }


async def test_ready_is_503_when_paperless_is_down(api, fake_paperless):
    fake_paperless.faults.fail_next(1, status=503)
    body = error_of(await api.get("/api/v1/ready"), 503, "NOT_READY")
    (checks,) = body["details"]
    assert checks["database"] == {"status": "ok"}
    assert checks["paperless"]["status"] == "error"
    assert "503" in checks["paperless"]["error"]


async def test_ready_says_demo_without_a_paperless_url(api_settings):
    api_settings.paperless.url = ""
    async with running_api(api_settings) as client:
        checks = data(await client.get("/api/v1/ready"))["checks"]
    assert checks["paperless"] == {"status": "ok", "mode": "demo"}


# --- the API key ----------------------------------------------------------------------------


@pytest.fixture
async def keyed(api_settings):
    api_settings.server.api_key = API_KEY
    async with running_api(api_settings) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Token {API_KEY}"},
        {"X-Api-Key": "wrong"},
        {"Authorization": "Bearer"},
    ],
)
async def test_missing_or_wrong_key_is_401(keyed, headers):
    response = await keyed.get("/api/v1/documents", headers=headers)
    error_of(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {API_KEY}"}, {"X-Api-Key": API_KEY}]
)
async def test_right_key_in_either_header_passes(keyed, headers):
    assert data(await keyed.get("/api/v1/documents", headers=headers)) == []


async def test_health_and_ready_need_no_key(keyed):
    assert (await keyed.get("/api/v1/health")).status_code == 200
    assert (await keyed.get("/api/v1/ready")).status_code == 200
    assert (await keyed.get("/api/v1/openapi.json")).status_code == 401


async def test_without_a_configured_key_nothing_is_asked(api):
    assert (await api.get("/api/v1/documents")).status_code == 200


# --- validation and errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=0", "limit", "must be between 1 and 100"),
        ("limit=101", "limit", "must be between 1 and 100"),
        ("limit=abc", "limit", "must be an integer"),
        ("offset=-1", "offset", "must be between 0 and 9223372036854775807"),
        ("processingStatus=done", "processingStatus", "must be one of pending, completed"),
        ("limitt=5", "limitt", "is not a known parameter"),
        ("limit=abc&limit=5", "limit", "must be given once"),
    ],
)
async def test_bad_query_parameters_name_the_field(api, query, field, message):
    response = await api.get(f"/api/v1/documents?{query}")
    assert error_of(response, 400, "VALIDATION_FAILED")["details"] == [
        {"field": field, "message": message}
    ]


async def test_every_bad_field_is_named_at_once(api):
    assert fields(await api.get("/api/v1/duplicates?limit=0&offset=-2&sortBy=x")) == {
        "limit",
        "offset",
        "sortBy",
    }


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2", b'{"status": NaN}', b'{"status": 1e999}', b"\xff\xfe"]
)
async def test_malformed_json_is_validation_failed(api, body):
    response = await api.put(
        "/api/v1/duplicates/x/status", content=body, headers={"Content-Type": "application/json"}
    )
    assert fields(response) == {"body"}


async def test_an_optional_body_may_be_absent_but_not_blank(api):
    headers = {"Content-Type": "application/json"}
    response = await api.post("/api/v1/analysis", content=b" ", headers=headers)
    assert fields(response) == {"body"}
    assert (await api.post("/api/v1/analysis", content=b"", headers=headers)).status_code == 202


async def test_a_body_must_be_json(api):
    response = await api.put(
        "/api/v1/config/dedup", content=b"numBands=8", headers={"Content-Type": "text/plain"}
    )
    assert "Content-Type" in error_of(response, 400, "VALIDATION_FAILED")["details"][0]["message"]


async def test_unknown_route_and_wrong_method(api):
    error_of(await api.get("/api/v1/nope"), 404, "NOT_FOUND")
    response = await api.delete("/api/v1/documents")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


# --- openapi.json ---------------------------------------------------------------------------


async def test_openapi_describes_every_route(api, api_settings):
    document = (await api.get("/api/v1/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert described == {(op.method, op.path) for op in operations()}
    served = create_app(api_settings).routes
    assert described == {(m, r.path) for r in served for m in r.methods if m != "HEAD"}
    listing = document["paths"]["/api/v1/documents"]["get"]
    names = {param["name"] for param in listing["parameters"]}
    assert {"limit", "offset", "correspondent", "tag", "search", "noAiResult"} <= names
    assert "security" not in listing  # no key configured, none enforced
    assert set(listing["responses"]) == {"200", "400"}
    hook = document["paths"]["/api/v1/hooks/document-consumed"]["post"]
    assert hook["security"] == [{"hookBearer": []}, {"hookTokenHeader": []}]  # even without a key
    assert set(hook["responses"]) == {"200", "202", "400", "401", "503"}
    assert {param["name"] for param in hook["parameters"]} == {"wait"}
    assert set(hook["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
    }


async def test_openapi_declares_security_when_a_key_is_set(keyed):
    response = await keyed.get("/api/v1/openapi.json", headers={"X-Api-Key": API_KEY})
    paths = response.json()["paths"]
    assert paths["/api/v1/documents"]["get"]["security"] == [
        {"bearerAuth": []},
        {"apiKeyHeader": []},
    ]
    assert "401" in paths["/api/v1/documents"]["get"]["responses"]
    assert "security" not in paths["/api/v1/health"]["get"]
    # The hooks take their token instead of the key; following an event needs both, each in
    # its own header.
    hook = paths["/api/v1/hooks/paperless-webhook"]["post"]
    assert hook["security"] == [{"hookBearer": []}, {"hookTokenHeader": []}]
    assert paths["/api/v1/hooks/events/{eventId}"]["get"]["security"] == [
        {"bearerAuth": [], "hookTokenHeader": []},
        {"apiKeyHeader": [], "hookBearer": []},
        {"apiKeyHeader": [], "hookTokenHeader": []},
    ]
