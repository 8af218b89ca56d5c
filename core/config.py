"""Configuration: attrs classes filled by cattrs from defaults < TOML file < environment.

Every setting is declared once, with its default, documentation, allowed values and environment
name; loading, validation, `config.example.toml` and `dupeless config check` are all derived from
those declarations, so they cannot drift apart.
"""

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from attrs import define, field
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from .errors import ConfigError

CONFIG_ENV = "DUPELESS_CONFIG"


def setting(
    default: Any,
    doc: str,
    *,
    env: str | None = None,
    range: tuple[float | None, float | None] | None = None,
    choices: tuple[Any, ...] | None = None,
    secret: bool = False,
) -> Any:
    """Declare one setting: its default, one line of documentation and what it accepts."""
    meta = {"doc": doc, "env": env, "range": range, "choices": choices, "secret": secret}
    if isinstance(default, list | dict):
        return field(factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta, repr=not secret)


@define
class ServerSettings:
    """The HTTP server."""

    host: str = setting("127.0.0.1", "Interface to listen on (0.0.0.0 for every interface).")
    port: int = setting(8000, "TCP port of the REST API.", env="PORT", range=(1, 65535))
    log_level: str = setting(
        "info",
        "Log level.",
        env="LOG_LEVEL",
        choices=("critical", "error", "warning", "info", "debug"),
    )
    api_key: str = setting(
        "",
        "When set, every endpoint but health, ready and metrics needs this key.",
        env="DUPELESS_API_KEY",
        secret=True,
    )


@define
class DatabaseSettings:
    """The SQLite store."""

    path: str = setting(
        "data/dupeless.db",
        "SQLite database file (a `sqlite:///` URL is accepted too).",
        env="DATABASE_URL",
    )
    busy_timeout_ms: int = setting(
        5000, "How long a writer waits for a lock before failing.", range=(0, 600_000)
    )


@define
class PaperlessSettings:
    """The Paperless-ngx server dupeless reads from. Empty `url` runs the built-in demo library."""

    url: str = setting(
        "", "Base URL of Paperless-ngx, e.g. http://paperless:8000.", env="PAPERLESS_URL"
    )
    api_token: str = setting(
        "", "API token (preferred over username/password).", env="PAPERLESS_API_TOKEN", secret=True
    )
    username: str = setting("", "User for HTTP Basic auth.", env="PAPERLESS_USERNAME")
    password: str = setting(
        "", "Password for HTTP Basic auth.", env="PAPERLESS_PASSWORD", secret=True
    )
    timeout: float = setting(30.0, "Per-request timeout in seconds.", range=(0.1, 600))
    page_size: int = setting(1000, "Documents per page when listing.", range=(1, 100_000))
    max_concurrency: int = setting(4, "Pages fetched at the same time.", range=(1, 32))
    max_retries: int = setting(
        4, "Retries on network errors, timeouts, 5xx and 429.", range=(0, 10)
    )


@define
class SyncSettings:
    """Keeping the store in line with Paperless."""

    interval_minutes: int = setting(
        60,
        "Incremental sync (and analysis) at start-up and then every this many minutes; 0 = off."
        " Catches deletions and any event Paperless did not deliver.",
        range=(0, 10_080),
    )


@define
class HooksSettings:
    """The Paperless post-consume script and workflow webhooks (docs/paperless-integration.md)."""

    token: str = setting(
        "",
        "Shared secret the post-consume script and webhooks send; empty refuses every hook call.",
        env="DUPELESS_HOOK_TOKEN",
        secret=True,
    )
    write_back: bool = setting(
        True, "Tag and note a new document in Paperless when it is a likely duplicate."
    )
    tag: str = setting("duplicate", "Tag the write-back adds (created when missing).")
    public_url: str = setting(
        "",
        "Base URL of dupeless for links in notes; empty means http://server.host:server.port.",
        env="DUPELESS_PUBLIC_URL",
    )
    workers: int = setting(2, "Workers checking new documents.", range=(1, 8))
    max_attempts: int = setting(3, "Attempts before a hook event is marked failed.", range=(1, 20))
    queue_size: int = setting(
        1000, "Events held in memory; more wait in the database.", range=(10, 100_000)
    )


