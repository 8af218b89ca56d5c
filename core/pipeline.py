"""The pipeline host: one pluggy PluginManager with built-in and third-party plugins.

Built-in plugins (`dupeless.plugins`) are registered exactly like third-party ones from the
`dupeless` entry-point group. Every hook call goes through `Pipeline.call`, which picks the plugin
that the configuration names, passes it its own `[plugins.NAME]` table, awaits async
implementations and notifies the monitors (trace logging, tracing and metrics attach there).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import __version__, hookspecs
from .errors import PluginError

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger("dupeless.plugins")

LOAD_PLUGINS_ENV = "DUPELESS_LOAD_PLUGINS"
TRACE_PLUGINS_ENV = "DUPELESS_TRACE_PLUGINS"

#: Built-in plugins: provider name -> module. Registered like any entry-point plugin.
BUILTIN_PLUGINS = {
    "paperless": "dupeless.plugins.paperless_source",
    "jsonl": "dupeless.plugins.jsonl_source",
    "ocr": "dupeless.plugins.ocr_normaliser",
    "minhash": "dupeless.plugins.minhash",
    "lsh": "dupeless.plugins.lsh",
    "jaccard": "dupeless.plugins.jaccard",
    "fuzzy": "dupeless.plugins.fuzzy",
    "template_penalty": "dupeless.plugins.template_penalty",
    "metadata": "dupeless.plugins.metadata_scorer",
}

#: Stage -> (hook that provides it, setting that names the provider).
SINGLE_PROVIDER_STAGES = {
    "fetch": ("dupeless_fetch_source", "fetch"),
    "normalise": ("dupeless_normalise", "normalise"),
    "signature": ("dupeless_signatures", "signature"),
    "candidate": ("dupeless_candidate_index", "candidate"),
}

#: A monitor is called as monitor(kind, name, plugin) around every stage ("stage") and every
#: hook call ("hook") and returns a context manager; exceptions propagate through it.
Monitor = Callable[[str, str, "str | None"], AbstractContextManager[None]]


def requested_plugins(environ: dict[str, str] | os._Environ[str] | None = None) -> set[str] | None:
    """Names from $DUPELESS_LOAD_PLUGINS (comma-separated), or None when every plugin may load."""
    value = (os.environ if environ is None else environ).get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


class Pipeline:
    """Loads plugins and calls their hooks; one per process (the server, a CLI command, a test)."""

    def __init__(
        self, settings: Settings, *, load: set[str] | None = None, entrypoints: bool = True
    ):
        self.settings = settings
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        for module in (*hookspecs.STAGES.values(), hookspecs.lifecycle):
            self.pm.add_hookspecs(module)
        self.versions: dict[str, str] = {}
        self.builtin: set[str] = set()
        self.monitors: list[Monitor] = []
        self._callers: dict[tuple[str, str], Any] = {}
        allowed = requested_plugins() if load is None else load
        self._register_builtins(allowed)
        if entrypoints:
            self._register_entrypoints(allowed)
        if os.environ.get(TRACE_PLUGINS_ENV, "") not in ("", "0"):
            self.monitors.append(log_hook_calls)

    # -- loading ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str, version: str) -> None:
        """Register one plugin object (a module or an instance) under `name`."""
        if self.pm.has_plugin(name):
            raise PluginError(f"two plugins are named {name!r}; rename one")
        self.pm.register(plugin, name)
        self.versions[name] = version
        self._callers.clear()

    def _register_builtins(self, allowed: set[str] | None) -> None:
        for name, module in BUILTIN_PLUGINS.items():
            if allowed is None or name in allowed:
                self.register(importlib.import_module(module), name, __version__)
                self.builtin.add(name)

    def _register_entrypoints(self, allowed: set[str] | None) -> None:
        for entry in entry_points(group=hookspecs.PROJECT):
            if allowed is not None and entry.name not in allowed:
                continue
            try:
                plugin = entry.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {entry.name!r} ({entry.value}) failed to load: {exc}"
                ) from exc
            version = entry.dist.version if entry.dist else "unknown"
            self.register(plugin, entry.name, version)

    def names(self) -> list[str]:
        return sorted(name for name, _ in self.pm.list_name_plugin())

    def describe(self) -> list[dict[str, Any]]:
        """Each plugin with its version and the hooks it implements (for `dupeless plugins`)."""
        described = []
        for name in self.names():
            plugin = self.pm.get_plugin(name)
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            described.append(
                {
                    "name": name,
                    "version": self.versions.get(name, "unknown"),
                    "builtin": name in self.builtin,
                    "hooks": hooks,
                }
            )
        return described

    # -- choosing providers -------------------------------------------------------------------

    def provider(self, stage: str) -> str:
        """The plugin name that provides a single-provider stage, checked to exist."""
        hook, setting = SINGLE_PROVIDER_STAGES[stage]
        name = getattr(self.settings.pipeline, setting)
        self._require(name, hook, f"pipeline.{setting}")
        return name

    def scorers(self) -> list[str]:
        """The configured scorer plugins, each checked to implement the score hook."""
        for name in self.settings.pipeline.scorers:
            self._require(name, "dupeless_score_pairs", "pipeline.scorers")
        return list(self.settings.pipeline.scorers)

    def check(self) -> None:
        """Fail early, naming the setting, when a configured provider is not loaded."""
        for stage in SINGLE_PROVIDER_STAGES:
            self.provider(stage)
        self.scorers()
        for name in self.settings.plugins:
            if not self.pm.has_plugin(name):
                raise PluginError(
                    f"plugins.{name}: no plugin named {name!r} is loaded"
                    f" (loaded: {', '.join(self.names())})"
                )

    def start(self) -> None:
        """Call every plugin's `dupeless_startup` (the server and analysing commands do, once)."""
        self.pm.hook.dupeless_startup(settings=self.settings)

    def _require(self, name: str, hook: str, setting: str) -> None:
        plugin = self.pm.get_plugin(name)
        implemented = plugin is not None and any(
            impl.plugin_name == name for impl in getattr(self.pm.hook, hook).get_hookimpls()
        )
        if not implemented:
            providers = sorted(
                impl.plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls()
            )
            raise PluginError(
                f"{setting} = {name!r}: no loaded plugin of that name implements {hook}"
                f" (available: {', '.join(providers) or 'none'})"
            )

    # -- calling ---------------------------------------------------------------------------------

    def _caller(self, hook: str, plugin: str) -> Any:
        key = (hook, plugin)
        if key not in self._callers:
            others = [p for n, p in self.pm.list_name_plugin() if n != plugin]
            self._callers[key] = self.pm.subset_hook_caller(hook, remove_plugins=others)
        return self._callers[key]

    async def call(self, hook: str, plugin: str, *, offload: bool = False, **kwargs: Any) -> Any:
        """Call `hook` on one plugin only and return its result, awaiting it if it is async.

        The plugin's own `[plugins.NAME]` table is passed as `plugin_config` when the hook
        takes one. `offload=True` runs a plain (CPU-heavy) implementation in a worker thread so
        the event loop keeps serving requests.
        """
        spec = getattr(self.pm.hook, hook).spec
        if "plugin_config" in spec.argnames:
            kwargs["plugin_config"] = self.settings.plugin_config(plugin)
        caller = self._caller(hook, plugin)
        with self.monitor("hook", hook, plugin):
            if offload:
                result = await asyncio.to_thread(caller, **kwargs)
            else:
                result = caller(**kwargs)
            if not spec.opts.get("firstresult"):  # one plugin's answer, from pluggy's list
                result = result[0] if result else None
            if inspect.isawaitable(result):
                result = await result
        return result

    @contextmanager
    def monitor(self, kind: str, name: str, plugin: str | None = None) -> Iterator[None]:
        """Run the block inside every monitor's context (used for stages and hook calls)."""
        with ExitStack() as stack:
            for monitor in self.monitors:
                stack.enter_context(monitor(kind, name, plugin))
            yield


@contextmanager
def log_hook_calls(kind: str, name: str, plugin: str | None) -> Iterator[None]:
    """The $DUPELESS_TRACE_PLUGINS monitor: log every stage and hook call with its duration."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s plugin=%s %.2f ms %s", kind, name, plugin or "-", elapsed, outcome)
