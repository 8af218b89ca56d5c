"""Runtime configuration: the `app_config` key/value map, and testing the Paperless connection.

`dedup.*` keys are the dedup settings (core/dedup_config.py): writing one here goes through the
same validation and recalculation as PUT /config/dedup, so the map can never hold a value the
analysis would refuse. Keys that look like secrets are refused: tokens and passwords belong in
the configuration file or the environment, never in the database.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.dedup_config import KEY_PREFIX, update_dedup
from ..core.errors import InvalidValues
from ..core.paperless import PaperlessError
from ..core.store import utcnow
from .api import Call, Reply, Resource
from .envelope import ok
from .params import Body, invalid
from .schemas import boolean, integer, obj, strict, string
from .state import AppState, probe_client

config = Resource("Configuration")

SECRET_WORDS = ("token", "password", "secret", "apikey", "api_key")
KEY = string(pattern=r"^[A-Za-z0-9_.-]{1,200}$")
VALUE = {"type": ["string", "number", "boolean"]}
CONFIG_MAP = obj(additional=string(), description="Every key with its value, as text.")
CONFIG_META = obj({"recalculatedGroups": integer(0), "analysisStale": boolean()})


async def config_map(app: AppState) -> dict[str, str]:
    rows = await app.store.fetchall("SELECT key, value FROM app_config ORDER BY key")
    return {row["key"]: row["value"] for row in rows}


async def write_config(app: AppState, entries: dict[str, Any]) -> dict[str, Any]:
    """Store key/value pairs; returns the dedup update's meta (empty without `dedup.*` keys).

    Raises InvalidValues naming each refused key (`dedup.numBands`, `paperless.apiToken`, ...).
    """
    secret = [key for key in entries if any(word in key.lower() for word in SECRET_WORDS)]
    if secret:
        message = "secrets are never stored; set them in the configuration file or environment"
        raise InvalidValues([(key, message) for key in secret])
    dedup = {k.removeprefix(KEY_PREFIX): v for k, v in entries.items() if k.startswith(KEY_PREFIX)}
    meta: dict[str, Any] = {}
    if dedup:
        try:
            update = await update_dedup(app.store, app.settings, dedup)
        except InvalidValues as exc:
            raise InvalidValues([(KEY_PREFIX + f, m) for f, m in exc.problems]) from None
        meta = dedup_meta(update)
    others = [(k, _text(v), utcnow()) for k, v in entries.items() if not k.startswith(KEY_PREFIX)]
    async with app.store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO app_config (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            others,
        )
    return meta


def dedup_meta(update: Any) -> dict[str, Any]:
    """`recalculatedGroups` when confidences were recomputed, `analysisStale` when re-analysis
    is needed; neither when the change implies nothing."""
    meta: dict[str, Any] = {}
    if update.recalculated_groups is not None:
        meta["recalculatedGroups"] = update.recalculated_groups
    if update.analysis_stale:
        meta["analysisStale"] = True
    return meta


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@config.get("/api/v1/config", "The runtime configuration map", reply=Reply(data=CONFIG_MAP))
async def get_config(call: Call) -> Response:
    return ok(await config_map(call.app))


@config.put(
    "/api/v1/config",
    "Set one key or several",
    body=Body(
        {
            "anyOf": [
                strict({"key": KEY, "value": VALUE}, required=("key", "value")),
                strict(
                    {"settings": obj(additional=VALUE, propertyNames=KEY, minProperties=1)},
                    required=("settings",),
                ),
            ]
        },
        description='`{"key": K, "value": V}` or `{"settings": {K: V, ...}}`; stored as text.',
    ),
    reply=Reply(data=CONFIG_MAP, meta=CONFIG_META),
)
async def put_config(call: Call) -> Response:
    """Returns the whole map afterwards; `meta` as PUT /config/dedup when `dedup.*` changed."""
    body = call.body
    entries = {body["key"]: body["value"]} if "key" in body else body["settings"]
    meta = await write_config(call.app, entries)
    return ok(await config_map(call.app), meta or None)


CONNECTED = obj(
    {"connected": boolean(), "version": {"type": ["string", "null"]}, "documentCount": integer(0)},
    required=("connected", "version", "documentCount"),
)


@config.post(
    "/api/v1/config/test-connection",
    "Test the Paperless connection",
    body=Body(
        strict(
            {
                "url": string(pattern=r"^https?://[!-~]+$", maxLength=2000),
                "token": string(pattern="^[!-~]{1,500}$", description="Printable ASCII."),
                "username": string(maxLength=500),
                "password": string(maxLength=500),
            }
        ),
        required=False,
        description="With `url`: test these credentials (token, or username and password)."
        " Without: test the running configuration.",
    ),
    reply=Reply(data=CONNECTED),
    errors=("BAD_GATEWAY",),
)
async def test_connection(call: Call) -> Response:
    """One attempt, short timeout; any failure is 502 BAD_GATEWAY with Paperless' reason."""
    body = call.body or {}
    overrides: dict[str, Any] = {}
    if "url" in body:
        if not body.get("token") and not body.get("username"):
            raise invalid("token", "give a token, or a username and password, with url")
        overrides = {
            "url": body["url"],
            "token": body.get("token") or None,
            "username": body.get("username") or None,
            "password": body.get("password") or None,
        }
    try:
        client = probe_client(call.app.settings.paperless, **overrides)
    except PaperlessError as exc:
        if overrides:  # the URL in the request is unusable: the request is wrong, not Paperless
            raise invalid("url", str(exc)) from None
        raise
    async with client:
        return ok(await client.test_connection())
