"""The fake Paperless behaves like the real one (paperless-facts.md), seen with plain httpx."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from dupeless.core.fake_paperless import DEFAULT_TOKEN, FakePaperless, serve

AUTH = {"Authorization": f"Token {DEFAULT_TOKEN}"}
T0 = datetime(2026, 11, 22, 12, 20, 38, 691436, tzinfo=UTC)


def http(fake: FakePaperless, version: int | None = None, **headers: str) -> httpx.Client:
    """A plain client with the fake's token and, when given, a pinned API version."""
    accept = "application/json" + (f"; version={version}" if version else "")
    return httpx.Client(base_url=fake.url, headers={**AUTH, "Accept": accept, **headers})


def add(fake: FakePaperless, n: int, **fields) -> list[int]:
    return [
        fake.library.add_document(title=f"Doc {i}", content=f"text {i}", **fields) for i in range(n)
    ]


# --- versions and authentication ------------------------------------------------------------


def test_authenticated_responses_carry_versions(fake_paperless):
    with http(fake_paperless) as client:
        response = client.get("/api/documents/")
    assert response.status_code == 200
    assert response.headers["X-Api-Version"] == "10"
    assert response.headers["X-Version"] == "3.0.5"


@pytest.mark.parametrize(
    ("fixture", "accepted", "refused"),
    [("fake_paperless", [9, 10], [1, 8, 11]), ("fake_paperless_2x", [1, 5, 9], [10])],
)
def test_accept_header_versions(request, fixture, accepted, refused):
    fake = request.getfixturevalue(fixture)
    for version in accepted:
        with http(fake, version) as client:
            assert client.get("/api/documents/").status_code == 200
    for version in refused:
        with http(fake, version) as client:
            response = client.get("/api/documents/")
        assert response.status_code == 406
        assert response.json() == {"detail": 'Invalid version in "Accept" header.'}


def test_version_9_lists_all_ids_and_10_does_not(fake_paperless):
    ids = add(fake_paperless, 3)
    with http(fake_paperless, 9) as client:
        assert sorted(client.get("/api/documents/").json()["all"]) == ids
    with http(fake_paperless, 10) as client:
        assert "all" not in client.get("/api/documents/").json()


def test_missing_and_bad_credentials(fake_paperless):
    with httpx.Client(base_url=fake_paperless.url) as client:
        missing = client.get("/api/documents/")
        bad_token = client.get("/api/documents/", headers={"Authorization": "Token nope"})
        bad_basic = client.get("/api/documents/", auth=("admin", "wrong"))
        basic = client.get("/api/documents/", auth=("admin", "admin"))
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Token"
    assert "X-Api-Version" not in missing.headers
    assert bad_token.status_code == 401
    assert bad_token.json() == {"detail": "Invalid token."}
    assert bad_basic.status_code == 401
    assert basic.status_code == 200
    assert basic.headers["X-Api-Version"] == "10"


def test_token_endpoint_takes_json_and_form(fake_paperless):
    credentials = {"username": "admin", "password": "admin"}
    with httpx.Client(base_url=fake_paperless.url) as client:
        from_json = client.post("/api/token/", json=credentials)
        from_form = client.post("/api/token/", data=credentials)
        wrong = client.post("/api/token/", json={"username": "admin", "password": "x"})
    assert from_json.json() == from_form.json() == {"token": DEFAULT_TOKEN}
    assert wrong.status_code == 400


# --- lists ----------------------------------------------------------------------------------


def test_pagination_defaults_past_the_end_and_absolute_links(fake_paperless):
    add(fake_paperless, 30)
    with http(fake_paperless, Host="paperless.example:8000") as client:
        first = client.get("/api/documents/").json()
        second = client.get("/api/documents/", params={"page": 2}).json()
        past = client.get("/api/documents/", params={"page": 3})
    assert first["count"] == 30
    assert len(first["results"]) == 25
    assert first["previous"] is None
    assert first["next"] == "http://paperless.example:8000/api/documents/?page=2"
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert second["previous"] == "http://paperless.example:8000/api/documents/"
    assert past.status_code == 404
    assert past.json() == {"detail": "Invalid page."}