@define
class PaperlessMetricsSettings:
    """Paperless' own counts as Prometheus metrics (prometheus-paperless-exporter's names)."""

    enabled: bool = setting(
        False, "Poll Paperless for document, tag, ... counts.", env="PAPERLESS_METRICS_ENABLED"
    )
    collectors: list[str] = setting(
        ["document", "tag", "correspondent", "document_type", "storage_path", "statistics"],
        "Collectors to run.",
        env="PAPERLESS_METRICS_COLLECTORS",
    )
    interval_seconds: int = setting(
        300, "Seconds between polls (never polled per scrape).", range=(10, 86_400)
    )

    def problems(self) -> Iterator[str]:
        known = PaperlessMetricsSettings().collectors
        unknown = sorted(set(self.collectors) - set(known))
        if unknown:
            yield (
                f"paperless_metrics.collectors: unknown {', '.join(unknown)}"
                f" (allowed: {', '.join(known)})"
            )


@define
class DedupSettings:
    """Near-duplicate detection (the contract's dedup config; the API can change it at run time)."""

    num_permutations: int = setting(256, "MinHash signature length.", range=(16, 2048))
    num_bands: int = setting(
        64,
        "LSH bands; must divide num_permutations. 64 (4 rows each) keeps 94% of 10%-noise"
        " re-scans as candidates, 32 only 56% (docs/how-it-works.md).",
        range=(1, 2048),
    )
    ngram_size: int = setting(3, "Shingle size in words.", range=(1, 10))
    min_words: int = setting(
        20, "Documents with fewer words only group by exact content.", range=(0, 100_000)
    )
    similarity_threshold: float = setting(
        0.75, "Pairs at or above this confidence are duplicates.", range=(0.0, 1.0)
    )
    confidence_weight_jaccard: int = setting(
        60, "Weight of the Jaccard component; with the fuzzy weight sums to 100.", range=(0, 100)
    )
    confidence_weight_fuzzy: int = setting(
        40, "Weight of the fuzzy-text component.", range=(0, 100)
    )
    discriminative_penalty_strength: int = setting(
        70, "How strongly differing dates, amounts and ids lower a pair's score.", range=(0, 100)
    )
    fuzzy_sample_size: int = setting(
        2000,
        "Characters of each text compared by the fuzzy scorer (2000 scores as well as 10000,"
        " eight times faster).",
        range=(100, 1_000_000),
    )
    auto_analyze: bool = setting(
        True, "Run an incremental analysis after a sync that changed anything."
    )

    def problems(self) -> Iterator[str]:
        if self.num_permutations % self.num_bands:
            yield (
                f"dedup.num_bands: must divide dedup.num_permutations ({self.num_permutations}),"
                f" got {self.num_bands}"
            )
        if self.confidence_weight_jaccard + self.confidence_weight_fuzzy != 100:
            yield (
                "dedup.confidence_weight_jaccard + dedup.confidence_weight_fuzzy: must sum to 100,"
                f" got {self.confidence_weight_jaccard + self.confidence_weight_fuzzy}"
            )


@define
class PipelineSettings:
    """Which plugin provides each stage (names as `dupeless plugins` lists them)."""

    fetch: str = setting("paperless", "Document source.")
    normalise: str = setting("ocr", "Text normaliser.")
    signature: str = setting("minhash", "Signature algorithm.")
    candidate: str = setting("lsh", "Candidate index.")
    scorers: list[str] = setting(
        ["jaccard", "fuzzy", "template_penalty", "metadata"],
        "Scorers that contribute a component to each pair's confidence.",
    )


