"""Schemathesis against /api/v1/openapi.json: generated requests to every operation of the served
app (real HTTP, real store, a fake Paperless behind it) must never produce a 500 nor a response
the document does not describe (status, content type, body schema), and invalid input must be
refused with a 4xx. Bounded to a few examples per operation so the run stays short."""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from apiclient import API_KEY
from dupeless.core.fake_paperless import serve
from dupeless.core.store import Store
from dupeless.server.app import create_app
from dupeless.server.app import operations as app_operations
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from seed import add_group, mirror

pytest_plugins = ["fixtures_paperless", "fixtures_api"]

HOOK_TOKEN = "schema-test-hook-token"
#: The API key, and the hook token the Paperless hook operations ask for instead (or as well).
AUTH = {"X-Api-Key": API_KEY, "X-Hook-Token": HOOK_TOKEN}
#: Generated requests per operation and mode.
EXAMPLES = 5


def no_server_error(ctx, response, case) -> None:
    """No 500, ever; the only 5xx allowed are the upstream ones the document declares (502: a
    Paperless call failed, 503: not ready), and status_code_conformance checks they are."""
    assert response.status_code < 500 or response.status_code in (502, 503), response.text


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


async def seed(path, fake) -> None:
    store = await Store.open(path)
    try:
        await mirror(store, fake)
        await add_group(store, [1, 2, 3])
        await add_group(store, [4, 5], status="ignored")
    finally:
        await store.close()


@pytest.fixture
def served(api_settings, fake_paperless):
    """The app over loopback HTTP, with an API key, a small library and groups."""
    api_settings.server.api_key = API_KEY
    api_settings.hooks.token = HOOK_TOKEN
    api_settings.paperless.timeout = 1.0
    for number in range(1, 6):
        fake_paperless.library.add_document(title=f"Doc {number}", content=f"text {number} " * 30)
    asyncio.run(seed(api_settings.database_path, fake_paperless))
    with serve(create_app(api_settings)) as url:
        yield url


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(served, mode):
    api = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json", headers=AUTH)
    operations = [result.ok() for result in api.get_all_operations()]
    declared = {f"{op.method} {op.path}": op for op in app_operations()}
    assert {op.label for op in operations} == set(declared) - {"GET /api/v1/openapi.json"}  # itself
    for operation in operations:
        inputs = declared[operation.label]
        if mode.is_negative and not (inputs.query or inputs.path_params or inputs.body):
            continue  # nothing a client sends could be invalid

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=10)

        call()
