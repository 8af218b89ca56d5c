"""The `dupeless` command line: errors print one line and exit non-zero (`--debug`: traceback)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..hooks.cli import add_check_arguments, cmd_check
from . import __version__
from .config import Settings, example_toml, load_settings
from .errors import DupelessError

log = logging.getLogger("dupeless")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the REST API."""
    import uvicorn

    from ..server.app import create_app
    from .demo import demo_paperless, is_demo

    settings = _settings(args)
    configure_logging(settings.server.log_level)
    demo = is_demo(settings)
    with contextlib.ExitStack() as stack:
        if demo:
            stack.enter_context(demo_paperless(settings))
        uvicorn.run(
            create_app(settings, demo=demo),
            host=settings.server.host,
            port=settings.server.port,
            log_level=settings.server.log_level,
        )
    return 0


def cmd_fake_paperless(args: argparse.Namespace) -> int:
    """Serve the fake Paperless alone with a generated library (for trying dupeless out)."""
    from .demo import sample_paperless
    from .fake_paperless import DEFAULT_TOKEN, serve

    fake = sample_paperless(args.documents, args.seed)
    if args.paperless_version:
        fake.set_version(args.paperless_version)
    with serve(fake, host=args.host, port=args.port) as url:
        print(f"fake Paperless {fake.flavour.version} at {url} (token {DEFAULT_TOKEN})")
        print("Ctrl-C to stop")
        threading.Event().wait()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the database schema."""
    from .store import Store

    settings = _settings(args)

    async def migrate() -> tuple[list[int], int]:
        store = await Store.open(settings.database_path, migrate=False)
        try:
            applied = await store.migrate()
            return applied, await store.schema_version()
        finally:
            await store.close()

    applied, version = asyncio.run(migrate())
    done = f"applied {', '.join(map(str, applied))}" if applied else "nothing to apply"
    print(f"{settings.database_path}: schema version {version} ({done})")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List loaded plugins, their versions and the hooks they implement."""
    from .pipeline import Pipeline

    plugins = Pipeline(_settings(args)).describe()
    if args.json:
        print(json.dumps(plugins, indent=2))
        return 0
    for plugin in plugins:
        origin = "built-in" if plugin["builtin"] else "installed"
        print(f"{plugin['name']} {plugin['version']} ({origin}): {', '.join(plugin['hooks'])}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync documents from the configured source (incremental unless --force)."""
    settings = _settings(args)
    params = {"force": args.force, "location": choose_source(settings, args.source)}
    result = run_job(settings, "sync", params, quiet=args.quiet)
    print(
        f"sync: {result['inserted']} new, {result['updated']} updated,"
        f" {result['unchanged']} unchanged, {result['deleted']} deleted, {result['failed']} failed"
    )
    if "analysis" in result:
        print(analysis_line(result["analysis"]))
    return 0


def analysis_line(result: dict[str, Any]) -> str:
    return (
        f"analysis: {result['documents_analysed']} documents, {result['pairs_scored']} pairs"
        f" scored, {result['groups_created']} groups created, {result['groups_updated']} updated,"
        f" {result['groups_removed']} removed"
    )


def cmd_analyze(args: argparse.Namespace) -> int:
    """Find duplicates: sync from `--source` first when given, then analyse (incremental)."""
    settings = _settings(args)
    if args.db:
        settings.database.path = str(args.db)
    if args.source:
        location = choose_source(settings, args.source)
        params = {"force": False, "location": location, "analyze": False}
        run_job(settings, "sync", params, quiet=args.quiet)
    result = run_job(settings, "analysis", {"force": args.force}, quiet=args.quiet)
    print(analysis_line(result))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the duplicate groups as JSON or CSV (to stdout or --output)."""
    from .export import export_groups

    settings = _settings(args)
    if args.db:
        settings.database.path = str(args.db)
    if not settings.database_path.exists():
        raise DupelessError(f"no database at {settings.database_path}")
    text = asyncio.run(export_groups(settings.database_path, args.format))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def choose_source(settings: Settings, source: str | None) -> str | None:
    """Apply `--source NAME[:LOCATION]`: NAME becomes the fetch provider; return LOCATION."""
    if not source:
        return None
    name, _, location = source.partition(":")
    settings.pipeline.fetch = name
    return location or None


def run_job(
    settings: Settings, job_type: str, params: dict[str, Any], *, quiet: bool = False
) -> dict[str, Any]:
    """Run a job in this process through the job runner, with a progress bar on a terminal.

    A job it starts in turn (the analysis after a sync) is waited for too, so nothing is left
    half done when the command returns; its result is added under the job type's name.
    """
    from .jobs import JobRunner
    from .pipeline import Pipeline
    from .store import Store
    from .tasks import register_job_handlers

    async def follow(runner: JobRunner, job_id: str, label: str) -> dict[str, Any]:
        with tqdm(total=100, desc=label, unit="%", disable=quiet or not sys.stderr.isatty()) as bar:
            while not (job := await runner.get(job_id))["completed_at"]:
                bar.n = round(job["progress"] * 100)
                bar.set_postfix_str(job["progress_message"] or "", refresh=True)
                await asyncio.sleep(0.2)
            bar.n = round(job["progress"] * 100)
            bar.refresh()
        job = await runner.wait(job_id)
        if job["status"] != "completed":
            raise DupelessError(f"{label} {job['status']}: {job['error_message'] or ''}".strip())
        return json.loads(job["result_json"] or "{}")

    async def run() -> dict[str, Any]:
        pipeline = Pipeline(settings)
        pipeline.check()
        pipeline.start()
        store = await Store.open(
            settings.database_path, busy_timeout_ms=settings.database.busy_timeout_ms
        )
        runner = JobRunner(store, progress_interval=0.1)
        register_job_handlers(runner, pipeline)
        try:
            result = await follow(runner, await runner.start(job_type, params), job_type)
            if result.get("analysisJobId"):
                result["analysis"] = await follow(runner, result["analysisJobId"], "analysis")
            return result
        finally:
            await runner.shutdown(interrupted=True)
            await store.close()

    return asyncio.run(run())


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate a configuration file (with the environment applied) without starting anything."""
    load_settings(args.file)
    print(f"{args.file}: configuration is valid")
    return 0


def cmd_config_example(_: argparse.Namespace) -> int:
    """Print a configuration file with every key, its default and its documentation."""
    sys.stdout.write(example_toml())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dupeless", description="Find near-duplicate documents in Paperless-ngx."
    )
    parser.add_argument("--version", action="version", version=f"dupeless {__version__}")
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], parent=commands):
        sub = parent.add_parser(name, help=handler.__doc__, description=handler.__doc__)
        sub.set_defaults(handler=handler)
        return sub

    add("serve", cmd_serve)
    add("migrate", cmd_migrate)
    sync = add("sync", cmd_sync)
    sync.add_argument("--force", action="store_true", help="full sync instead of incremental")
    sync.add_argument(
        "--source",
        metavar="NAME[:LOCATION]",
        help="fetch provider and location, e.g. jsonl:docs.jsonl",
    )
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    analyze = add("analyze", cmd_analyze)
    analyze.add_argument("--force", action="store_true", help="re-analyse every document")
    analyze.add_argument(
        "--source",
        metavar="NAME[:LOCATION]",
        help="sync from this source first, e.g. jsonl:docs.jsonl",
    )
    analyze.add_argument("--db", type=Path, help="database file (default from config)")
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    export = commands.add_parser("export", help="Export results.")
    export_commands = export.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    duplicates = add("duplicates", cmd_export, export_commands)
    duplicates.add_argument("--format", choices=("json", "csv"), default="json")
    duplicates.add_argument("--db", type=Path, help="database file (default from config)")
    duplicates.add_argument("--output", "-o", type=Path, help="file to write (default stdout)")
    add_check_arguments(add("check", cmd_check))
    fake = add("fake-paperless", cmd_fake_paperless)
    fake.add_argument("--documents", type=int, default=400, help="library size (default 400)")
    fake.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8001)
    fake.add_argument(
        "--paperless-version", help="server version to act as, e.g. 2.20.15 (default 3.0.5)"
    )
    add("plugins", cmd_plugins).add_argument("--json", action="store_true", help="JSON output")
    config = commands.add_parser("config", help="Check or show configuration.")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    add("check", cmd_config_check, config_commands).add_argument("file", type=Path)
    add("example", cmd_config_example, config_commands)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per Paperless request is noise at info; dupeless logs what matters itself.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("dupeless: interrupted", file=sys.stderr)
        return 130
    except DupelessError as exc:
        if args.debug:
            raise
        print(f"dupeless: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"dupeless: unexpected error: {type(exc).__name__}: {exc}"
            " (run with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