@define
class TelemetrySettings:
    """OpenTelemetry traces and the Prometheus endpoint."""

    enabled: bool = setting(False, "Emit OpenTelemetry traces.", env="OTEL_ENABLED")
    service_name: str = setting("dupeless", "service.name of every span.", env="OTEL_SERVICE_NAME")
    traces_exporter: str = setting(
        "otlp",
        "Span exporter (otlp falls back to console when its package is missing).",
        env="OTEL_TRACES_EXPORTER",
        choices=("otlp", "console", "none"),
    )
    otlp_endpoint: str = setting("", "OTLP collector endpoint.", env="OTEL_EXPORTER_OTLP_ENDPOINT")
    export_batch_size: int = setting(
        32,
        "Finished spans handed to the exporter at a time (the SDK's default is 512); smaller"
        " batches free spans sooner and cost requests less (docs/observability.md).",
        env="OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        range=(1, 2048),
    )
    prometheus_enabled: bool = setting(
        True, "Serve /metrics in the Prometheus text format.", env="OTEL_PROMETHEUS_ENABLED"
    )
    excluded_urls: list[str] = setting(
        ["/health$", "/ready$", "/metrics$"],
        "Regular expressions searched in each request path; a match gets no span"
        " (metrics still count it). Empty: trace every request.",
        env="OTEL_PYTHON_EXCLUDED_URLS",
    )

    def problems(self) -> Iterator[str]:
        for pattern in self.excluded_urls:
            try:
                re.compile(pattern)
            except re.error as exc:
                yield f"telemetry.excluded_urls: {pattern!r} is not a regular expression ({exc})"


@define
class AISettings:
    """AI metadata suggestions."""

    enabled: bool = setting(False, "Enable the /ai endpoints.", env="AI_ENABLED")


@define
class RagSettings:
    """Document question answering."""

    enabled: bool = setting(False, "Enable the /rag endpoints.", env="RAG_ENABLED")


@define
class Settings:
    """Everything dupeless can be configured with; `plugins` holds one table per plugin."""

    server: ServerSettings = field(factory=ServerSettings)
    database: DatabaseSettings = field(factory=DatabaseSettings)
    paperless: PaperlessSettings = field(factory=PaperlessSettings)
    sync: SyncSettings = field(factory=SyncSettings)
    hooks: HooksSettings = field(factory=HooksSettings)
    dedup: DedupSettings = field(factory=DedupSettings)
    pipeline: PipelineSettings = field(factory=PipelineSettings)
    telemetry: TelemetrySettings = field(factory=TelemetrySettings)
    paperless_metrics: PaperlessMetricsSettings = field(factory=PaperlessMetricsSettings)
    ai: AISettings = field(factory=AISettings)
    rag: RagSettings = field(factory=RagSettings)
    plugins: dict[str, dict[str, Any]] = field(factory=dict)

    @property
    def database_path(self) -> Path:
        """The store's file path, with a `sqlite:///` prefix removed."""
        path = self.database.path
        for prefix in ("sqlite:///", "sqlite://", "file:"):
            if path.startswith(prefix):
                path = path[len(prefix) :]
                break
        return Path(path)

    def plugin_config(self, name: str) -> dict[str, Any]:
        """The `[plugins.NAME]` table, empty when the file has none."""
        return self.plugins.get(name, {})


def sections() -> Iterator[tuple[str, type]]:
    """(name, class) of every settings section, in declaration order."""
    for section in attrs.fields(Settings):
        if attrs.has(section.type):
            yield section.name, section.type


def env_name(section: str, key: attrs.Attribute) -> str:
    """The environment variable that sets `section.key`."""
    return key.metadata.get("env") or f"DUPELESS_{section}_{key.name}".upper()


# --- loading -------------------------------------------------------------------------------


