"""Batch operations over the API, against a fake Paperless over HTTP: status for many groups, the
delete plan (preview, confirm, re-check, resume after a crash without deleting twice), purging,
the Paperless trash and the preview/thumbnail proxy."""

from __future__ import annotations

import asyncio
import json

import pytest
from apiclient import data, error_of, fields
from dupeless.core import deletion
from dupeless.core.jobs import JobRunner
from seed import add_group, mirror

pytest_plugins = ["fixtures_paperless", "fixtures_api"]


@pytest.fixture
async def world(api, fake_paperless):
    """Seven documents in Paperless and in the store; groups {1,2,3} and {4,5} pending (primary
    the lowest id), {6,7} ignored."""
    for number in range(1, 8):
        fake_paperless.library.add_document(title=f"Doc {number}", content=f"text {number}")
    store = api.state.store
    await mirror(store, fake_paperless)
    return {
        "trio": await add_group(store, [1, 2, 3]),
        "pair": await add_group(store, [4, 5]),
        "ignored": await add_group(store, [6, 7], status="ignored"),
    }


def deletes(fake, document: int) -> int:
    """How many DELETE requests the fake received for one document."""
    path = f"/api/documents/{document}/"
    return sum(1 for r in fake.requests if r.method == "DELETE" and r.path == path)


async def status_of(api, group_id: str) -> str:
    return data(await api.get(f"/api/v1/duplicates/{group_id}?light=true"))["status"]


async def run(api, body: dict) -> dict:
    """Start a delete job and wait for it; returns the job row."""
    job_id = data(await api.post("/api/v1/batch/delete-non-primary", json=body), 202)["jobId"]
    return await api.state.jobs.wait(job_id)


# --- status ---------------------------------------------------------------------------------


async def test_batch_status_counts_existing_groups(api, world):
    body = {"groupIds": [world["trio"], world["pair"], "nope"], "status": "ignored"}
    assert data(await api.post("/api/v1/batch/status", json=body)) == {"updated": 2}
    assert await status_of(api, world["pair"]) == "ignored"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"groupIds": [], "status": "ignored"}, {"groupIds"}),
        ({"groupIds": ["x"] * 1001, "status": "ignored"}, {"groupIds"}),
        ({"groupIds": ["x", 5], "status": "ignored"}, {"groupIds[1]"}),
        ({"groupIds": ["x"], "status": "done"}, {"status"}),
        ({"groupIds": ["x"]}, {"status"}),
    ],
)
async def test_batch_status_validation(api, body, expected):
    assert fields(await api.post("/api/v1/batch/status", json=body)) == expected


async def test_batch_false_positive_remembers_pairs(api, world):
    body = {"groupIds": [world["pair"]], "status": "false_positive"}
    await api.post("/api/v1/batch/status", json=body)
    assert await api.state.store.fetchval("SELECT COUNT(*) FROM pair_decisions") == 1


async def test_purge_deleted(api, world):
    await api.put(f"/api/v1/duplicates/{world['pair']}/status", json={"status": "deleted"})
    assert data(await api.post("/api/v1/batch/purge-deleted")) == {"purged": 1}
    assert data(await api.post("/api/v1/batch/purge-deleted")) == {"purged": 0}
    assert data(await api.get("/api/v1/duplicates"))[0]["id"] in (world["trio"], world["ignored"])


# --- the delete plan ------------------------------------------------------------------------


async def test_preview_then_confirm_deletes_the_non_primary_documents(api, world, fake_paperless):
    response = await api.post(
        "/api/v1/batch/delete-non-primary/preview",
        json={"groupIds": [world["trio"], world["pair"]]},
    )
    plan = data(response)
    assert plan["groups"] == [
        {"groupId": world["trio"], "primary": "1", "delete": ["2", "3"]},
        {"groupId": world["pair"], "primary": "4", "delete": ["5"]},
    ]
    assert plan["documentCount"] == 3 and plan["expiresAt"] > "2026"
    assert not fake_paperless.library.trash  # a preview deletes nothing

    job = await run(api, {"planToken": plan["planToken"], "confirm": True})
    assert job["status"] == "completed", job["error_message"]
    result = json.loads(job["result_json"])
    assert result["deleted"] == ["2", "3", "5"]
    assert (result["skipped"], result["failed"]) == ([], [])
    assert result["groups"]["deleted"] == sorted([world["trio"], world["pair"]])
    assert sorted(fake_paperless.library.trash) == [2, 3, 5]
    assert sorted(fake_paperless.library.documents) == [1, 4, 6, 7]
    assert await status_of(api, world["trio"]) == "deleted"

    again = await api.post(
        "/api/v1/batch/delete-non-primary", json={"planToken": plan["planToken"], "confirm": True}
    )
    assert "already confirmed" in error_of(again, 409, "CONFLICT")["message"]


