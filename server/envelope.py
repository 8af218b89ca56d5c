"""The contract's response envelope: `{"data": ..., "meta": ...}` and `{"error": {...}}`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

#: HTTP status of every error code in the contract.
ERROR_STATUS = {
    "BAD_REQUEST": 400,
    "VALIDATION_FAILED": 400,
    "UNAUTHORIZED": 401,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "JOB_ALREADY_RUNNING": 409,
    "INTERNAL_ERROR": 500,
    "BAD_GATEWAY": 502,
    "NOT_READY": 503,
}


def ok(data: Any, meta: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"data": data}
    if meta is not None:
        body["meta"] = meta
    return JSONResponse(body, status_code=status)


def error(
    code: str, message: str, details: list[Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=ERROR_STATUS[code], headers=headers)


class ApiError(Exception):
    """Raise from a handler to answer with the contract's error envelope."""

    def __init__(self, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
