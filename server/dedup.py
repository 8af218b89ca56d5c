"""The dedup settings in effect (GET) and partial changes to them (PUT), with camelCase names.

The request schema is derived from DedupSettings' declarations (types and ranges), so a new
setting appears here by itself; the rules across fields and the recalculation live in
core/dedup_config.py. The legacy name `confidenceWeightDiscriminative` is accepted and stored as
`discriminativePenaltyStrength`.
"""

from __future__ import annotations

from typing import Any

import attrs
from starlette.responses import Response

from ..core.dedup_config import FIELDS, LEGACY_NAMES, as_api, load_dedup, update_dedup
from .api import Call, Reply, Resource
from .config import CONFIG_META, dedup_meta
from .envelope import ok
from .params import Body
from .schemas import Schema, boolean, integer, number, obj, strict

dedup = Resource("Configuration")


def _setting_schema(field: attrs.Attribute) -> Schema:
    low, high = field.metadata.get("range") or (None, None)
    described = {"description": field.metadata["doc"]}
    if field.type is bool:
        return boolean(**described)
    maker = integer if field.type is int else number
    return maker(low, high, **described)


SETTINGS = {name: _setting_schema(field) for name, field in FIELDS.items()}
DEDUP = obj(SETTINGS, required=tuple(SETTINGS))
DEDUP_CHANGE = strict(
    {
        **SETTINGS,
        **{
            old: {**SETTINGS[new], "deprecated": True, "description": f"Old name of {new}."}
            for old, new in LEGACY_NAMES.items()
        },
    },
    minProperties=1,
)


@dedup.get("/api/v1/config/dedup", "The dedup settings in effect", reply=Reply(data=DEDUP))
async def get_dedup(call: Call) -> Response:
    return ok(as_api(await load_dedup(call.app.store, call.app.settings)))


@dedup.put(
    "/api/v1/config/dedup",
    "Change dedup settings (partial)",
    body=Body(
        DEDUP_CHANGE,
        description="Any subset of the settings. confidenceWeightJaccard +"
        " confidenceWeightFuzzy must sum to 100; numBands must divide numPermutations.",
    ),
    reply=Reply(data=DEDUP, meta=CONFIG_META),
)
async def put_dedup(call: Call) -> Response:
    """`meta.recalculatedGroups` when a weight or the penalty strength changed (confidences are
    recomputed from the stored components at once); `meta.analysisStale` when a signature,
    candidate or threshold setting changed (run an analysis)."""
    changes: dict[str, Any] = call.body
    update = await update_dedup(call.app.store, call.app.settings, changes)
    return ok(as_api(update.dedup), dedup_meta(update) or None)
