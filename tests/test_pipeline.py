"""The pipeline host: built-ins, entry-point plugins from a real distribution, provider choice,
sync and async hooks, DUPELESS_LOAD_PLUGINS, DUPELESS_TRACE_PLUGINS and the plugins command."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager

import pytest
from dupeless.core.cli import main
from dupeless.core.config import load_settings
from dupeless.core.errors import PluginError
from dupeless.core.pipeline import BUILTIN_PLUGINS, Pipeline

PLUGIN_SOURCE = '''
"""A third-party plugin, installed the way pip would install it."""
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent


@hookimpl
def dupeless_normalise(texts):
    return [text.upper() for text in texts]


@hookimpl
async def dupeless_score_pairs(pairs, settings, plugin_config):
    weight = plugin_config.get("value", 0.5)
    return ScoreComponent(name="shout", values=[weight for _ in pairs])


started = []


@hookimpl
def dupeless_startup(settings):
    started.append(settings)
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real distribution (`shout-plugin` 1.2.3) on sys.path with a `dupeless` entry point."""
    site = tmp_path / "site"
    dist = site / "shout_plugin-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (site / "shout_plugin.py").write_text(PLUGIN_SOURCE)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[dupeless]\nshout = shout_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    return "shout"


def settings_with(environ=None, **pipeline):
    settings = load_settings(environ=environ or {})
    for key, value in pipeline.items():
        setattr(settings.pipeline, key, value)
    return settings


def test_every_builtin_is_registered_like_a_plugin():
    pipeline = Pipeline(settings_with(), entrypoints=False)
    assert set(pipeline.names()) == set(BUILTIN_PLUGINS)
    described = {plugin["name"]: plugin for plugin in pipeline.describe()}
    assert described["jsonl"]["builtin"]
    assert described["jsonl"]["hooks"] == ["dupeless_fetch_source"]
    pipeline.check()


def test_entry_point_plugin_loads_with_its_version(installed_plugin):
    pipeline = Pipeline(settings_with())
    described = {plugin["name"]: plugin for plugin in pipeline.describe()}
    assert described["shout"] == {
        "name": "shout",
        "version": "1.2.3",
        "builtin": False,
        "hooks": ["dupeless_normalise", "dupeless_score_pairs", "dupeless_startup"],
    }


async def test_configuration_picks_the_provider(installed_plugin):
    pipeline = Pipeline(settings_with(normalise="shout"))
    name = pipeline.provider("normalise")
    assert name == "shout"
    assert await pipeline.call("dupeless_normalise", name, texts=["a b"]) == ["A B"]


async def test_async_hook_gets_its_own_plugin_table(installed_plugin, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[pipeline]\nscorers = ['shout']\n[plugins.shout]\nvalue = 0.9\n")
    pipeline = Pipeline(load_settings(path, environ={}))
    component = await pipeline.call(
        "dupeless_score_pairs", "shout", pairs=[1, 2], settings=pipeline.settings
    )
    assert (component.name, component.values) == ("shout", [0.9, 0.9])
    assert pipeline.scorers() == ["shout"]


def test_start_calls_every_plugins_startup_hook(installed_plugin, monkeypatch):
    from dupeless.plugins import pool

    pool.shutdown()
    monkeypatch.setenv(pool.WORKERS_ENV, "2")
    settings = settings_with()
    pipeline = Pipeline(settings)
    pipeline.start()
    assert __import__("shout_plugin").started == [settings]
    assert len(pool._pool._processes) == 2  # the ocr normaliser started the pool's workers


def test_missing_provider_names_the_setting():
    pipeline = Pipeline(settings_with(fetch="nope"), entrypoints=False)
    with pytest.raises(PluginError, match=r"pipeline.fetch = 'nope'.*available: jsonl, paperless"):
        pipeline.check()


def test_plugin_table_for_an_unknown_plugin_is_an_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[plugins.nothing]\nx = 1\n")
    with pytest.raises(PluginError, match=r"plugins.nothing: no plugin named 'nothing'"):
        Pipeline(load_settings(path, environ={}), entrypoints=False).check()


def test_load_plugins_restricts_builtins_and_entry_points(installed_plugin, monkeypatch):
    monkeypatch.setenv("DUPELESS_LOAD_PLUGINS", "jsonl, shout")
    assert Pipeline(settings_with()).names() == ["jsonl", "shout"]
    monkeypatch.setenv("DUPELESS_LOAD_PLUGINS", "")
    assert Pipeline(settings_with()).names() == []


def test_broken_entry_point_is_named(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[dupeless]\nbroken = no_such_module\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginError, match=r"plugin 'broken' \(no_such_module\) failed to load"):
        Pipeline(settings_with())


async def test_trace_plugins_logs_every_call_with_duration(installed_plugin, monkeypatch, caplog):
    monkeypatch.setenv("DUPELESS_TRACE_PLUGINS", "1")
    pipeline = Pipeline(settings_with(normalise="shout"))
    with caplog.at_level(logging.INFO, logger="dupeless.plugins"):
        await pipeline.call("dupeless_normalise", "shout", texts=["x"])
    assert any(
        "hook dupeless_normalise plugin=shout" in r.message and " ms ok" in r.message
        for r in caplog.records
    )


async def test_monitors_see_stages_and_hook_calls_including_failures(installed_plugin):
    seen = []

    @contextmanager
    def monitor(kind, name, plugin):
        seen.append(("enter", kind, name, plugin))
        try:
            yield
        except Exception as exc:
            seen.append(("error", type(exc).__name__))
            raise

    pipeline = Pipeline(settings_with(normalise="shout"))
    pipeline.monitors.append(monitor)
    with pipeline.monitor("stage", "normalise", "shout"):
        await pipeline.call("dupeless_normalise", "shout", texts=["x"])
    with pytest.raises(AttributeError):
        await pipeline.call("dupeless_normalise", "shout", texts=[1])
    assert seen == [
        ("enter", "stage", "normalise", "shout"),
        ("enter", "hook", "dupeless_normalise", "shout"),
        ("enter", "hook", "dupeless_normalise", "shout"),
        ("error", "AttributeError"),
    ]


def test_plugins_command(installed_plugin, capsys):
    assert main(["plugins", "--json"]) == 0
    listed = {plugin["name"]: plugin for plugin in json.loads(capsys.readouterr().out)}
    assert listed["shout"]["version"] == "1.2.3"
    assert main(["plugins"]) == 0
    assert (
        "shout 1.2.3 (installed): dupeless_normalise, dupeless_score_pairs, dupeless_startup"
        in (capsys.readouterr().out)
    )


def test_hookspec_docstrings_are_the_reference():
    pipeline = Pipeline(settings_with(), load=set(), entrypoints=False)
    for name in dir(pipeline.pm.hook):
        if name.startswith("dupeless_"):
            spec = getattr(pipeline.pm.hook, name).spec
            assert spec.function.__doc__ and "\n" not in spec.function.__doc__.strip(), name
