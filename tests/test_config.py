"""Configuration: precedence, every validation path, secrets, the generated example file."""

from __future__ import annotations

from pathlib import Path

import pytest
from dupeless.core.cli import main
from dupeless.core.config import example_toml, load_settings
from dupeless.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dupeless.toml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ=environ or {})
    return caught.value.problems


def test_defaults_follow_the_contract_where_the_benchmark_agrees():
    settings = load_settings(environ={})
    dedup = settings.dedup
    # numBands 64 and fuzzySampleSize 2000 differ from the contract: see docs/how-it-works.md.
    assert (dedup.num_permutations, dedup.num_bands, dedup.ngram_size, dedup.min_words) == (
        256,
        64,
        3,
        20,
    )
    assert dedup.fuzzy_sample_size == 2000
    assert dedup.similarity_threshold == 0.75
    assert (dedup.confidence_weight_jaccard, dedup.confidence_weight_fuzzy) == (60, 40)
    assert dedup.discriminative_penalty_strength == 70
    assert settings.server.port == 8000


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path):
    path = write(tmp_path, "[server]\nport = 9000\nhost = '0.0.0.0'\n[dedup]\nnum_bands = 16\n")
    from_file = load_settings(path, environ={})
    assert (from_file.server.port, from_file.server.host, from_file.dedup.num_bands) == (
        9000,
        "0.0.0.0",
        16,
    )
    both = load_settings(path, environ={"PORT": "9100", "DUPELESS_DEDUP_NUM_BANDS": "64"})
    assert (both.server.port, both.server.host, both.dedup.num_bands) == (9100, "0.0.0.0", 64)


def test_config_file_from_environment_variable(tmp_path):
    path = write(tmp_path, "[server]\nport = 9001\n")
    assert load_settings(environ={"DUPELESS_CONFIG": str(path)}).server.port == 9001


def test_contract_environment_names(tmp_path):
    settings = load_settings(
        environ={
            "PAPERLESS_URL": "http://paperless:8000",
            "PAPERLESS_API_TOKEN": "t0ken",
            "PAPERLESS_USERNAME": "admin",
            "PAPERLESS_PASSWORD": "pw",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "LOG_LEVEL": "debug",
            "OTEL_ENABLED": "true",
            "OTEL_SERVICE_NAME": "dd",
            "OTEL_PROMETHEUS_ENABLED": "false",
            "AI_ENABLED": "1",
            "RAG_ENABLED": "yes",
            "DUPELESS_API_KEY": "k",
            "DUPELESS_PIPELINE_SCORERS": "jaccard, fuzzy",
        }
    )
    assert settings.paperless.url == "http://paperless:8000"
    assert settings.paperless.api_token == "t0ken"
    assert (settings.paperless.username, settings.paperless.password) == ("admin", "pw")
    assert settings.database_path == Path(f"{tmp_path}/x.db")
    assert settings.server.log_level == "debug"
    assert settings.telemetry.enabled and not settings.telemetry.prometheus_enabled
    assert settings.telemetry.service_name == "dd"
    assert settings.ai.enabled and settings.rag.enabled
    assert settings.server.api_key == "k"
    assert settings.pipeline.scorers == ["jaccard", "fuzzy"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key (known keys here: api_key, host,"),
        ("[servr]\nport = 1\n", "servr: unknown key"),
        (
            "[server]\nport = 'abc'\n",
            "server.port: expected a whole number (allowed: from 1 to 65535)",
        ),
        ("[server]\nport = true\n", "server.port: expected a whole number"),
        ("[server]\nport = 70000\n", "server.port: got 70000 (allowed: from 1 to 65535)"),
        (
            "[server]\nlog_level = 'loud'\n",
            "server.log_level: got 'loud' (allowed: one of critical",
        ),
        (
            "[dedup]\nsimilarity_threshold = 1.5\n",
            "dedup.similarity_threshold: got 1.5 (allowed: from 0.0",
        ),
        (
            "[dedup]\nsimilarity_threshold = 'high'\n",
            "dedup.similarity_threshold: expected a number",
        ),
        ("[dedup]\nauto_analyze = 'sometimes'\n", "dedup.auto_analyze: expected true or false"),
        (
            "[dedup]\nnum_bands = 7\n",
            "dedup.num_bands: must divide dedup.num_permutations (256), got 7",
        ),
        (
            "[dedup]\nconfidence_weight_jaccard = 70\n",
            "dedup.confidence_weight_jaccard + dedup.confidence_weight_fuzzy: must sum to 100,"
            " got 110",
        ),
        ("[pipeline]\nscorers = [1, 2]\n", "pipeline.scorers: expected a list of strings"),
        ("[pipeline]\nfetch = 3\n", "pipeline.fetch: expected a string"),
        ("[plugins]\nfoo = 1\n", "plugins: expected one table per plugin"),
        ("port = 1\n", "port: unknown key"),
    ],
)
def test_each_invalid_value_names_the_key_and_what_is_allowed(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in problem for problem in found), found


def test_all_problems_are_reported_together(tmp_path):
    found = problems(tmp_path, "[server]\nport = 0\nlog_level = 'x'\n[dedup]\nngram_size = 99\n")
    assert len(found) == 3


def test_invalid_environment_value_names_the_key():
    with pytest.raises(ConfigError, match=r"server.port: expected a whole number"):
        load_settings(environ={"PORT": "eighty"})


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[server\n"), environ={})


def test_plugin_tables_are_kept_per_plugin(tmp_path):
    settings = load_settings(write(tmp_path, "[plugins.my_scorer]\nweight = 10\n"), environ={})
    assert settings.plugin_config("my_scorer") == {"weight": 10}
    assert settings.plugin_config("other") == {}


def test_secrets_never_appear_in_repr_or_errors(tmp_path):
    settings = load_settings(
        environ={"PAPERLESS_API_TOKEN": "s3cr3t-token", "PAPERLESS_PASSWORD": "hunter2"}
    )
    assert "s3cr3t" not in repr(settings) and "hunter2" not in repr(settings)
    found = problems(tmp_path, "[paperless]\napi_token = 5\n")
    assert found == ["paperless.api_token: expected a string (allowed: a string)"]


def test_example_file_documents_every_key_with_its_default():
    assert (ROOT / "config.example.toml").read_text() == example_toml()
    assert load_settings(ROOT / "config.example.toml", environ={}) == load_settings(environ={})


def test_config_check_command(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DUPELESS_CONFIG", raising=False)
    good = write(tmp_path, "[server]\nport = 9000\n")
    assert main(["config", "check", str(good)]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = -1\n")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "dupeless: invalid configuration: server.port: got -1 (allowed: from 1 to 65535)"
    )


def test_configuration_docs_list_every_key_and_variable():
    import attrs
    from dupeless.core.config import env_name, sections

    text = (ROOT / "docs" / "configuration.md").read_text()
    for section, cls in sections():
        assert f"`[{section}]`" in text
        for key in attrs.fields(cls):
            assert f"| `{key.name}` |" in text, f"{section}.{key.name}"
            assert f"`{env_name(section, key)}`" in text