class _Invalid(ValueError):
    """A value of the wrong type; the loader turns it into a message naming the key."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid("expected true or false")


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip().replace("_", ""))
        except ValueError:
            pass
    raise _Invalid("expected a whole number")


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _Invalid("expected a number")


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid("expected a string")


def _str_list(value: Any, _: type) -> list[str]:
    if isinstance(value, str):  # from the environment: comma-separated
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise _Invalid("expected a list of strings")


def _plugin_tables(value: Any, _: type) -> dict[str, dict[str, Any]]:
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return value
    raise _Invalid("expected one table per plugin, e.g. [plugins.NAME]")


_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(bool, _strict_bool)
_converter.register_structure_hook(int, _strict_int)
_converter.register_structure_hook(float, _strict_float)
_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook_func(lambda t: t == list[str], _str_list)
_converter.register_structure_hook_func(lambda t: t == dict[str, dict[str, Any]], _plugin_tables)


def _allowed(key: attrs.Attribute) -> str:
    meta = key.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    if meta.get("range"):
        low, high = meta["range"]
        return f"from {low} to {high}"
    kind = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        list[str]: "a list of strings (comma-separated in the environment)",
    }
    return kind.get(key.type, "a string")


def _describe(section: str, name: str, message: str) -> str:
    key = _attribute(section, name)
    allowed = f" (allowed: {_allowed(key)})" if key is not None else ""
    return f"{section}.{name}: {message}{allowed}"


def _attribute(section: str, name: str) -> attrs.Attribute | None:
    cls = dict(sections()).get(section)
    if cls is None:
        return None
    return next((a for a in attrs.fields(cls) if a.name == name), None)


def _errors(exc: BaseException, path: list[str]) -> Iterator[str]:
    """Walk cattrs' exception groups and name the key behind each error."""
    if isinstance(exc, ForbiddenExtraKeysError):
        where = ".".join(path)
        known = sorted(a.name for a in attrs.fields(exc.cl))
        for extra in sorted(exc.extra_fields):
            name = f"{where}.{extra}" if where else extra
            yield f"{name}: unknown key (known keys here: {', '.join(known)})"
        return
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            note = next((n for n in getattr(sub, "__notes__", []) if "@ attribute" in n), None)
            name = note.rsplit("@ attribute", 1)[1].strip() if note else None
            yield from _errors(sub, [*path, name] if name else path)
        return
    if len(path) == 2:
        yield _describe(path[0], path[1], str(exc))
    else:
        yield f"{'.'.join(path) or 'config'}: {exc}"


def _range_problems(settings: Settings) -> Iterator[str]:
    for section, cls in sections():
        values = getattr(settings, section)
        for key in attrs.fields(cls):
            value = getattr(values, key.name)
            meta = key.metadata
            bad_choice = meta.get("choices") and value not in meta["choices"]
            low, high = meta.get("range") or (None, None)
            out_of_range = (low is not None and value < low) or (high is not None and value > high)
            if bad_choice or out_of_range:
                shown = "***" if meta.get("secret") else repr(value)
                yield f"{section}.{key.name}: got {shown} (allowed: {_allowed(key)})"
        if hasattr(values, "problems"):
            yield from values.problems()


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for section, cls in sections():
        for key in attrs.fields(cls):
            name = env_name(section, key)
            if name in environ:
                overrides.setdefault(section, {})[key.name] = environ[name]
    return overrides


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = _merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file, turning I/O and syntax errors into a ConfigError naming the file."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings from defaults < TOML file (`path` or $DUPELESS_CONFIG) < environment.

    Raises ConfigError listing every unknown key, wrong type and out-of-range value.
    """
    environ = os.environ if environ is None else environ
    path = path or environ.get(CONFIG_ENV) or None
    raw = read_toml(path) if path else {}
    raw = _merge(raw, _env_overrides(environ))
    try:
        settings = _converter.structure(raw, Settings)
    except (ClassValidationError, ForbiddenExtraKeysError) as exc:
        raise ConfigError(list(_errors(exc, []))) from None
    problems = list(_range_problems(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def example_toml() -> str:
    """config.example.toml, generated from the declarations: every key, its default and its doc."""
    lines = [
        "# dupeless configuration. Every key is shown with its default.",
        "# Precedence: defaults < this file (--config PATH or $DUPELESS_CONFIG) < environment.",
        "# Each key's environment variable is named after `env:`.",
    ]
    for section, cls in sections():
        lines += ["", f"# {cls.__doc__.strip()}", f"[{section}]"]
        for key in attrs.fields(cls):
            default = (
                key.default.factory() if isinstance(key.default, attrs.Factory) else key.default
            )
            lines.append(
                f"# {key.metadata['doc']} Allowed: {_allowed(key)}. env: {env_name(section, key)}"
            )
            lines.append(f"{key.name} = {_toml_value(default)}")
    lines += [
        "",
        "# Each plugin reads its own table, keyed by plugin name, e.g.:",
        "# [plugins.my_scorer]",
        "# weight = 10",
        "# The built-in candidate index drops candidates whose signatures agree less (0 to 1):",
        "# [plugins.lsh]",
        "# min_jaccard = 0.15",
        "",
    ]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return repr(value)
