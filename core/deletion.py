"""Deleting the non-primary documents of duplicate groups: always through a plan, never twice.

1. `build_plan` reads the groups (each must exist, be `pending` and have a primary; no document
   may be deleted that another planned group keeps) and records every member's `modified`.
   `save_plan` stores it under a token that expires after PLAN_TTL.
2. `confirm` claims the plan once and starts a resumable `batch_operation` job carrying the plan.
3. The job handles one group at a time. Right before a group's deletes it checks the store (still
   pending, same primary and members) and Paperless (every remaining member still there and not
   modified since the plan); a failed check skips the whole group. Each delete moves the document
   to the Paperless trash and is checkpointed: the document in flight is saved before the DELETE
   is sent, so after a crash the resumed job asks Paperless whether it is gone instead of
   deleting it again. A group whose deletes all succeeded gets the status `deleted`.
4. `trashed_documents` remembers what dupeless trashed, so emptying the trash can default to
   exactly those documents.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import asdict, define, field, frozen

from .config import Settings
from .errors import ConflictError, JobAlreadyRunning, NotFoundError
from .jobs import JobContext, JobRunner
from .paperless import PaperlessClient, PaperlessError, PaperlessNotFound, parse_instant
from .review import set_status
from .store import Store, chunks, marks, utcnow

JOB_TYPE = "batch_operation"
OPERATION = "delete_non_primary"
PLAN_TTL = timedelta(minutes=15)


@frozen
class PlannedGroup:
    """One group of a plan: the document kept, those deleted, and each member's `modified`."""

    group_id: str
    primary: int
    delete: tuple[int, ...] = field(converter=tuple)
    #: str(document id) -> the `modified` instant the store had when the plan was made.
    modified: dict[str, str | None] = field(factory=dict)

    @property
    def members(self) -> set[int]:
        return {self.primary, *self.delete}