def test_page_size_is_clamped_and_invalid_sizes_fall_back(fake_paperless):
    add(fake_paperless, 30)
    with http(fake_paperless) as client:
        huge = client.get("/api/documents/", params={"page_size": 1_000_000}).json()
        invalid = client.get("/api/documents/", params={"page_size": "abc"}).json()
    assert len(huge["results"]) == 30
    assert huge["next"] is None
    assert len(invalid["results"]) == 25


def test_fields_limit_the_fields(fake_paperless):
    add(fake_paperless, 2)
    with http(fake_paperless) as client:
        listed = client.get("/api/documents/", params={"fields": "id,title,nonsense"}).json()
    assert [set(doc) for doc in listed["results"]] == [{"id", "title"}] * 2


def test_document_fields_per_line(fake_paperless, fake_paperless_2x):
    for fake in (fake_paperless, fake_paperless_2x):
        add(fake, 1)
    with http(fake_paperless) as client:
        doc = client.get("/api/documents/").json()["results"][0]
    with http(fake_paperless_2x) as client:
        old = client.get("/api/documents/").json()["results"][0]
    assert {"duplicate_documents", "root_document", "versions", "mime_type", "notes"} <= set(doc)
    assert "versions" not in old
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", doc["created"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", doc["modified"])
    assert old["modified"].endswith("+02:00")


def test_unknown_filters_are_ignored(fake_paperless):
    add(fake_paperless, 3)
    with http(fake_paperless) as client:
        listed = client.get("/api/documents/", params={"modified__after": "2999-01-01"}).json()
    assert listed["count"] == 3


def test_instant_filters_are_exact_and_compare_instants(fake_paperless_2x):
    library = fake_paperless_2x.library
    before = library.add_document(title="before", modified=T0 - timedelta(microseconds=1))
    at = library.add_document(title="at", modified=T0)
    after = library.add_document(title="after", modified=T0 + timedelta(microseconds=1))

    def ids(**params) -> list[int]:
        with http(fake_paperless_2x) as client:
            found = client.get("/api/documents/", params={"ordering": "id", **params})
        return [doc["id"] for doc in found.json()["results"]]

    assert ids(modified__gt=T0.isoformat()) == [after]
    assert ids(modified__gte=T0.isoformat()) == [at, after]
    assert ids(modified__lt=T0.isoformat()) == [before]
    # The same instant written in the server's zone, and a naive value read in that zone.
    local = T0.astimezone(library.tz)
    assert ids(modified__gt=local.isoformat()) == [after]
    assert ids(modified__gt=local.replace(tzinfo=None).isoformat()) == [after]


def test_malformed_instant_is_a_400(fake_paperless):
    with http(fake_paperless) as client:
        bad = client.get("/api/documents/", params={"modified__gt": "yesterday"})
        # An unencoded "+" arrives as a space, exactly as it does on a real server.
        plus = client.get("/api/documents/?modified__gt=2026-11-22T12:00:00+02:00")
    assert bad.status_code == plus.status_code == 400
    assert bad.json() == {"modified__gt": ["Enter a valid date/time."]}


def test_id_in_and_ordering(fake_paperless):
    ids = add(fake_paperless, 4)
    with http(fake_paperless) as client:
        chosen = client.get(
            "/api/documents/", params={"id__in": f"{ids[0]},{ids[2]}", "ordering": "-id"}
        ).json()
        by_title = client.get("/api/documents/", params={"ordering": "-title"}).json()
    assert [d["id"] for d in chosen["results"]] == [ids[2], ids[0]]
    assert [d["title"] for d in by_title["results"]] == ["Doc 3", "Doc 2", "Doc 1", "Doc 0"]