async def test_the_contract_form_builds_the_same_plan(api, world, fake_paperless):
    job = await run(api, {"groupIds": [world["pair"]], "confirm": True})
    assert json.loads(job["result_json"])["deleted"] == ["5"]
    assert list(fake_paperless.library.trash) == [5]


async def test_delete_needs_pending_groups_and_confirmation(api, world):
    url = "/api/v1/batch/delete-non-primary"
    body = error_of(
        await api.post(url, json={"groupIds": [world["trio"], world["ignored"]], "confirm": True}),
        409,
        "CONFLICT",
    )
    assert body["details"] == [{"id": world["ignored"]}]
    body = error_of(
        await api.post(url, json={"groupIds": ["nope"], "confirm": True}), 404, "NOT_FOUND"
    )
    assert body["details"] == [{"id": "nope"}]
    assert fields(await api.post(url, json={"groupIds": [world["trio"]], "confirm": False})) == {
        "confirm"
    }
    assert fields(await api.post(url, json={"groupIds": [world["trio"]]})) == {"confirm"}
    error_of(await api.post(url, json={"planToken": "nope", "confirm": True}), 404, "NOT_FOUND")
    preview = "/api/v1/batch/delete-non-primary/preview"
    error_of(await api.post(preview, json={"groupIds": [world["ignored"]]}), 409, "CONFLICT")
    assert fields(await api.post(preview, json={"groupIds": []})) == {"groupIds"}


async def test_a_plan_expires_and_a_changed_group_needs_a_new_preview(api, world):
    url = "/api/v1/batch/delete-non-primary"
    preview = "/api/v1/batch/delete-non-primary/preview"
    token = data(await api.post(preview, json={"groupIds": [world["trio"]]}))["planToken"]
    await api.put(f"/api/v1/duplicates/{world['trio']}/primary", json={"documentId": "2"})
    response = await api.post(url, json={"planToken": token, "confirm": True})
    assert "changed since the preview" in error_of(response, 409, "CONFLICT")["message"]

    token = data(await api.post(preview, json={"groupIds": [world["trio"]]}))["planToken"]
    await api.state.store.execute("UPDATE delete_plans SET expires_at = '2000-01-01T00:00:00.000Z'")
    response = await api.post(url, json={"planToken": token, "confirm": True})
    assert "expired" in error_of(response, 409, "CONFLICT")["message"]


async def test_groups_sharing_a_document_are_refused(api, world):
    store = api.state.store
    overlapping = await add_group(store, [2, 6], primary=2)
    response = await api.post(
        "/api/v1/batch/delete-non-primary/preview",
        json={"groupIds": [overlapping, world["trio"]]},
    )
    assert error_of(response, 409, "CONFLICT")["details"] == [{"id": world["trio"]}]


async def test_a_group_changed_in_paperless_is_skipped(api, world, fake_paperless):
    fake_paperless.library.add_note(5, "keep me")  # bumps `modified`
    fake_paperless.library.delete_document(3)  # gone before the job ran
    job = await run(api, {"groupIds": [world["trio"], world["pair"]], "confirm": True})
    result = json.loads(job["result_json"])
    assert result["deleted"] == []
    reasons = {item["documentId"]: item["reason"] for item in result["skipped"]}
    assert reasons == {
        "2": "document 3 is no longer in Paperless",
        "3": "document 3 is no longer in Paperless",
        "5": "document 5 was modified in Paperless since the plan",
    }
    assert result["groups"]["skipped"] == sorted([world["trio"], world["pair"]])
    assert await status_of(api, world["pair"]) == "pending"
    assert deletes(fake_paperless, 5) == 0


async def test_a_failed_delete_is_reported_and_the_group_stays_pending(api, world, fake_paperless):
    fake_paperless.faults.slow(0, 1, path="/api/documents/5/")  # the re-check GET passes
    fake_paperless.faults.fail_next(1, status=500, path="/api/documents/5/")  # the DELETE fails
    job = await run(api, {"groupIds": [world["pair"]], "confirm": True})
    result = json.loads(job["result_json"])
    assert [item["documentId"] for item in result["failed"]] == ["5"]
    assert "500" in result["failed"][0]["error"]
    assert result["groups"]["partial"] == [world["pair"]]
    assert await status_of(api, world["pair"]) == "pending"


async def test_only_one_delete_job_at_a_time_and_the_plan_stays_usable(api, world, fake_paperless):
    fake_paperless.faults.slow(0.3)
    first = data(
        await api.post(
            "/api/v1/batch/delete-non-primary", json={"groupIds": [world["trio"]], "confirm": True}
        ),
        202,
    )["jobId"]
    token = data(
        await api.post(
            "/api/v1/batch/delete-non-primary/preview", json={"groupIds": [world["pair"]]}
        )
    )["planToken"]
    response = await api.post(
        "/api/v1/batch/delete-non-primary", json={"planToken": token, "confirm": True}
    )
    error_of(response, 409, "JOB_ALREADY_RUNNING")
    fake_paperless.faults.clear()
    await api.state.jobs.wait(first)
    job = await run(api, {"planToken": token, "confirm": True})
    assert json.loads(job["result_json"])["deleted"] == ["5"]


