"""Configuration over the API: the key/value map, dedup settings with exact recalculation, the
Paperless connection test, and the config backup (export, import)."""

from __future__ import annotations

import json

import pytest
from apiclient import data, error_of, fields, running_api
from dupeless.core.config import DedupSettings
from dupeless.core.dedup_config import as_api, load_dedup
from seed import add_document, add_group, components

pytest_plugins = ["fixtures_paperless", "fixtures_api"]

DEFAULTS = as_api(DedupSettings())


# --- the key/value map ----------------------------------------------------------------------


async def test_config_map_single_and_batch(api):
    assert data(await api.get("/api/v1/config")) == {}
    assert data(await api.put("/api/v1/config", json={"key": "ui.theme", "value": "dark"})) == {
        "ui.theme": "dark"
    }
    body = {"settings": {"ui.pageSize": 25, "ui.compact": True, "ui.theme": "light"}}
    assert data(await api.put("/api/v1/config", json=body)) == {
        "ui.compact": "true",
        "ui.pageSize": "25",
        "ui.theme": "light",
    }
    assert data(await api.get("/api/v1/config"))["ui.theme"] == "light"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"key": "paperless.apiToken", "value": "x"}, {"paperless.apiToken"}),
        ({"settings": {"ok.key": "1", "smtp.password": "x"}}, {"smtp.password"}),
        ({"settings": {"bad key!": "1"}}, {"settings.bad key!"}),
        ({"key": "a"}, {"value"}),
        ({"settings": {}}, {"settings"}),
        ({"key": "a", "value": {"nested": 1}}, {"value"}),
    ],
)
async def test_config_map_refuses_secrets_and_bad_input(api, body, expected):
    assert fields(await api.put("/api/v1/config", json=body)) == expected
    assert data(await api.get("/api/v1/config")) == {}


async def test_dedup_keys_in_the_map_are_validated_like_dedup_settings(api):
    assert fields(
        await api.put("/api/v1/config", json={"key": "dedup.numBands", "value": "x"})
    ) == {"dedup.numBands"}
    response = await api.put("/api/v1/config", json={"key": "dedup.numBands", "value": "16"})
    assert response.json()["meta"] == {"analysisStale": True}
    assert data(response)["dedup.numBands"] == "16"
    assert data(await api.get("/api/v1/config/dedup"))["numBands"] == 16


# --- dedup settings -------------------------------------------------------------------------


async def test_dedup_defaults(api):
    response = await api.get("/api/v1/config/dedup")
    assert data(response) == DEFAULTS
    assert "meta" not in response.json()


async def test_dedup_partial_change_marks_the_analysis_stale(api):
    response = await api.put("/api/v1/config/dedup", json={"similarityThreshold": 0.8})
    assert data(response) == {**DEFAULTS, "similarityThreshold": 0.8}
    assert response.json()["meta"] == {"analysisStale": True}
    assert (await load_dedup(api.state.store, api.state.settings)).similarity_threshold == 0.8
    assert data(await api.get("/api/v1/config"))["dedup.similarityThreshold"] == "0.8"
    again = await api.put("/api/v1/config/dedup", json={"similarityThreshold": 0.8})
    assert "meta" not in again.json()  # nothing changed, nothing implied


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"numPermutations": 256, "numBands": 30}, {"numBands"}),
        ({"confidenceWeightJaccard": 70}, {"confidenceWeightJaccard"}),
        ({"numPermutations": 10}, {"numPermutations"}),
        ({"similarityThreshold": 1.5}, {"similarityThreshold"}),
        ({"autoAnalyze": "yes"}, {"autoAnalyze"}),
        ({"ngramSize": 2.5}, {"ngramSize"}),
        ({"confidenceWeightMetadata": 10}, {"confidenceWeightMetadata"}),
        ({}, {"body"}),
    ],
)
async def test_dedup_changes_are_validated(api, body, expected):
    assert fields(await api.put("/api/v1/config/dedup", json=body)) == expected
    assert data(await api.get("/api/v1/config/dedup")) == DEFAULTS


async def test_dedup_messages_say_what_is_allowed(api):
    body = {"numPermutations": 256, "numBands": 30}
    response = await api.put("/api/v1/config/dedup", json=body)
    (detail,) = error_of(response, 400, "VALIDATION_FAILED")["details"]
    assert detail == {
        "field": "numBands",
        "message": "must divide numPermutations (256) evenly, got 30",
    }
    body = {"confidenceWeightJaccard": 60, "confidenceWeightFuzzy": 50}
    response = await api.put("/api/v1/config/dedup", json=body)
    details = error_of(response, 400, "VALIDATION_FAILED")["details"]
    assert {detail["message"] for detail in details} == {
        "confidenceWeightJaccard + confidenceWeightFuzzy must sum to 100, got 110"
    }


async def seed_scored_groups(store):
    for document in range(1, 6):
        await add_document(store, document)
    scored = components(jaccard=0.9, fuzzy=0.5, penalties={"template_penalty": 0.1})
    pair = await add_group(store, [1, 2], confidence=0.0, pair_components=scored)
    trio = await add_group(store, [3, 4, 5], confidence=0.0, pair_components=scored)
    # one pair of the trio scores differently: the group's confidence is the mean of its pairs
    other = components(jaccard=0.5, fuzzy=0.5)
    await store.execute(
        "UPDATE pair_scores SET components = ? WHERE document_a = 4 AND document_b = 5",
        (json.dumps(other),),
    )
    return pair, trio