# --- documents ------------------------------------------------------------------------------


def test_patch_bumps_modified_and_checks_links(fake_paperless):
    [doc_id] = add(fake_paperless, 1)
    tag = fake_paperless.library.ensure("tags", "checked")
    with http(fake_paperless) as client:
        before = client.get(f"/api/documents/{doc_id}/").json()
        patched = client.patch(f"/api/documents/{doc_id}/", json={"title": "New", "tags": [tag]})
        bad = client.patch(f"/api/documents/{doc_id}/", json={"tags": [999]})
    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["tags"]) == ("New", [tag])
    assert patched.json()["modified"] > before["modified"]  # both UTC "Z" strings here
    assert bad.status_code == 400
    assert bad.json() == {"tags": ['Invalid pk "999" - object does not exist.']}


def test_delete_moves_to_trash_then_restore_and_empty(fake_paperless):
    first, second = add(fake_paperless, 2)
    with http(fake_paperless) as client:
        assert client.delete(f"/api/documents/{first}/").status_code == 204
        assert client.get(f"/api/documents/{first}/").status_code == 404
        trash = client.get("/api/trash/").json()
        assert [doc["id"] for doc in trash["results"]] == [first]
        assert trash["results"][0]["deleted_at"]
        not_deleted = client.post("/api/trash/", json={"action": "empty", "documents": [second]})
        assert not_deleted.status_code == 400
        assert not_deleted.json() == {
            "documents": ["Some documents in the list have not yet been deleted."]
        }
        restored = client.post("/api/trash/", json={"action": "restore", "documents": [first]})
        assert restored.json() == {"result": "OK", "doc_ids": [first]}
        assert client.get(f"/api/documents/{first}/").status_code == 200
        client.delete(f"/api/documents/{first}/")
        client.delete(f"/api/documents/{second}/")
        emptied = client.post("/api/trash/", json={"action": "empty"})
        assert sorted(emptied.json()["doc_ids"]) == [first, second]
        assert client.get("/api/trash/").json()["count"] == 0


def test_metadata_checksums_per_line(fake_paperless, fake_paperless_2x):
    for fake, length in ((fake_paperless, 64), (fake_paperless_2x, 32)):
        doc_id = fake.library.add_document(title="x", content="same bytes")
        given = fake.library.add_document(title="y", checksum="abc123")
        with http(fake) as client:
            meta = client.get(f"/api/documents/{doc_id}/metadata/").json()
            loaded = client.get(f"/api/documents/{given}/metadata/").json()
        assert re.fullmatch(f"[0-9a-f]{{{length}}}", meta["original_checksum"])
        assert meta["original_size"] == len(b"same bytes")
        assert meta["original_mime_type"] == "application/pdf"
        assert meta["has_archive_version"] is True
        assert meta["archive_size"] > 0
        assert loaded["original_checksum"] == "abc123"


def test_detail_lists_byte_identical_copies_on_3x(fake_paperless):
    first = fake_paperless.library.add_document(title="a", content="identical")
    copy = fake_paperless.library.add_document(title="b", content="identical")
    fake_paperless.library.add_document(title="c", content="different")
    with http(fake_paperless) as client:
        detail = client.get(f"/api/documents/{first}/").json()
    assert [d["id"] for d in detail["duplicate_documents"]] == [copy]


def test_byte_identical_copies_follow_edits_deletes_and_restores(fake_paperless):
    first, copy, other = (
        fake_paperless.library.add_document(title=t, content=c)
        for t, c in (("a", "identical"), ("b", "identical"), ("c", "different"))
    )

    def copies(client: httpx.Client, doc_id: int) -> list[int]:
        return [
            d["id"] for d in client.get(f"/api/documents/{doc_id}/").json()["duplicate_documents"]
        ]

    with http(fake_paperless) as client:
        assert copies(client, first) == [copy]
        client.patch(f"/api/documents/{other}/", json={"content": "identical"})
        assert copies(client, first) == [copy, other]
        client.patch(f"/api/documents/{copy}/", json={"content": "changed"})
        assert copies(client, first) == [other]
        client.delete(f"/api/documents/{other}/")
        assert copies(client, first) == []
        client.post("/api/trash/", json={"action": "restore", "documents": [other]})
        late = fake_paperless.library.add_document(title="d", content="identical")
        assert copies(client, first) == [other, late]
        assert copies(client, late) == [first, other]


