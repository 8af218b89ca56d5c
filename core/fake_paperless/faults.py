"""Fault injection and a request log, so tests can see how a client copes with a bad server.

Faults are queued one-shot (`fail_next`, `rate_limit_next`, `drop_next`, `slow(..., n)`) or
standing (`slow(seconds)`), optionally limited to paths starting with a prefix, and can be set
from any thread while the server runs.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque

from attrs import frozen
from starlette.types import ASGIApp, Receive, Scope, Send


@frozen
class Fault:
    """One injected misbehaviour: `status` answers with that status, `drop` cuts the connection
    after the headers, otherwise the request is only delayed by `delay` seconds."""

    path: str = ""
    status: int | None = None
    retry_after: float | None = None
    drop: bool = False
    delay: float = 0.0


@frozen
class RequestRecord:
    """What the fake saw of one request (never the credentials)."""

    method: str
    path: str
    query: str
    accept: str


class Faults:
    """The queue of faults the next requests meet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._standing_delay = 0.0

    def _add(self, n: int, fault: Fault) -> None:
        with self._lock:
            self._queue.extend([fault] * n)

    def fail_next(self, n: int = 1, *, status: int = 500, path: str = "") -> None:
        """The next n requests get `status` with an HTML body, as a crashing Django does."""
        self._add(n, Fault(path=path, status=status))

    def rate_limit_next(self, n: int = 1, *, retry_after: float = 1, path: str = "") -> None:
        """The next n requests get 429 with `Retry-After` (fractions allowed, for fast tests)."""
        self._add(n, Fault(path=path, status=429, retry_after=retry_after))

    def drop_next(self, n: int = 1, *, path: str = "") -> None:
        """The next n requests see the connection close mid-response (httpx raises
        RemoteProtocolError; uvicorn logs one "returned without completing response" error)."""
        self._add(n, Fault(path=path, drop=True))

    def slow(self, seconds: float, n: int | None = None, *, path: str = "") -> None:
        """Delay the next n requests, or every request from now on when n is None (0 stops)."""
        if n is None:
            with self._lock:
                self._standing_delay = seconds
        else:
            self._add(n, Fault(path=path, delay=seconds))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._standing_delay = 0.0

    def take(self, path: str) -> Fault | None:
        """The first queued fault for this path (removed), else the standing delay if any."""
        with self._lock:
            for fault in self._queue:
                if path.startswith(fault.path):
                    self._queue.remove(fault)
                    return fault
            return Fault(delay=self._standing_delay) if self._standing_delay else None


class FaultInjector:
    """ASGI middleware in front of the fake: logs each request, then applies the next fault."""

    def __init__(self, app: ASGIApp, faults: Faults, log: list[RequestRecord]):
        self.app = app
        self.faults = faults
        self.log = log
        self.in_flight = 0
        #: The most requests handled at the same time (shows that a client fetched concurrently).
        self.peak_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        self.log.append(
            RequestRecord(
                method=scope["method"],
                path=scope["path"],
                query=scope["query_string"].decode("latin-1"),
                accept=headers.get(b"accept", b"").decode("latin-1"),
            )
        )
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            fault = self.faults.take(scope["path"])
            if fault is None:
                await self.app(scope, receive, send)
            else:
                await self._misbehave(fault, scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _misbehave(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            # Promise a body, then return without it: uvicorn closes the connection and the
            # client sees the peer hang up mid-response. The request body is read first, as the
            # real server would have: closing a socket with unread data sends a reset, and the
            # client would sometimes see a ReadError instead.
            while (await receive()).get("more_body"):
                pass
            headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            return
        if fault.status is None:
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"text/html")]
        body = f"<h1>Server Error ({fault.status})</h1>".encode()
        if fault.retry_after is not None:
            headers = [(b"content-type", b"application/json")]
            headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
            detail = f"Request was throttled. Expected available in {fault.retry_after:g} seconds."
            body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