async def test_weight_change_recalculates_every_group_exactly(api):
    pair, trio = await seed_scored_groups(api.state.store)
    body = {
        "confidenceWeightJaccard": 70,
        "confidenceWeightFuzzy": 30,
        "discriminativePenaltyStrength": 50,
    }
    response = await api.put("/api/v1/config/dedup", json=body)
    assert response.json()["meta"] == {"recalculatedGroups": 2}
    strong = (70 * 0.9 + 30 * 0.5) / 100 - 0.5 * 0.1
    weak = (70 * 0.5 + 30 * 0.5) / 100
    group = data(await api.get(f"/api/v1/duplicates/{pair}?light=true"))
    assert group["confidenceScore"] == pytest.approx(strong)
    assert group["pairs"][0]["confidenceScore"] == pytest.approx(strong)
    group = data(await api.get(f"/api/v1/duplicates/{trio}?light=true"))
    assert group["confidenceScore"] == pytest.approx((2 * strong + weak) / 3)


async def test_legacy_penalty_name_is_converted(api):
    pair, _ = await seed_scored_groups(api.state.store)
    response = await api.put("/api/v1/config/dedup", json={"confidenceWeightDiscriminative": 0})
    assert data(response)["discriminativePenaltyStrength"] == 0
    assert "confidenceWeightDiscriminative" not in data(response)
    assert response.json()["meta"] == {"recalculatedGroups": 2}
    group = data(await api.get(f"/api/v1/duplicates/{pair}?light=true"))
    jaccard, fuzzy = DEFAULTS["confidenceWeightJaccard"], DEFAULTS["confidenceWeightFuzzy"]
    assert group["confidenceScore"] == pytest.approx((jaccard * 0.9 + fuzzy * 0.5) / 100)
    assert data(await api.get("/api/v1/config")) == {"dedup.discriminativePenaltyStrength": "0"}


# --- test-connection ------------------------------------------------------------------------


async def test_connection_with_the_running_configuration(api, fake_paperless):
    fake_paperless.library.add_document(title="one")
    assert data(await api.post("/api/v1/config/test-connection")) == {
        "connected": True,
        "version": "3.0.5",
        "documentCount": 1,
    }


@pytest.mark.parametrize(
    "credentials",
    [{"token": "fake-paperless-token"}, {"username": "admin", "password": "admin"}],
)
async def test_connection_with_explicit_credentials(api, fake_paperless, credentials):
    body = {"url": fake_paperless.url, **credentials}
    assert data(await api.post("/api/v1/config/test-connection", json=body))["connected"] is True


async def test_connection_failures_are_502(api, fake_paperless):
    body = {"url": fake_paperless.url, "token": "wrong"}
    response = await api.post("/api/v1/config/test-connection", json=body)
    assert "credentials" in error_of(response, 502, "BAD_GATEWAY")["message"]
    fake_paperless.faults.fail_next(1, status=500)
    error_of(await api.post("/api/v1/config/test-connection"), 502, "BAD_GATEWAY")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"url": "http://paperless:8000"}, {"token"}),
        ({"url": "paperless:8000", "token": "t"}, {"url"}),
        ({"url": "http://p", "tokn": "t"}, {"tokn"}),
    ],
)
async def test_connection_body_is_validated(api, body, expected):
    assert fields(await api.post("/api/v1/config/test-connection", json=body)) == expected


# --- backup ---------------------------------------------------------------------------------


async def test_export_then_import_restores_the_configuration(api, api_settings, tmp_path):
    await api.put("/api/v1/config", json={"settings": {"ui.theme": "dark", "ui.rows": "10"}})
    await api.put("/api/v1/config/dedup", json={"numBands": 16, "autoAnalyze": False})
    assert DEFAULTS["numPermutations"] % 16 == 0
    response = await api.get("/api/v1/export/config.json")
    assert response.headers["content-disposition"].startswith("attachment")
    backup = response.json()
    assert backup["version"] == "1.0"
    assert backup["appConfig"]["ui.theme"] == "dark"
    assert backup["dedupConfig"] == {**DEFAULTS, "numBands": 16, "autoAnalyze": False}

    api_settings.database.path = str(tmp_path / "fresh.db")
    async with running_api(api_settings) as fresh:
        response = await fresh.post("/api/v1/import/config", json=backup)
        assert data(response) == {"appConfigKeys": 4, "dedupConfigUpdated": True}
        assert response.json()["meta"] == {"analysisStale": True}
        assert data(await fresh.get("/api/v1/config/dedup")) == backup["dedupConfig"]
        assert data(await fresh.get("/api/v1/config"))["ui.rows"] == "10"


async def test_an_invalid_backup_writes_nothing(api):
    backup = {"appConfig": {"ui.theme": "dark"}, "dedupConfig": {"numBands": 7}}
    assert fields(await api.post("/api/v1/import/config", json=backup)) == {"dedup.numBands"}
    assert data(await api.get("/api/v1/config")) == {}
    assert fields(await api.post("/api/v1/import/config", json={"appConfig": []})) == {"appConfig"}
