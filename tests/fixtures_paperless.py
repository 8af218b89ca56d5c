"""Fixtures for tests that talk to Paperless: fake servers over loopback HTTP and fast clients.

Load with `pytest_plugins = ["fixtures_paperless"]`. Every test gets a fresh fake (library,
faults, request log); behind it one server per line lives for the whole session, because
starting and stopping uvicorn costs more than most tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from dupeless.core.fake_paperless import DEFAULT_TOKEN, FakePaperless, serve
from dupeless.core.paperless import PaperlessClient
from starlette.types import ASGIApp, Receive, Scope, Send

#: Client options that keep fault tests fast: short timeouts, near-zero backoff.
FAST_CLIENT = {"timeout": 1.0, "max_retries": 3, "backoff_base": 0.001}
#: The 2.x fake's server clock, as on installs whose TIME_ZONE is not UTC.
SERVER_OFFSET_2X = timedelta(hours=2)


@pytest.fixture
def paperless_token() -> str:
    """The API token every fake accepts."""
    return DEFAULT_TOKEN


class Switchboard:
    """An ASGI app that forwards to whichever fake the current test installed."""

    def __init__(self, url: str):
        self.url = url
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.target is not None, "no fake installed"
        await self.target(scope, receive, send)

    def install(self, fake: FakePaperless) -> FakePaperless:
        self.target, fake.url = fake, self.url
        return fake


def _switchboard() -> Iterator[Switchboard]:
    board = Switchboard("")
    with serve(board, lifespan="off") as url:
        board.url = url
        yield board


switchboard_3x = pytest.fixture(scope="session")(_switchboard)
switchboard_2x = pytest.fixture(scope="session")(_switchboard)


@pytest.fixture
def fake_paperless(switchboard_3x) -> FakePaperless:
    """A served Paperless 3.0.5 (API 9-10, UTC clock); its base URL is `fake_paperless.url`."""
    return switchboard_3x.install(FakePaperless())


@pytest.fixture
def fake_paperless_2x(switchboard_2x) -> FakePaperless:
    """A served Paperless 2.20.15 (API 1-9, `all` in lists, MD5) whose clock is UTC+02:00."""
    return switchboard_2x.install(FakePaperless(version="2.20.15", utc_offset=SERVER_OFFSET_2X))


@pytest.fixture
async def paperless_client_factory() -> AsyncIterator[Callable[..., PaperlessClient]]:
    """Make clients for a fake (`factory(fake, **options)`) with FAST_CLIENT defaults and the
    fake's token unless credentials are given; all are closed after the test."""
    clients: list[PaperlessClient] = []

    def factory(fake: FakePaperless, **options: Any) -> PaperlessClient:
        if not {"token", "username"} & options.keys():
            options["token"] = DEFAULT_TOKEN
        client = PaperlessClient(fake.url or "", **{**FAST_CLIENT, **options})
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
def paperless_client(fake_paperless, paperless_client_factory) -> PaperlessClient:
    """A fast client for `fake_paperless`."""
    return paperless_client_factory(fake_paperless)


@pytest.fixture
def paperless_settings(settings, fake_paperless, paperless_token):
    """The conftest `settings` pointed at `fake_paperless` with its token."""
    settings.paperless.url = fake_paperless.url
    settings.paperless.api_token = paperless_token
    return settings
