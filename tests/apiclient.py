"""Talking to the real app in tests: `running_api` (lifespan entered, httpx over ASGI) and small
readers of the contract's envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from dupeless.server.app import create_app

API_KEY = "test-api-key"


@asynccontextmanager
async def running_api(
    settings: Any, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan entered and an httpx client on it (`client.state`: AppState)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://dupeless", headers=headers
        ) as client:
            client.state = app.state.dupeless
            yield client


def data(response: httpx.Response, status: int = 200) -> Any:
    """The envelope's `data`, after checking the status."""
    assert response.status_code == status, response.text
    return response.json()["data"]


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error object, after checking status and code."""
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    return body


def fields(response: httpx.Response) -> set[str]:
    """The fields a 400 VALIDATION_FAILED names."""
    return {detail["field"] for detail in error_of(response, 400, "VALIDATION_FAILED")["details"]}
