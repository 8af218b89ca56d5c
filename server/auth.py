"""The API key: when `server.api_key` is set, every endpoint but the public ones needs it.

Clients send `Authorization: Bearer <key>` or `X-Api-Key: <key>`; keys are compared with
`hmac.compare_digest`, so the time taken says nothing about how much of a guess was right.
A pure ASGI middleware (not BaseHTTPMiddleware), so streamed responses (SSE, previews) pass through
untouched.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .envelope import error


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, *, api_key: str, public_paths: Iterable[str]):
        self.app = app
        self.key = api_key.encode()
        self.public = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.key or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        if self._authorised(dict(scope["headers"])):
            await self.app(scope, receive, send)
            return
        response = error(
            "UNAUTHORIZED",
            "Missing or invalid API key: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        offered = [headers.get(b"x-api-key", b"")]
        if scheme.lower() == b"bearer":
            offered.append(credentials.strip())
        # Compare every offered key, so which header was used does not change the timing.
        return any([hmac.compare_digest(key, self.key) for key in offered])
