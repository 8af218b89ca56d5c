"""Exception handlers: every failure leaves the server as the contract's error envelope."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..core.errors import (
    ConflictError,
    InvalidValues,
    JobAlreadyRunning,
    JobFinished,
    JobNotFound,
    NotFoundError,
)
from ..core.paperless import PaperlessError
from .envelope import ApiError, error
from .params import from_invalid_values

log = logging.getLogger("dupeless.server")

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT"}


async def api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.code, exc.message, exc.details)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error("NOT_FOUND", f"No route for {request.method} {request.url.path}")
    if exc.status_code == 405:
        response = error("BAD_REQUEST", f"{request.method} is not allowed on {request.url.path}")
        response.status_code = 405
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    return error(_HTTP_CODES.get(exc.status_code, "INTERNAL_ERROR"), str(exc.detail))


async def job_already_running(_: Request, exc: Exception) -> Response:
    return error("JOB_ALREADY_RUNNING", str(exc))


async def job_not_found(_: Request, exc: Exception) -> Response:
    return error("NOT_FOUND", str(exc))


async def job_finished(_: Request, exc: Exception) -> Response:
    return error("CONFLICT", str(exc))


async def not_found(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFoundError)
    return error("NOT_FOUND", str(exc), _named(exc.ids))


async def conflict(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConflictError)
    return error("CONFLICT", str(exc), _named(exc.ids))


def _named(ids: list[str] | None) -> list[dict[str, str]] | None:
    return [{"id": value} for value in ids] if ids else None


async def invalid_values(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidValues)
    return await api_error(request, from_invalid_values(exc))


async def bad_gateway(request: Request, exc: Exception) -> Response:
    """Paperless failed (unreachable, refused, rejected our credentials): 502 with its reason.

    A 404 from Paperless is a 502 too unless the endpoint maps it (the proxy does)."""
    log.warning("Paperless failed on %s %s: %s", request.method, request.url.path, exc)
    return error("BAD_GATEWAY", str(exc))


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error("INTERNAL_ERROR", "Unexpected server error")


HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    JobAlreadyRunning: job_already_running,
    JobNotFound: job_not_found,
    JobFinished: job_finished,
    NotFoundError: not_found,
    ConflictError: conflict,
    InvalidValues: invalid_values,
    PaperlessError: bad_gateway,
    Exception: unexpected,
}