async def test_a_crash_mid_delete_resumes_without_deleting_twice(
    api, api_settings, world, fake_paperless
):
    """The process dies while the DELETE of document 3 is in flight (Paperless still carries it
    out); the resumed job must not send it again, nor repeat document 2."""
    fake_paperless.faults.slow(0.5, 2, path="/api/documents/3/")  # the re-check GET, the DELETE
    job_id = data(
        await api.post(
            "/api/v1/batch/delete-non-primary", json={"groupIds": [world["trio"]], "confirm": True}
        ),
        202,
    )["jobId"]
    await until(lambda: deletes(fake_paperless, 3) == 1)
    await api.state.jobs.shutdown()  # the crash: the task dies, the job row stays `running`
    crashed = await api.state.jobs.get(job_id)
    assert crashed["status"] == "running"
    checkpoint = json.loads(crashed["checkpoint"])
    assert checkpoint["inflight"] == {"groupId": world["trio"], "documentId": 3}
    assert checkpoint["outcomes"]["2"]["status"] == "deleted"
    await until(lambda: 3 in fake_paperless.library.trash)  # Paperless finished the delete

    restarted = JobRunner(api.state.store)
    deletion.register(restarted, api_settings)
    assert (await restarted.recover())["resumed"] == [job_id]
    job = await restarted.wait(job_id)
    assert job["status"] == "completed", job["error_message"]
    assert json.loads(job["result_json"])["deleted"] == ["2", "3"]
    assert (deletes(fake_paperless, 2), deletes(fake_paperless, 3)) == (1, 1)
    assert sorted(fake_paperless.library.trash) == [2, 3]
    assert await status_of(api, world["trio"]) == "deleted"


async def until(condition) -> None:
    """Poll what another thread makes true (the fake Paperless serves from its own thread)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("still not true after 5 s")


# --- the trash ------------------------------------------------------------------------------


async def test_emptying_the_trash_defaults_to_what_dupeless_trashed(api, world, fake_paperless):
    await run(api, {"groupIds": [world["trio"]], "confirm": True})
    fake_paperless.library.delete_document(7)  # trashed by someone else
    assert data(await api.get("/api/v1/paperless/trash")) == {"count": 3, "dupelessCount": 2}

    fake_paperless.library.restore([2])  # restored by the user since: not ours to empty
    emptied = data(await api.post("/api/v1/paperless/trash", json={"action": "empty"}))
    assert emptied == {"emptied": True, "documentCount": 1}
    assert sorted(fake_paperless.library.trash) == [7]
    assert 2 in fake_paperless.library.documents

    body = {"action": "empty", "scope": "all"}
    assert data(await api.post("/api/v1/paperless/trash", json=body))["documentCount"] == 1
    assert not fake_paperless.library.trash
    assert data(await api.get("/api/v1/paperless/trash")) == {"count": 0, "dupelessCount": 0}


async def test_trash_errors(api, fake_paperless):
    assert fields(await api.post("/api/v1/paperless/trash", json={"action": "restore"})) == {
        "action"
    }
    body = {"action": "empty", "scope": "mine"}
    assert fields(await api.post("/api/v1/paperless/trash", json=body)) == {"scope"}
    fake_paperless.faults.fail_next(1, status=500)
    error_of(await api.get("/api/v1/paperless/trash"), 502, "BAD_GATEWAY")


# --- previews -------------------------------------------------------------------------------


async def test_preview_and_thumbnail_are_streamed_through(api, fake_paperless):
    document = fake_paperless.library.add_document(
        title="scan", content="hello", original_file_name="scan.txt"
    )
    response = await api.get(f"/api/v1/paperless/documents/{document}/preview")
    assert response.status_code == 200
    assert response.content == b"hello"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == 'inline; filename="scan.txt"'
    assert response.headers["content-length"] == "5"
    response = await api.get(f"/api/v1/paperless/documents/{document}/thumb")
    assert response.headers["content-type"] == "image/webp"
    assert response.content.startswith(b"RIFF")


async def test_proxy_errors(api, fake_paperless):
    error_of(await api.get("/api/v1/paperless/documents/999/preview"), 404, "NOT_FOUND")
    assert fields(await api.get("/api/v1/paperless/documents/abc/thumb")) == {"paperlessId"}
    assert fields(await api.get("/api/v1/paperless/documents/0/thumb")) == {"paperlessId"}
    fake_paperless.faults.fail_next(1, status=502)
    error_of(await api.get("/api/v1/paperless/documents/1/thumb"), 502, "BAD_GATEWAY")
