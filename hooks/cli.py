"""`dupeless check DOC_ID`: the post-consume check, run from the command line.

The same path as a hook event: the event is recorded (source `cli`), the document is fetched,
stored and analysed against the library, written back to Paperless when that is on (unless
`--no-write-back`), and the verdict is printed (one line, or JSON with `--json`).
Exit status: 0 when the document was checked, 1 when the source has no such document.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import attrs

from ..core.config import load_settings
from ..core.errors import DupelessError
from ..core.hook_queue import HookQueue, record_event
from ..core.hook_settings import HookSettings
from ..core.pipeline import Pipeline
from ..core.store import Store
from ..core.tasks import open_source


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `dupeless check`."""
    parser.add_argument("document_id", type=int, metavar="DOC_ID", help="Paperless document id")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--no-write-back", action="store_true", help="do not tag or note the document in Paperless"
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Check one document for duplicates now and print the verdict."""
    if args.document_id < 1:
        raise DupelessError(f"DOC_ID must be a positive document id, got {args.document_id}")
    settings = load_settings(getattr(args, "config", None))
    hooks = HookSettings.from_settings(settings)
    if getattr(args, "no_write_back", False):
        hooks = attrs.evolve(hooks, write_back=False)
    event = asyncio.run(run_check(settings, hooks, args.document_id))
    if event is None or event["status"] != "done":
        error = (event or {}).get("error") or "the check did not run"
        raise DupelessError(f"check of document {args.document_id} failed: {error}")
    if getattr(args, "json", False):
        print(json.dumps(event["verdict"], indent=2))
    else:
        print(event["line"])
    return 0 if event["verdict"]["found"] else 1


async def run_check(settings, hooks: HookSettings, document_id: int):
    """Record a `cli` event and process it in this process; returns the event."""
    pipeline = Pipeline(settings)
    pipeline.check()
    store = await Store.open(
        settings.database_path, busy_timeout_ms=settings.database.busy_timeout_ms
    )
    queue = HookQueue(store, pipeline, attrs.evolve(hooks, max_attempts=1))
    try:
        event_id = await record_event(store, document_id, "cli", {"document_id": document_id})
        async with open_source(pipeline) as (source, _key):
            return await queue.process(event_id, source)
    finally:
        await queue.stop()
        await store.close()
