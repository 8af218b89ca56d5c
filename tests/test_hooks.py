"""The Paperless hooks end to end: the real post-consume script as a subprocess, with the
environment Paperless sets, against a served dupeless (hook endpoint + hook queue) and a served
fake Paperless."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest
from dupeless.core.hook_queue import Turns, get_event, record_event
from dupeless.core.hook_queue import start as start_hooks
from dupeless.core.hook_settings import HookSettings
from dupeless.core.jobs import JobRunner
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store
from dupeless.core.writeback import NOTE_PREFIX, remove_duplicate_tag
from dupeless.server.app import create_app
from dupeless.server.state import AppState

SCRIPT = Path(__file__).resolve().parents[1] / "hooks" / "post_consume.py"
TOKEN = "hook-secret-123"
PUBLIC_URL = "http://dupeless.example"

ORIGINAL = (
    "ACME Widgets GmbH Invoice number 2024-0815 dated 12 March 2024. Customer number 4711."
    " Dear Mr Smith, thank you for your order of industrial grade widgets for the northern"
    " warehouse. We deliver three hundred blue widgets, forty steel brackets, twelve rolls of"
    " packing tape and one calibration kit for the assembly line. Payment is due within thirty"
    " days of the invoice date without deduction. Please transfer the total amount of 4,312.50"
    " EUR to our account at Sparkasse Musterstadt quoting the invoice number. Delivery was made"
    " on 10 March 2024 by our own truck. Questions about this invoice go to accounts at acme."
    " Kind regards, your ACME Widgets accounting team."
)
# A re-scan: a few OCR slips, the same invoice.
RESCAN = (
    ORIGINAL.replace("industrial", "industria1")
    .replace("warehouse", "warehouse,")
    .replace("calibration", "ca1ibration")
    .replace("Kind regards", "Kind  regards")
)
UNIQUE = (
    "Stadtwerke Musterstadt annual statement for electricity and water 2023. Meter number"
    " 99-1234-55 at Gartenweg 7. Your consumption of electricity was 2,841 kilowatt hours,"
    " which is eight percent lower than in the previous year; water consumption was 61 cubic"
    " metres. The monthly advance payment from April onwards is set to 84 EUR. A credit of"
    " 112.40 EUR will be refunded to your bank account within fourteen days. Tips for saving"
    " energy and our new green tariff are described on the back of this letter. With best"
    " wishes from your municipal utility customer service in Musterstadt."
)


# --- a served dupeless (the real app, hooks wired in) ------------------------------------------


@contextlib.contextmanager
def running_dupeless(settings, **hooks) -> Iterator[str]:
    """Serve `create_app(settings)` with `[hooks]` set from the defaults below and `hooks`."""
    from dupeless.core.fake_paperless import serve

    for name, value in {"token": TOKEN, "public_url": PUBLIC_URL, **hooks}.items():
        setattr(settings.hooks, name, value)
    DATABASES[:] = [settings.database_path]
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
def library(fake_paperless):
    """The fake Paperless with an original, an unrelated document and a re-scan of the first."""
    DATABASES.clear()
    lib = fake_paperless.library
    original = lib.add_document(title="ACME invoice", content=ORIGINAL, correspondent="ACME")
    unique = lib.add_document(title="Utility statement", content=UNIQUE, correspondent="Stadtwerke")
    rescan = lib.add_document(title="Scan 0815", content=RESCAN)
    return fake_paperless, {"original": original, "unique": unique, "rescan": rescan}


@pytest.fixture
def dupeless(paperless_settings) -> Iterator[str]:
    with running_dupeless(paperless_settings) as url:
        yield url


# --- the script as Paperless runs it ---------------------------------------------------------


def paperless_env(document_id: int, dupeless_url: str, **extra: str) -> dict[str, str]:
    """The environment Paperless 3.x sets for the post-consume script (paperless-facts.md),
    plus what the admin adds for dupeless."""
    media = "/usr/src/paperless/media/documents"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DOCUMENT_ID": str(document_id),
        "DOCUMENT_FILE_NAME": "2026-11-22 ACME invoice.txt",
        "DOCUMENT_CREATED": "2026-11-22",
        "DOCUMENT_MODIFIED": "2026-11-22 12:20:38.689643+00:00",
        "DOCUMENT_ADDED": "2026-11-22 12:20:38.601311+00:00",
        "DOCUMENT_SOURCE_PATH": f"{media}/originals/{document_id:07}.txt",
        "DOCUMENT_ARCHIVE_PATH": "None",
        "DOCUMENT_THUMBNAIL_PATH": f"{media}/thumbnails/{document_id:07}.webp",
        "DOCUMENT_DOWNLOAD_URL": f"/api/documents/{document_id}/download/",
        "DOCUMENT_THUMBNAIL_URL": f"/api/documents/{document_id}/thumb/",
        "DOCUMENT_OWNER": "admin",
        "DOCUMENT_CORRESPONDENT": "None",
        "DOCUMENT_TYPE": "None",
        "DOCUMENT_TAGS": "",
        "DOCUMENT_ORIGINAL_FILENAME": "invoice-acme.txt",
        "TASK_ID": str(uuid.uuid4()),
        "DUPELESS_URL": dupeless_url,
        "DUPELESS_HOOK_TOKEN": TOKEN,
    }
    if "PYENV_ROOT" in os.environ:
        env["PYENV_ROOT"] = os.environ["PYENV_ROOT"]
    env.update(extra)
    return env


def legacy_args(env: dict[str, str]) -> list[str]:
    """The eight positional arguments Paperless 2.x also passed."""
    return [
        env["DOCUMENT_ID"],
        env["DOCUMENT_FILE_NAME"],
        env["DOCUMENT_SOURCE_PATH"],
        env["DOCUMENT_THUMBNAIL_PATH"],
        env["DOCUMENT_DOWNLOAD_URL"],
        env["DOCUMENT_THUMBNAIL_URL"],
        env["DOCUMENT_CORRESPONDENT"],
        env["DOCUMENT_TAGS"],
    ]


def interpreter() -> list[str]:
    """Run the script through its shebang, as Paperless does, when `python3` is on PATH."""
    return [] if shutil.which("python3") else [sys.executable]


def run_script(env: dict[str, str], args: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*interpreter(), str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


#: The database of the dupeless being served, so checks on Paperless can wait for write-backs.
DATABASES: list[Path] = []


def settle(timeout: float = 20) -> None:
    """Wait until no hook event is pending or processing (write-back ends after the verdict)."""
    deadline = time.monotonic() + timeout
    for database in DATABASES:
        while time.monotonic() < deadline:
            with contextlib.closing(sqlite3.connect(database)) as conn:
                left = conn.execute(
                    "SELECT COUNT(*) FROM hook_events WHERE status IN ('pending', 'processing')"
                ).fetchone()[0]
            if not left:
                break
            time.sleep(0.02)


def tag_id(fake, name: str = "duplicate") -> int | None:
    settle()
    found = [tag["id"] for tag in fake.library.list_entities("tags") if tag["name"] == name]
    return found[0] if found else None


def doc_tags(fake, document_id: int) -> list[int]:
    settle()
    return list(fake.library.documents[document_id].tags)


def doc_notes(fake, document_id: int) -> list[str]:
    settle()
    return [note["note"] for note in fake.library.notes(document_id)]


def events(settings) -> list[sqlite3.Row]:
    settle()
    conn = sqlite3.connect(settings.database_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM hook_events ORDER BY id").fetchall()
    finally:
        conn.close()


def group_count(settings) -> int:
    conn = sqlite3.connect(settings.database_path)
    try:
        return conn.execute("SELECT COUNT(*) FROM duplicate_groups").fetchone()[0]
    finally:
        conn.close()


# --- tests -----------------------------------------------------------------------------------


def test_script_is_executable_and_standard_library_only():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    # No third-party import: the script must start in a bare interpreter (-I, no site-packages).
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import runpy; runpy.run_path({str(SCRIPT)!r})"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_duplicate_is_tagged_and_noted_unique_left_alone(library, dupeless, paperless_settings):
    fake, ids = library
    for key in ("original", "unique"):
        result = run_script(paperless_env(ids[key], dupeless))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"dupeless: document {ids[key]} has no duplicate"
        assert result.stderr == ""

    result = run_script(paperless_env(ids["rescan"], dupeless))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(
        f"dupeless: document {ids['rescan']} is a possible duplicate of #{ids['original']}"
    )
    assert len(result.stdout.splitlines()) == 1

    duplicate = tag_id(fake)
    assert duplicate is not None
    assert duplicate in doc_tags(fake, ids["rescan"])
    [note] = doc_notes(fake, ids["rescan"])
    assert note.startswith(NOTE_PREFIX)
    assert f"#{ids['original']}" in note
    assert "confidence 0." in note or "confidence 1.00" in note
    assert f"{PUBLIC_URL}/api/v1/duplicates/" in note
    # The older document and the unrelated one are never touched.
    for key in ("original", "unique"):
        assert duplicate not in doc_tags(fake, ids[key])
        assert doc_notes(fake, ids[key]) == []

    rows = events(paperless_settings)
    assert [row["status"] for row in rows] == ["done"] * 3
    assert {row["source"] for row in rows} == {"post_consume"}
    assert all(TOKEN not in row["payload"] for row in rows)
    payload = json.loads(rows[-1]["payload"])
    assert payload["archive_path"] is None and payload["correspondent"] is None
    assert payload["download_url"] == f"/api/documents/{ids['rescan']}/download/"


def test_paperless_2x_arguments_are_ignored(library, dupeless):
    fake, ids = library
    run_script(paperless_env(ids["original"], dupeless))
    env = paperless_env(ids["rescan"], dupeless)
    result = run_script(env, legacy_args(env))
    assert result.returncode == 0, result.stderr
    assert "possible duplicate of #" in result.stdout
    assert tag_id(fake) in doc_tags(fake, ids["rescan"])


def test_repeated_event_is_idempotent(library, dupeless, paperless_settings):
    fake, ids = library
    run_script(paperless_env(ids["original"], dupeless))
    first = run_script(paperless_env(ids["rescan"], dupeless))
    groups = group_count(paperless_settings)
    tags, notes = doc_tags(fake, ids["rescan"]), doc_notes(fake, ids["rescan"])
    for _ in range(2):
        again = run_script(paperless_env(ids["rescan"], dupeless))
        assert again.returncode == 0
        assert again.stdout == first.stdout
    assert group_count(paperless_settings) == groups == 1
    assert doc_tags(fake, ids["rescan"]) == tags
    assert doc_notes(fake, ids["rescan"]) == notes
    assert len(notes) == 1


def test_write_back_can_be_turned_off(library, paperless_settings):
    fake, ids = library
    with running_dupeless(paperless_settings, write_back=False) as url:
        run_script(paperless_env(ids["original"], url))
        result = run_script(paperless_env(ids["rescan"], url))
    assert "possible duplicate" in result.stdout
    assert tag_id(fake) is None
    assert doc_notes(fake, ids["rescan"]) == []


def test_remove_duplicate_tag(library, dupeless, paperless_settings):
    fake, ids = library
    run_script(paperless_env(ids["original"], dupeless))
    run_script(paperless_env(ids["rescan"], dupeless))
    duplicate = tag_id(fake)
    assert duplicate in doc_tags(fake, ids["rescan"])

    async def remove(**options):
        store = await Store.open(paperless_settings.database_path)
        try:
            kept = await remove_duplicate_tag(
                paperless_settings, [ids["rescan"]], store=store, **options
            )
            await store.execute("UPDATE duplicate_groups SET status = 'false_positive'")
            removed = await remove_duplicate_tag(
                paperless_settings, [ids["rescan"], ids["original"]], store=store
            )
            return kept, removed
        finally:
            await store.close()

    kept, removed = asyncio.run(remove())
    assert kept == []  # still in a pending group
    assert removed == [ids["rescan"]]
    assert duplicate not in doc_tags(fake, ids["rescan"])
    assert tag_id(fake) == duplicate  # the tag itself stays


def test_dupeless_down_exits_0_with_a_warning_or_1_when_strict(library):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    _, ids = library
    result = run_script(paperless_env(ids["original"], closed))
    assert result.returncode == 0
    assert result.stdout == ""
    assert "WARNING" in result.stderr and "cannot reach dupeless" in result.stderr

    strict = run_script(paperless_env(ids["original"], closed, DUPELESS_HOOK_STRICT="1"))
    assert strict.returncode == 1
    assert "cannot reach dupeless" in strict.stderr


def test_slow_dupeless_times_out_quickly(library):
    _, ids = library
    with socket.socket() as sock:  # accepts connections (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        result = run_script(paperless_env(ids["original"], url, DUPELESS_HOOK_TIMEOUT="0.5"))
        elapsed = time.monotonic() - started
    assert result.returncode == 0
    assert "WARNING" in result.stderr
    assert elapsed < 5


def test_missing_configuration_never_fails_consumption(library):
    _, ids = library
    env = paperless_env(ids["original"], "http://127.0.0.1:9")
    del env["DUPELESS_URL"]
    result = run_script(env)
    assert result.returncode == 0
    assert "DUPELESS_URL is not set" in result.stderr


def test_bad_token_is_refused(library, dupeless, paperless_settings):
    _, ids = library
    result = run_script(paperless_env(ids["original"], dupeless, DUPELESS_HOOK_TOKEN="wrong"))
    assert result.returncode == 0
    assert "HTTP 401" in result.stderr
    strict = run_script(
        paperless_env(
            ids["original"], dupeless, DUPELESS_HOOK_TOKEN="wrong", DUPELESS_HOOK_STRICT="1"
        )
    )
    assert strict.returncode == 1
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Hook-Token": "nope"}):
        response = httpx.post(
            f"{dupeless}/api/v1/hooks/document-consumed", json={"doc_id": 1}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert events(paperless_settings) == []


def test_no_token_configured_refuses_with_a_hint(library, paperless_settings):
    with running_dupeless(paperless_settings, token="") as url:
        response = httpx.post(
            f"{url}/api/v1/hooks/document-consumed",
            json={"doc_id": 1},
            headers={"Authorization": "Bearer anything"},
        )
    assert response.status_code == 401
    assert "DUPELESS_HOOK_TOKEN" in response.json()["error"]["message"]


def test_webhook_json_and_form_bodies(library, dupeless, paperless_settings):
    fake, ids = library
    url = f"{dupeless}/api/v1/hooks/document-consumed"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    # A workflow webhook with a JSON body and the document's UI URL.
    first = httpx.post(
        url, json={"doc_url": f"{fake.url}/documents/{ids['original']}/"}, headers=bearer
    )
    assert first.status_code == 202
    assert first.json()["data"]["status"] == "queued"
    assert isinstance(first.json()["data"]["eventId"], int)
    # Form encoded, with the header a workflow can set, waiting for the verdict.
    second = httpx.post(
        f"{url}?wait=10",
        data={"doc_id": str(ids["rescan"]), "doc_title": "Scan 0815"},
        headers={"X-Hook-Token": TOKEN},
    )
    assert second.status_code == 200, second.text
    data = second.json()["data"]
    assert data["status"] in ("done", "processing")  # processing: still writing back
    assert data["verdict"]["duplicate"] is True
    assert data["verdict"]["matches"] == [ids["original"]]
    assert data["line"].startswith(f"dupeless: document {ids['rescan']} is a possible duplicate")
    # Paperless' "text" body with the placeholders filled in, sent as text/plain.
    third = httpx.post(
        f"{dupeless}/api/v1/hooks/paperless-webhook?wait=10",
        content=json.dumps({"doc_id": str(ids["unique"])}),
        headers={**bearer, "Content-Type": "text/plain"},
    )
    assert third.status_code == 200
    assert third.json()["data"]["verdict"]["duplicate"] is False
    assert {row["source"] for row in events(paperless_settings)} == {"webhook"}
    assert tag_id(fake) in doc_tags(fake, ids["rescan"])


def test_webhook_with_the_document_attached(library, dupeless, paperless_settings):
    """A workflow webhook with "include document" on posts multipart: its params and the file."""
    fake, ids = library
    response = httpx.post(
        f"{dupeless}/api/v1/hooks/paperless-webhook",
        data={"doc_url": f"{fake.url}/documents/{ids['rescan']}/"},
        files={"file": ("scan.pdf", b"%PDF-1.7 ...", "application/pdf")},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["data"]["documentId"] == ids["rescan"]
    assert [row["document_id"] for row in events(paperless_settings)] == [ids["rescan"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"json": {}}, "doc_id"),
        ({"json": {"doc_id": "abc"}}, "doc_id"),
        ({"json": {"doc_id": 0}}, "doc_id"),
        ({"json": {"doc_id": "\u00b2"}}, "doc_id"),  # a digit to str.isdigit, not to int()
        ({"json": {"doc_id": 2**63}}, "doc_id"),  # more than SQLite holds
        ({"json": {"doc_url": "http://paperless/documents/99999999999999999999/"}}, "doc_url"),
        ({"json": {"doc_url": "http://paperless/tags/3/"}}, "doc_url"),
        ({"json": [1, 2]}, "body"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "body"),
        ({"content": b""}, "body"),
    ],
)
def test_bad_bodies_are_validation_failures(library, dupeless, paperless_settings, body, field):
    headers = {"Authorization": f"Bearer {TOKEN}", **body.pop("headers", {})}
    response = httpx.post(f"{dupeless}/api/v1/hooks/document-consumed", headers=headers, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["details"][0]["field"] == field
    assert events(paperless_settings) == []


def test_unknown_document_is_done_with_not_found(library, dupeless):
    response = httpx.post(
        f"{dupeless}/api/v1/hooks/document-consumed?wait=10",
        json={"document_id": 9999},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["verdict"]["found"] is False
    assert "not found" in response.json()["data"]["line"]


def test_events_queued_before_a_restart_are_processed_after_it(library, paperless_settings):
    fake, ids = library

    async def queue_up() -> list[int]:
        store = await Store.open(paperless_settings.database_path)
        try:
            first = await record_event(store, ids["original"], "post_consume", {"token": "x"})
            second = await record_event(store, ids["rescan"], "webhook", {})
            # One the previous run had started when it stopped.
            await store.execute(
                "UPDATE hook_events SET status = 'processing', attempts = 1 WHERE id = ?",
                (second,),
            )
            return [first, second]
        finally:
            await store.close()

    queued = asyncio.run(queue_up())
    with running_dupeless(paperless_settings) as url:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(row["status"] == "done" for row in events(paperless_settings)):
                break
            time.sleep(0.05)
        response = httpx.get(
            f"{url}/api/v1/hooks/events/{queued[1]}", headers={"X-Hook-Token": TOKEN}
        )
    rows = events(paperless_settings)
    assert [row["status"] for row in rows] == ["done", "done"]
    assert json.loads(rows[0]["payload"]) == {}  # secrets never stored
    assert response.json()["data"]["verdict"]["duplicate"] is True
    assert tag_id(fake) in doc_tags(fake, ids["rescan"])


def test_following_an_event_needs_the_api_key_as_well(library, paperless_settings):
    """Only the receiving paths are exempt from the API key; following an event needs both."""
    _, ids = library
    paperless_settings.server.api_key = "the-api-key"
    both = {"X-Api-Key": "the-api-key", "X-Hook-Token": TOKEN}
    with running_dupeless(paperless_settings) as url:
        posted = httpx.post(
            f"{url}/api/v1/hooks/document-consumed",
            json={"doc_id": ids["unique"]},
            headers={"X-Hook-Token": TOKEN},
        )
        assert posted.status_code == 202
        event = f"{url}/api/v1/hooks/events/{posted.json()['data']['eventId']}"
        assert httpx.get(event, headers={"X-Hook-Token": TOKEN}).status_code == 401
        assert httpx.get(event, headers={"X-Api-Key": "the-api-key"}).status_code == 401
        followed = httpx.get(f"{event}?wait=10", headers=both)
        assert followed.status_code == 200
        assert followed.json()["data"]["verdict"]["duplicate"] is False
        for unknown in ("999999", "abc", "-1"):
            missing = httpx.get(f"{url}/api/v1/hooks/events/{unknown}", headers=both)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "NOT_FOUND"


def test_burst_overflowing_the_memory_queue_is_absorbed(library, paperless_settings):
    fake, ids = library
    extra = [
        fake.library.add_document(title=f"Note {n}", content=f"{UNIQUE} Reference {n}.")
        for n in range(5)
    ]
    targets = [ids["original"], ids["unique"], ids["rescan"], *extra] * 6
    with running_dupeless(paperless_settings, queue_size=10, workers=2) as url:

        async def burst() -> list[int]:
            async with httpx.AsyncClient(headers={"X-Hook-Token": TOKEN}) as client:
                answers = await asyncio.gather(
                    *(
                        client.post(f"{url}/api/v1/hooks/document-consumed", json={"doc_id": i})
                        for i in targets
                    )
                )
            assert {answer.status_code for answer in answers} == {202}
            return [answer.json()["data"]["eventId"] for answer in answers]

        asyncio.run(burst())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(row["status"] == "done" for row in events(paperless_settings)):
                break
            time.sleep(0.05)
    rows = events(paperless_settings)
    assert len(rows) == len(targets)
    assert {row["status"] for row in rows} == {"done"}
    assert len(doc_notes(fake, ids["rescan"])) == 1


def test_failed_event_after_attempts(library, paperless_settings):
    """Paperless refusing every call: the event ends failed with the error, after N attempts."""
    _, ids = library
    paperless_settings.paperless.api_token = "revoked"
    hooks = HookSettings(token=TOKEN, max_attempts=2)

    async def scenario():
        pipeline = Pipeline(paperless_settings)
        store = await Store.open(paperless_settings.database_path)
        state = AppState(paperless_settings, store, pipeline, JobRunner(store))
        queue = start_hooks(state, attrs.evolve(hooks))
        try:
            event_id = await record_event(store, ids["original"], "webhook", {})
            queue.submit(event_id)
            return await queue.wait(event_id, 15)
        finally:
            await queue.stop()
            await store.close()

    event = asyncio.run(scenario())
    assert event["status"] == "failed"
    assert event["attempts"] == 2
    assert "PaperlessAuthError" in event["error"]


async def test_get_event_shape(store):
    event_id = await record_event(store, 5, "cli", {"document_id": 5, "api_key": "k"})
    event = await get_event(store, event_id)
    assert event["status"] == "pending" and event["verdict"] is None and event["line"] is None
    assert await get_event(store, event_id + 1) is None


def test_event_about_the_older_document_leaves_it_alone(library, dupeless):
    fake, ids = library
    run_script(paperless_env(ids["original"], dupeless))
    run_script(paperless_env(ids["rescan"], dupeless))
    again = run_script(paperless_env(ids["original"], dupeless))
    assert f"possible duplicate of #{ids['rescan']}" in again.stdout
    assert tag_id(fake) not in doc_tags(fake, ids["original"])
    assert doc_notes(fake, ids["original"]) == []


def test_cli_check(library, paperless_settings, monkeypatch, capsys):
    from dupeless.hooks.cli import cmd_check

    fake, ids = library
    monkeypatch.setenv("DATABASE_URL", str(paperless_settings.database_path))
    monkeypatch.setenv("PAPERLESS_URL", fake.url)
    monkeypatch.setenv("PAPERLESS_API_TOKEN", paperless_settings.paperless.api_token)
    monkeypatch.setenv("DUPELESS_PUBLIC_URL", PUBLIC_URL)

    def check(document_id: int, **options) -> tuple[int, str]:
        args = argparse.Namespace(
            config=None,
            document_id=document_id,
            json=options.get("json", False),
            no_write_back=options.get("no_write_back", False),
        )
        status = cmd_check(args)
        return status, capsys.readouterr().out

    assert check(ids["original"]) == (0, f"dupeless: document {ids['original']} has no duplicate\n")
    status, out = check(ids["rescan"], no_write_back=True)
    assert status == 0 and "possible duplicate of #" in out
    assert tag_id(fake) is None
    status, out = check(ids["rescan"], json=True)
    assert json.loads(out)["matches"] == [ids["original"]]
    assert tag_id(fake) in doc_tags(fake, ids["rescan"])
    assert check(9999) == (1, "dupeless: document 9999 not found in Paperless\n")
    assert {row["source"] for row in events(paperless_settings)} == {"cli"}


async def test_documents_are_analysed_in_the_order_their_events_were_taken():
    """The second event's fetch finishing first does not let it be analysed first."""
    turns = Turns()
    first, second = turns.take(), turns.take()
    analysed = []

    async def analyse(turn, name, fetch_seconds):
        await asyncio.sleep(fetch_seconds)
        await turn.wait()
        analysed.append(name)
        turn.end()

    await asyncio.gather(analyse(second, "second", 0), analyse(first, "first", 0.05))
    assert analysed == ["first", "second"]


async def test_a_turn_given_up_lets_the_next_event_go():
    turns = Turns()
    first, second = turns.take(), turns.take()
    first.end()  # e.g. the first event's fetch failed
    await asyncio.wait_for(second.wait(), 1)
    assert first.done.done()
