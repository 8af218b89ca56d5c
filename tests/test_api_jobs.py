"""Sync, analysis and jobs over the API: start (202), 409 while one runs, status, cancel, SSE."""

from __future__ import annotations

import json

import pytest
from apiclient import data, error_of, fields

pytest_plugins = ["fixtures_paperless", "fixtures_api"]

TEXT = "the quarterly statement of the insurance policy lists every premium paid this year " * 3


@pytest.fixture
def library(fake_paperless):
    """Two near-duplicates and one unrelated document."""
    fake_paperless.library.add_document(title="Policy", content=TEXT, correspondent="Insurer")
    fake_paperless.library.add_document(title="Policy (scan)", content=TEXT + " page two")
    fake_paperless.library.add_document(title="Recipe", content="flour sugar eggs butter " * 10)
    return fake_paperless


def parse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_sync_runs_and_reports_status(api, library):
    job_id = data(await api.post("/api/v1/sync", json={"force": True}), 202)["jobId"]
    job = await api.state.jobs.wait(job_id)
    assert job["status"] == "completed", job["error_message"]
    status = data(await api.get("/api/v1/sync/status"))
    assert status["totalDocuments"] == 3
    assert status["lastSyncDocumentCount"] == 3
    assert status["lastSyncAt"] and status["lastFullSyncAt"]
    assert (status["isSyncing"], status["currentJobId"], status["currentJob"]) == (
        False,
        None,
        None,
    )
    detail = data(await api.get(f"/api/v1/jobs/{job_id}"))
    assert detail["resultJson"]["inserted"] == 3
    assert (detail["type"], detail["progress"]) == ("sync", 1.0)


async def test_second_sync_while_one_runs_is_409(api, library):
    library.faults.slow(0.3)
    first = data(await api.post("/api/v1/sync"), 202)["jobId"]
    body = error_of(await api.post("/api/v1/sync"), 409, "JOB_ALREADY_RUNNING")
    assert body["message"] == "A job of type sync is already running"
    status = data(await api.get("/api/v1/sync/status"))
    assert (status["isSyncing"], status["currentJobId"]) == (True, first)
    library.faults.clear()
    await api.state.jobs.wait(first)


async def test_sync_body_is_validated(api):
    assert fields(await api.post("/api/v1/sync", json={"force": "yes"})) == {"force"}
    assert fields(await api.post("/api/v1/sync", json={"forse": True})) == {"forse"}


async def test_analysis_finds_the_duplicates(api, library):
    sync_id = data(await api.post("/api/v1/sync", json={"force": True}), 202)["jobId"]
    result = json.loads((await api.state.jobs.wait(sync_id))["result_json"])
    if "analysisJobId" in result:  # autoAnalyze started one
        await api.state.jobs.wait(result["analysisJobId"])
    job_id = data(await api.post("/api/v1/analysis", json={"force": True}), 202)["jobId"]
    job = await api.state.jobs.wait(job_id)
    assert job["status"] == "completed", job["error_message"]
    status = data(await api.get("/api/v1/analysis/status"))
    assert status["lastAnalysisAt"] == job["completed_at"]
    assert status["lastAnalysisJobId"] == job_id
    assert not status["isAnalyzing"]
    assert status["totalDuplicateGroups"] == 1


async def test_jobs_list_filters_and_limits(api, library):
    for _ in range(2):
        job_id = data(await api.post("/api/v1/sync"), 202)["jobId"]
        await api.state.jobs.wait(job_id)
    jobs = data(await api.get("/api/v1/jobs?type=sync&status=completed"))
    assert len(jobs) == 2 and all(job["type"] == "sync" for job in jobs)
    assert jobs[0]["createdAt"] >= jobs[1]["createdAt"]
    assert len(data(await api.get("/api/v1/jobs?type=sync&limit=1"))) == 1
    assert data(await api.get("/api/v1/jobs?status=failed")) == []
    assert fields(await api.get("/api/v1/jobs?limit=201&type=nope")) == {"limit", "type"}


async def test_unknown_job_is_404(api):
    error_of(await api.get("/api/v1/jobs/nope"), 404, "NOT_FOUND")
    error_of(await api.post("/api/v1/jobs/nope/cancel"), 404, "NOT_FOUND")
    error_of(await api.get("/api/v1/jobs/nope/progress"), 404, "NOT_FOUND")


async def test_cancel_a_running_job_then_409(api, library):
    library.faults.slow(0.2)
    job_id = data(await api.post("/api/v1/sync"), 202)["jobId"]
    assert data(await api.post(f"/api/v1/jobs/{job_id}/cancel")) == {
        "jobId": job_id,
        "status": "cancelled",
    }
    library.faults.clear()
    assert (await api.state.jobs.wait(job_id))["status"] == "cancelled"
    error_of(await api.post(f"/api/v1/jobs/{job_id}/cancel"), 409, "CONFLICT")


async def test_progress_stream_of_a_running_job(api, library):
    library.faults.slow(0.4)
    job_id = data(await api.post("/api/v1/sync", json={"force": True}), 202)["jobId"]
    response = await api.get(f"/api/v1/jobs/{job_id}/progress")
    library.faults.clear()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    assert response.text.startswith(":")  # a comment opens the stream
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "complete" and names.count("complete") == 1
    assert names.count("progress") >= 2
    assert all(set(body) == {"progress", "message", "status"} for _, body in events)
    assert events[-1][1]["status"] == "completed" and events[-1][1]["progress"] == 1.0
    assert all(0 <= body["progress"] <= 1 for _, body in events)


async def test_progress_stream_of_a_finished_job_is_one_complete_event(api, library):
    job_id = data(await api.post("/api/v1/sync"), 202)["jobId"]
    await api.state.jobs.wait(job_id)
    events = parse_events((await api.get(f"/api/v1/jobs/{job_id}/progress")).text)
    assert [name for name, _ in events] == ["complete"]
