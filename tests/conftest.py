"""Shared fixtures: settings that point at a temporary database, and an open store."""

from __future__ import annotations

import pytest
from dupeless.core.config import Settings, load_settings
from dupeless.core.store import Store

pytest_plugins = ["fixtures_paperless"]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Default settings: the database in a temporary folder, no sweep, no stray environment."""
    for name in ("DUPELESS_CONFIG", "DUPELESS_LOAD_PLUGINS", "DUPELESS_TRACE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    environ = {"DATABASE_URL": str(tmp_path / "dupeless.db"), "DUPELESS_SYNC_INTERVAL_MINUTES": "0"}
    return load_settings(environ=environ)


@pytest.fixture
async def store(settings):
    store = await Store.open(settings.database_path)
    yield store
    await store.close()