def test_notes_are_added_and_bump_modified(fake_paperless):
    [doc_id] = add(fake_paperless, 1)
    with http(fake_paperless) as client:
        before = client.get(f"/api/documents/{doc_id}/").json()["modified"]
        added = client.post(f"/api/documents/{doc_id}/notes/", json={"note": "Duplicate of 7"})
        listed = client.get(f"/api/documents/{doc_id}/notes/").json()
        after = client.get(f"/api/documents/{doc_id}/").json()["modified"]
    assert [note["note"] for note in added.json()] == ["Duplicate of 7"]
    assert listed == added.json()
    assert after > before


def test_files_have_content_types(fake_paperless):
    pdf = fake_paperless.library.add_document(title="scan", content="pdf text")
    text = fake_paperless.library.add_document(original_file_name="note.txt", content="plain")
    with http(fake_paperless) as client:
        preview = client.get(f"/api/documents/{pdf}/preview/")
        original = client.get(f"/api/documents/{pdf}/download/", params={"original": "true"})
        thumb = client.get(f"/api/documents/{pdf}/thumb/")
        plain = client.get(f"/api/documents/{text}/preview/")
        missing = client.get("/api/documents/999/thumb/")
    assert preview.headers["content-type"] == "application/pdf"
    assert preview.content.startswith(b"%PDF")
    assert original.content == b"pdf text"
    assert 'filename="scan.pdf"' in original.headers["content-disposition"]
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.content.startswith(b"RIFF")
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.content == b"plain"
    assert missing.status_code == 404


def test_entities_create_list_and_count(fake_paperless):
    fake_paperless.library.add_document(title="a", tags=["inbox"])
    with http(fake_paperless) as client:
        created = client.post("/api/tags/", json={"name": "duplicate"})
        again = client.post("/api/tags/", json={"name": "duplicate"})
        tags = client.get("/api/tags/").json()
        field = client.post("/api/custom_fields/", json={"name": "Amount"})
    assert created.status_code == 201
    assert again.status_code == 400
    assert {(t["name"], t["document_count"], t["display_count"]) for t in tags["results"]} == {
        ("duplicate", 0, 0),
        ("inbox", 1, 1),
    }
    assert field.status_code == 400  # a custom field needs its data_type


def test_entity_counts_follow_changes(fake_paperless):
    first, second = add(fake_paperless, 2, tags=["inbox"], correspondent="ACME")
    done = fake_paperless.library.ensure("tags", "done")

    def counts(client: httpx.Client, kind: str) -> dict[str, int]:
        listed = client.get(f"/api/{kind}/").json()["results"]
        return {entity["name"]: entity["document_count"] for entity in listed}

    with http(fake_paperless) as client:
        assert counts(client, "tags") == {"done": 0, "inbox": 2}
        client.patch(f"/api/documents/{first}/", json={"tags": [done], "correspondent": None})
        assert counts(client, "tags") == {"done": 1, "inbox": 1}
        assert counts(client, "correspondents") == {"ACME": 1}
        client.delete(f"/api/documents/{second}/")
        assert counts(client, "tags") == {"done": 1, "inbox": 0}
        assert client.get(f"/api/tags/{done}/").json()["document_count"] == 1
        client.post("/api/trash/", json={"action": "restore", "documents": [second]})
        assert counts(client, "correspondents") == {"ACME": 1}
        assert counts(client, "tags") == {"done": 1, "inbox": 1}
        [third] = add(fake_paperless, 1, tags=["done"], correspondent="ACME")
        assert client.get(f"/api/tags/{done}/").json()["document_count"] == 2
        client.delete(f"/api/documents/{third}/")
        client.post("/api/trash/", json={"action": "empty", "documents": [third]})
        assert counts(client, "tags") == {"done": 1, "inbox": 1}
        assert counts(client, "correspondents") == {"ACME": 1}


