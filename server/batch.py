"""Batch operations: status for many groups, deleting non-primary documents, purging deleted groups.

Deleting always goes through a plan (core/deletion.py): `POST .../preview` shows exactly which
documents would go and returns a token; `POST /batch/delete-non-primary` with that token and
`confirm: true` executes it as a resumable background job. The contract's `{groupIds, confirm}`
form builds, checks and executes the same plan in one call.
"""

from __future__ import annotations

from starlette.responses import Response

from ..core import deletion, review
from .api import Call, Reply, Resource
from .envelope import ok
from .params import Body
from .schemas import array, boolean, integer, obj, strict, string
from .shapes import GROUP_STATUS, JOB_STARTED

batch = Resource("Batch operations")

GROUP_IDS = array(string(minLength=1, maxLength=200), minItems=1, maxItems=1000)
CONFIRM = boolean(const=True, description="Must be true: documents are moved to the trash.")
PLAN = obj(
    {
        "planToken": string(),
        "expiresAt": string(),
        "groups": array(
            obj(
                {"groupId": string(), "primary": string(), "delete": array(string())},
                required=("groupId", "primary", "delete"),
            )
        ),
        "documentCount": integer(0),
    },
    required=("planToken", "expiresAt", "groups", "documentCount"),
)


@batch.post(
    "/api/v1/batch/status",
    "Set the status of many groups",
    body=Body(
        strict({"groupIds": GROUP_IDS, "status": GROUP_STATUS}, required=("groupIds", "status"))
    ),
    reply=Reply(data=obj({"updated": integer(0)}, required=("updated",))),
)
async def batch_status(call: Call) -> Response:
    """Ids that do not exist are skipped; `updated` counts the groups that do."""
    body = call.body
    updated = await review.set_status(call.app.store, body["groupIds"], body["status"])
    await call.app.untag_reviewed(body["groupIds"], body["status"])
    return ok({"updated": updated})


@batch.post(
    "/api/v1/batch/delete-non-primary/preview",
    "Plan the deletion of non-primary documents",
    body=Body(strict({"groupIds": GROUP_IDS}, required=("groupIds",))),
    reply=Reply(data=PLAN),
    errors=("NOT_FOUND", "CONFLICT"),
)
async def preview_delete(call: Call) -> Response:
    """Every group must exist, be pending and keep a primary; the plan expires in 15 minutes."""
    store = call.app.store
    plan = await deletion.build_plan(store, call.body["groupIds"])
    token, expires = await deletion.save_plan(store, plan)
    return ok(
        {
            "planToken": token,
            "expiresAt": expires,
            "groups": [
                {
                    "groupId": group.group_id,
                    "primary": str(group.primary),
                    "delete": [str(document) for document in group.delete],
                }
                for group in plan.groups
            ],
            "documentCount": plan.document_count,
        }
    )


@batch.post(
    "/api/v1/batch/delete-non-primary",
    "Delete non-primary documents (to the Paperless trash)",
    body=Body(
        {
            "anyOf": [
                strict(
                    {"planToken": string(), "confirm": CONFIRM}, required=("planToken", "confirm")
                ),
                strict(
                    {"groupIds": GROUP_IDS, "confirm": CONFIRM}, required=("groupIds", "confirm")
                ),
            ]
        },
        description="A previewed plan's token, or the groups themselves; `confirm` must be true.",
    ),
    reply=Reply(202, data=JOB_STARTED),
    errors=("NOT_FOUND", "CONFLICT", "JOB_ALREADY_RUNNING"),
)
async def delete_non_primary(call: Call) -> Response:
    """Runs as a `batch_operation` job; each group is checked against Paperless right before its
    deletes and skipped if a member changed. The job's result lists deleted, skipped and failed
    documents; fully deleted groups get the status `deleted`."""
    store, body = call.app.store, call.body
    token = body.get("planToken")
    if token is None:
        token, _ = await deletion.save_plan(
            store, await deletion.build_plan(store, body["groupIds"])
        )
    return ok({"jobId": await deletion.confirm(store, call.app.jobs, token)}, status=202)


@batch.post(
    "/api/v1/batch/purge-deleted",
    "Forget every group with the status deleted",
    reply=Reply(data=obj({"purged": integer(0)}, required=("purged",))),
)
async def purge_deleted(call: Call) -> Response:
    return ok({"purged": await review.purge_deleted(call.app.store)})