@frozen
class Plan:
    groups: tuple[PlannedGroup, ...] = field(converter=tuple)

    @property
    def document_count(self) -> int:
        return sum(len(group.delete) for group in self.groups)

    def as_json(self) -> dict[str, Any]:
        return {"groups": [asdict(group) for group in self.groups]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(tuple(PlannedGroup(**group) for group in data["groups"]))


# --- plans ----------------------------------------------------------------------------------


async def build_plan(store: Store, group_ids: Sequence[str]) -> Plan:
    """The plan for these groups; NotFoundError or ConflictError name the groups in the way."""
    wanted = list(dict.fromkeys(group_ids))
    groups: dict[str, Any] = {}
    members: dict[str, dict[int, str | None]] = {gid: {} for gid in wanted}
    for chunk in chunks(wanted):
        for row in await store.fetchall(
            "SELECT id, status, primary_document_id FROM duplicate_groups"
            f" WHERE id IN ({marks(chunk)})",
            chunk,
        ):
            groups[row["id"]] = row
        for row in await store.fetchall(
            "SELECT gm.group_id, d.id, d.modified_at FROM group_members gm"
            f" JOIN documents d ON d.id = gm.document_id WHERE gm.group_id IN ({marks(chunk)})",
            chunk,
        ):
            members[row[0]][row[1]] = row[2]
    missing = [gid for gid in wanted if gid not in groups]
    if missing:
        raise NotFoundError(f"Duplicate groups not found: {', '.join(missing)}", missing)
    not_pending = [gid for gid in wanted if groups[gid]["status"] != "pending"]
    if not_pending:
        raise ConflictError(
            f"Only pending groups can be deleted; not pending: {', '.join(not_pending)}",
            not_pending,
        )
    no_primary = [gid for gid in wanted if groups[gid]["primary_document_id"] not in members[gid]]
    if no_primary:
        raise ConflictError(
            f"Groups without a primary document: {', '.join(no_primary)}", no_primary
        )
    plan = Plan(
        PlannedGroup(
            group_id=gid,
            primary=groups[gid]["primary_document_id"],
            delete=sorted(set(members[gid]) - {groups[gid]["primary_document_id"]}),
            modified={str(doc): modified for doc, modified in sorted(members[gid].items())},
        )
        for gid in wanted
    )
    _check_disjoint(plan)
    return plan


def _check_disjoint(plan: Plan) -> None:
    """A document may be deleted once, and never when another planned group keeps it."""
    kept = {group.primary for group in plan.groups}
    seen: set[int] = set()
    clashing = []
    for group in plan.groups:
        if kept & set(group.delete) or seen & set(group.delete):
            clashing.append(group.group_id)
        seen.update(group.delete)
    if clashing:
        raise ConflictError(
            "These groups share documents with other groups of the request; delete them"
            f" separately: {', '.join(clashing)}",
            clashing,
        )


async def save_plan(store: Store, plan: Plan) -> tuple[str, str]:
    """Store a plan; returns its token and expiry instant. Expired plans are dropped here."""
    token = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    expires = _stamp(now + PLAN_TTL)
    async with store.transaction() as conn:
        await conn.execute(
            "DELETE FROM delete_plans WHERE expires_at < ? AND confirmed_at IS NULL",
            (_stamp(now),),
        )
        await conn.execute(
            "INSERT INTO delete_plans (token, plan, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (token, json.dumps(plan.as_json()), _stamp(now), expires),
        )
    return token, expires


def _stamp(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def load_plan(store: Store, token: str) -> Plan:
    """The unconfirmed, unexpired plan stored under `token`."""
    row = await store.fetchone("SELECT * FROM delete_plans WHERE token = ?", (token,))
    if row is None:
        raise NotFoundError("No delete plan with this token; preview the deletion again")
    if row["confirmed_at"] is not None:
        raise ConflictError(f"This plan was already confirmed (job {row['job_id']})")
    if row["expires_at"] < utcnow():
        raise ConflictError(f"This plan expired at {row['expires_at']}; preview it again")
    return Plan.from_json(json.loads(row["plan"]))


async def verify_plan(store: Store, plan: Plan) -> None:
    """ConflictError when a planned group changed since the preview (status, primary, members)."""
    current = await build_plan(store, [group.group_id for group in plan.groups])
    changed = [
        old.group_id
        for old, new in zip(plan.groups, current.groups, strict=True)
        if (old.primary, old.delete) != (new.primary, new.delete)
    ]
    if changed:
        raise ConflictError(
            f"Groups changed since the preview; preview again: {', '.join(changed)}", changed
        )


async def confirm(store: Store, runner: JobRunner, token: str) -> str:
    """Claim the plan (once) and start the job that executes it; returns the job id."""
    plan = await load_plan(store, token)
    await verify_plan(store, plan)
    claimed = await store.execute(
        "UPDATE delete_plans SET confirmed_at = ? WHERE token = ? AND confirmed_at IS NULL",
        (utcnow(), token),
    )
    if not claimed:
        raise ConflictError("This plan was already confirmed")
    try:
        job_id = await runner.start(
            JOB_TYPE, {"operation": OPERATION, "planToken": token, "plan": plan.as_json()}
        )
    except JobAlreadyRunning:
        await store.execute("UPDATE delete_plans SET confirmed_at = NULL WHERE token = ?", (token,))
        raise
    await store.execute("UPDATE delete_plans SET job_id = ? WHERE token = ?", (job_id, token))
    return job_id


# --- the job --------------------------------------------------------------------------------


@define
class Progress:
    """The job's checkpoint: every document's outcome, every finished group, the delete in
    flight (saved before its DELETE is sent)."""

    outcomes: dict[str, dict[str, Any]] = field(factory=dict)
    groups: dict[str, str] = field(factory=dict)
    inflight: dict[str, Any] | None = None

    @classmethod
    def from_checkpoint(cls, checkpoint: Any) -> Progress:
        return cls(**checkpoint) if checkpoint else cls()

    def record(self, group_id: str, document: int, status: str, **why: str) -> None:
        self.outcomes[str(document)] = {"status": status, "groupId": group_id, **why}

    def result(self) -> dict[str, Any]:
        def listed(status: str) -> list[dict[str, Any]]:
            return [
                {"documentId": doc, **{k: v for k, v in out.items() if k != "status"}}
                for doc, out in self.outcomes.items()
                if out["status"] == status
            ]

        return {
            "operation": OPERATION,
            "deleted": [doc for doc, out in self.outcomes.items() if out["status"] == "deleted"],
            "skipped": listed("skipped"),
            "failed": listed("failed"),
            "groups": {
                status: sorted(gid for gid, done in self.groups.items() if done == status)
                for status in ("deleted", "skipped", "partial")
            },
        }


def register(runner: JobRunner, settings: Settings) -> None:
    """Make `batch_operation` jobs runnable; they resume from their checkpoint after a crash."""

    async def batch_operation(ctx: JobContext) -> dict[str, Any]:
        operation = ctx.params.get("operation")
        if operation != OPERATION:
            raise ValueError(f"unknown batch operation {operation!r}")
        async with PaperlessClient.from_settings(settings.paperless) as client:
            return await run_plan(ctx, client, Plan.from_json(ctx.params["plan"]))

    runner.register(JOB_TYPE, batch_operation, resumable=True)


async def run_plan(ctx: JobContext, client: PaperlessClient, plan: Plan) -> dict[str, Any]:
    progress = Progress.from_checkpoint(ctx.checkpoint)
    if progress.inflight is not None:
        await _settle_inflight(ctx, client, progress)
    total = max(plan.document_count, 1)
    for group in plan.groups:
        if group.group_id in progress.groups:
            continue
        ctx.raise_if_cancelled()
        await _run_group(ctx, client, group, progress)
        await ctx.save_checkpoint(asdict(progress))
        deleted = sum(out["status"] == "deleted" for out in progress.outcomes.values())
        await ctx.progress(
            len(progress.outcomes) / total, f"Deleted {deleted} of {plan.document_count}"
        )
    return progress.result()


async def _settle_inflight(ctx: JobContext, client: PaperlessClient, progress: Progress) -> None:
    """After a crash: the DELETE in flight may or may not have happened; Paperless knows."""
    group_id, document = progress.inflight["groupId"], progress.inflight["documentId"]
    if await client.get_document(document) is None:
        await _remember_trashed(ctx, group_id, document)
        progress.record(group_id, document, "deleted")
    progress.inflight = None
    await ctx.save_checkpoint(asdict(progress))


async def _run_group(
    ctx: JobContext, client: PaperlessClient, group: PlannedGroup, progress: Progress
) -> None:
    remaining = [doc for doc in group.delete if str(doc) not in progress.outcomes]
    started = len(remaining) < len(group.delete)
    try:
        reason = await _recheck(ctx.store, client, group, remaining, started)
    except PaperlessError as exc:
        for document in remaining:
            progress.record(group.group_id, document, "failed", error=str(exc))
        progress.groups[group.group_id] = "partial"
        return
    if reason:
        for document in remaining:
            progress.record(group.group_id, document, "skipped", reason=reason)
        progress.groups[group.group_id] = "skipped"
        return
    for document in remaining:
        ctx.raise_if_cancelled()
        progress.inflight = {"groupId": group.group_id, "documentId": document}
        await ctx.save_checkpoint(asdict(progress))
        try:
            await client.delete_document(document)
        except PaperlessNotFound:
            progress.record(group.group_id, document, "skipped", reason="gone from Paperless")
        except PaperlessError as exc:
            progress.record(group.group_id, document, "failed", error=str(exc))
        else:
            await _remember_trashed(ctx, group.group_id, document)
            progress.record(group.group_id, document, "deleted")
        progress.inflight = None
        await ctx.save_checkpoint(asdict(progress))
    if all(progress.outcomes[str(doc)]["status"] == "deleted" for doc in group.delete):
        await set_status(ctx.store, [group.group_id], "deleted")
        progress.groups[group.group_id] = "deleted"
    else:
        progress.groups[group.group_id] = "partial"


async def _recheck(
    store: Store,
    client: PaperlessClient,
    group: PlannedGroup,
    remaining: list[int],
    started: bool,
) -> str | None:
    """Why the group must be skipped now, or None. A group this job already started is not
    compared with the store again (a sync may have removed the documents it trashed)."""
    if not started:
        try:
            current = (await build_plan(store, [group.group_id])).groups[0]
        except (NotFoundError, ConflictError) as exc:
            return f"the group changed since the plan: {exc}"
        if (current.primary, current.delete) != (group.primary, group.delete):
            return "the group's primary or members changed since the plan"
    for document in [group.primary, *remaining]:
        found = await client.get_document(document)
        if found is None:
            return f"document {document} is no longer in Paperless"
        planned = parse_instant(group.modified.get(str(document)))
        if planned is None or parse_instant(found.get("modified")) != planned:
            return f"document {document} was modified in Paperless since the plan"
    return None


async def _remember_trashed(ctx: JobContext, group_id: str, document: int) -> None:
    await ctx.store.execute(
        "INSERT OR REPLACE INTO trashed_documents (document_id, group_id, job_id, trashed_at)"
        " VALUES (?, ?, ?, ?)",
        (document, group_id, ctx.id, utcnow()),
    )


# --- the trash ------------------------------------------------------------------------------


async def trash_counts(store: Store, client: PaperlessClient) -> tuple[int, int]:
    """(documents in the Paperless trash, of which dupeless put there)."""
    in_trash = await client.trash_ids()
    ours = {row[0] for row in await store.fetchall("SELECT document_id FROM trashed_documents")}
    return len(in_trash), len(in_trash & ours)


async def empty_trash(store: Store, client: PaperlessClient, *, everything: bool = False) -> int:
    """Delete for good what dupeless trashed (or the whole trash); returns how many documents.

    Only ids still in the trash are sent (Paperless refuses the whole request otherwise), and
    rows for documents restored since are forgotten.
    """
    in_trash = await client.trash_ids()
    if everything:
        chosen = in_trash
        if chosen:
            await client.empty_trash(None)
        await store.execute("DELETE FROM trashed_documents")
        return len(chosen)
    ours = {row[0] for row in await store.fetchall("SELECT document_id FROM trashed_documents")}
    chosen = ours & in_trash
    if chosen:
        await client.empty_trash(sorted(chosen))
    forget = sorted(ours)
    async with store.transaction() as conn:
        for chunk in chunks(forget):
            await conn.execute(
                f"DELETE FROM trashed_documents WHERE document_id IN ({marks(chunk)})", chunk
            )
    return len(chosen)