@pytest.mark.parametrize("fixture", ["fake_paperless", "fake_paperless_2x"])
def test_tasks_are_a_page_from_api_10_and_a_list_before(request, fixture):
    fake = request.getfixturevalue(fixture)
    [doc_id] = add(fake, 1)
    task_id = fake.library.add_task(doc_id)
    with http(fake) as client:
        found = client.get("/api/tasks/", params={"task_id": task_id}).json()
    if fixture == "fake_paperless":
        [task] = found["results"]
        assert (task["status"], task["result_data"]) == ("success", {"document_id": doc_id})
        assert task["related_document_ids"] == [doc_id]
    else:
        [task] = found
        assert task["status"] == "SUCCESS"


def test_bulk_loader_resolves_names_and_keeps_instants(fake_paperless):
    record = {
        "id": 42,
        "title": "Invoice",
        "content": "Total 12.00",
        "correspondent": "ACME",
        "document_type": "Invoice",
        "tags": ["inbox", "paid"],
        "created": "2026-11-01",
        "added": "2026-11-02T08:00:00Z",
        "modified": "2026-11-02T09:30:00.000001+01:00",
        "original_file_name": "acme.pdf",
        "checksum": "d41d8cd98f00b204e9800998ecf8427e",
    }
    assert fake_paperless.library.load_documents([record]) == [42]
    with http(fake_paperless) as client:
        doc = client.get("/api/documents/42/").json()
        names = {kind: client.get(f"/api/{kind}/").json()["results"] for kind in ("tags",)}
    assert doc["modified"] == "2026-11-02T08:30:00.000001Z"
    assert doc["added"] == "2026-11-02T08:00:00.000000Z"
    assert doc["created"] == "2026-11-01"
    assert sorted(t["name"] for t in names["tags"]) == ["inbox", "paid"]
    assert doc["tags"] == [t["id"] for t in sorted(names["tags"], key=lambda t: t["name"])]
    assert fake_paperless.library.add_document(title="next") == 43


# --- faults ---------------------------------------------------------------------------------


def test_injected_faults(fake_paperless):
    fake_paperless.faults.fail_next(1, status=503)
    fake_paperless.faults.rate_limit_next(1, retry_after=0.5)
    fake_paperless.faults.drop_next(1)
    with http(fake_paperless) as client:
        assert client.get("/api/documents/").status_code == 503
        limited = client.get("/api/documents/")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "0.5")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/documents/")
        assert client.get("/api/documents/").status_code == 200
    assert len(fake_paperless.requests) == 4


def test_slow_fault_delays_only_matching_paths(fake_paperless):
    fake_paperless.faults.slow(0.3, 1, path="/api/tags/")
    with http(fake_paperless) as client:
        client.get("/api/documents/", timeout=0.2)  # not delayed
        with pytest.raises(httpx.ReadTimeout):
            client.get("/api/tags/", timeout=0.1)


def test_serve_runs_any_asgi_app():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hi"})

    with serve(app, lifespan="off") as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert httpx.get(url).text == "hi"


def test_a_restored_document_counts_as_modified(fake_paperless):
    [doc_id] = add(fake_paperless, 1)
    with http(fake_paperless) as client:
        before = client.get(f"/api/documents/{doc_id}/").json()["modified"]
        client.delete(f"/api/documents/{doc_id}/")
        client.post("/api/trash/", json={"action": "restore", "documents": [doc_id]})
        changed = client.get("/api/documents/", params={"modified__gt": before}).json()
    assert [doc["id"] for doc in changed["results"]] == [doc_id]
