"""Fixtures for API tests: the real app (real store, real job runner) in the test's event loop,
talking to a fake Paperless over loopback HTTP.

Load with `pytest_plugins = ["fixtures_paperless", "fixtures_api"]`. `api` is an httpx client on
the app; `api.state` is the app's AppState (store, jobs, settings), so a test seeds the very store
the app reads and waits for the very jobs it starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from apiclient import running_api


@pytest.fixture
def api_settings(paperless_settings):
    """Settings on the fake Paperless, failing fast (one attempt) when it misbehaves."""
    paperless_settings.paperless.max_retries = 0
    paperless_settings.paperless.timeout = 2.0
    return paperless_settings


@pytest.fixture
async def api(api_settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_api(api_settings) as client:
        yield client
