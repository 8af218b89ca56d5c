"""The store-backed analysis: full and incremental runs, groups, decisions, reviewed groups,
third-party scorers, and the one-document check."""

from __future__ import annotations

import json
import random
import threading
import time

import numpy as np
import pytest
from dupeless.core import analysis
from dupeless.core.analysis import Analysis
from dupeless.core.check import check
from dupeless.core.cli import main
from dupeless.core.dedup_config import update_dedup
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.hookspecs.signature import Signatures
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store
from dupeless.core.sync import sync
from dupeless.plugins.jsonl_source import JsonlSource

LETTER = (
    "Dear Ms Keller, thank you for your letter of last week about the renovation of the "
    "staircase in the building at Lindenstrasse. We have asked two contractors for offers and "
    "expect them before the end of the month. The owners meeting will decide which offer to "
    "accept; until then no work can start. Please note that the lift will be serviced on the "
    "same day and cannot be used between nine and twelve. If you have questions about the "
    "schedule or the costs, our office is open every weekday morning. Kind regards, Hausverwaltung"
)
OTHER = (
    "The quarterly report shows that the warehouse in Bremen handled more parcels than planned, "
    "while the new sorting line in Leipzig is still below its target because two conveyors were "
    "delivered late. The board asks every site manager to review overtime, to plan the holiday "
    "season early and to report damaged goods within two days so that claims can be filed with "
    "the carriers in time. Training for the scanners starts next month in all locations."
)


def scan(text: str) -> str:
    """A re-scan: a few OCR confusions and a re-wrapped line."""
    return text.replace("m", "rn", 3).replace("l", "1", 2).replace(". ", ".\n", 2)


def record(doc_id, content, **extra):
    return {
        "id": doc_id,
        "title": f"Doc {doc_id}",
        "content": content,
        "added": f"2026-01-{doc_id:02d}T10:00:00Z",
        "modified": f"2026-01-{doc_id:02d}T10:00:00Z",
        **extra,
    }


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "library.jsonl"

    def write(*records):
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
        return JsonlSource(path)

    return write


async def analyse(store, settings, pipeline=None, **options):
    pipeline = pipeline or Pipeline(settings)
    return await Analysis(store, pipeline, settings.dedup).run(**options)


async def groups_of(store):
    rows = await store.fetchall(
        "SELECT g.id, g.status, g.primary_document_id, m.document_id FROM duplicate_groups g"
        " JOIN group_members m ON m.group_id = g.id ORDER BY m.document_id"
    )
    groups = {}
    for group_id, status, primary, member in rows:
        groups.setdefault(group_id, {"status": status, "primary": primary, "members": []})
        groups[group_id]["members"].append(member)
    return groups


async def test_full_run_groups_a_rescan_and_leaves_others_alone(store, settings, library):
    await sync(store, library(record(1, LETTER), record(2, scan(LETTER)), record(3, OTHER)), "j")
    result = await analyse(store, settings)
    assert result.full and result.documents_analysed == 3
    groups = list((await groups_of(store)).values())
    assert groups == [{"status": "pending", "primary": 1, "members": [1, 2]}]
    statuses = {r[0] for r in await store.fetchall("SELECT processing_status FROM documents")}
    assert statuses == {"completed"}
    components = json.loads(await store.fetchval("SELECT components FROM pair_scores"))
    assert set(components["similarities"]) >= {"jaccard", "fuzzy"}


async def test_incremental_run_adds_a_new_copy_to_the_existing_group(store, settings, library):
    await sync(store, library(record(1, LETTER), record(2, scan(LETTER)), record(3, OTHER)), "j")
    await analyse(store, settings)
    (group_id,) = await groups_of(store)
    source = library(
        record(1, LETTER), record(2, scan(LETTER)), record(3, OTHER), record(4, scan(LETTER))
    )
    await sync(store, source, "j")
    result = await analyse(store, settings)
    assert not result.full and result.documents_analysed == 1
    assert (result.groups_created, result.groups_updated) == (0, 1)
    assert (await groups_of(store))[group_id]["members"] == [1, 2, 4]


async def test_changed_content_is_signed_again_and_leaves_the_group(store, settings, library):
    await sync(store, library(record(1, LETTER), record(2, scan(LETTER))), "j")
    await analyse(store, settings)
    changed = record(2, OTHER, modified="2026-02-01T10:00:00Z")
    await sync(store, library(record(1, LETTER), changed), "j")
    result = await analyse(store, settings)
    assert result.signatures_computed == 1 and result.signatures_reused == 0
    assert await groups_of(store) == {}


async def test_template_features_are_stored_once_and_reset_by_a_content_change(
    store, settings, library
):
    dated = LETTER + " Invoice 2024-00317 of 03.04.2024 over 1.234,56 EUR."
    await sync(store, library(record(1, dated), record(2, scan(dated))), "j")
    await analyse(store, settings)
    stored = json.loads(
        await store.fetchval("SELECT features FROM document_features WHERE document_id = 1")
    )
    assert stored["dates"] == ["2024-04-03"] and "123456" in stored["amounts"]
    changed = record(2, OTHER, modified="2026-02-01T10:00:00Z")
    await sync(store, library(record(1, dated), changed), "j")
    assert (
        await store.fetchval("SELECT features FROM document_features WHERE document_id = 2") is None
    )


def monthly_invoice(number: int, month: int) -> str:
    return (
        f"Invoice {number:08d} of {month:02d}.0{month}.2024 for customer 55501234. "
        + LETTER
        + f" Total amount {month}0{month}.{month}5 EUR, due on 2{month}.{month:02d}.2024."
    )


async def test_a_weight_change_that_could_lift_an_estimated_pair_reanalyses_it(
    store, settings, library
):
    source = library(
        record(1, monthly_invoice(40017311, 3)), record(2, monthly_invoice(90228645, 4))
    )
    await sync(store, source, "j")
    await analyse(store, settings)
    estimated = "SELECT json_extract(explanation, '$.fuzzy.estimated') FROM pair_scores"
    assert await store.fetchval(estimated) == 1  # monthly siblings: fuzzy was never measured
    update = await update_dedup(store, settings, {"discriminativePenaltyStrength": 0})
    assert update.analysis_stale
    pending = "SELECT COUNT(*) FROM documents WHERE processing_status = 'pending'"
    assert await store.fetchval(pending) == 2
    await Analysis(store, Pipeline(settings), update.dedup).run()
    assert await store.fetchval(estimated) is None  # measured now


async def test_small_score_batches_and_a_small_document_cache_give_the_same_scores(
    store, settings, library, tmp_path, monkeypatch
):
    """Scoring batch by batch, with documents evicted from the cache between batches and read
    again, stores exactly what one batch holding everything stores."""
    source = library(
        *(record(i, text) for i, text in enumerate([LETTER, scan(LETTER), OTHER], 1)),
        *(record(i, scan(text)) for i, text in enumerate([OTHER, LETTER, scan(LETTER)], 4)),
    )

    async def stored(target):
        await sync(target, source, "j")
        await analyse(target, settings)
        pairs = await target.fetchall(
            "SELECT document_a, document_b, confidence, components, explanation"
            " FROM pair_scores ORDER BY document_a, document_b"
        )
        groups = sorted(group["members"] for group in (await groups_of(target)).values())
        return [tuple(row) for row in pairs], groups

    expected = await stored(store)
    assert len(expected[0]) > 4 and expected[1] == [[1, 2, 5, 6], [3, 4]]
    monkeypatch.setattr(analysis, "SCORE_BATCH", 2)
    monkeypatch.setattr(analysis, "CACHED_DOCUMENTS", 1)
    small = await Store.open(tmp_path / "small.db")
    try:
        assert await stored(small) == expected
    finally:
        await small.close()


async def test_identical_text_groups_at_full_confidence_even_when_short(store, settings, library):
    await sync(
        store, library(record(1, "Receipt 42"), record(2, "receipt  42"), record(3, "")), "j"
    )
    await sync(
        store, library(record(1, "Receipt 42"), record(2, "receipt  42"), record(3, "")), "j"
    )
    await analyse(store, settings)
    (group,) = (await groups_of(store)).values()
    assert group["members"] == [1, 2]
    assert await store.fetchval("SELECT confidence FROM duplicate_groups") == 1.0


async def test_not_duplicate_decision_and_reviewed_status_survive_a_forced_rerun(
    store, settings, library
):
    records = [record(1, LETTER), record(2, scan(LETTER)), record(5, OTHER), record(6, scan(OTHER))]
    await sync(store, library(*records), "j")
    await analyse(store, settings)
    groups = await groups_of(store)
    letter = next(g for g, v in groups.items() if v["members"] == [1, 2])
    other = next(g for g, v in groups.items() if v["members"] == [5, 6])
    await store.execute(
        "UPDATE duplicate_groups SET status = 'false_positive' WHERE id = ?", (letter,)
    )
    await store.execute(
        "INSERT INTO pair_decisions VALUES (1, 2, 'not_duplicate', '2026-01-01T00:00:00Z')"
    )
    await store.execute("UPDATE duplicate_groups SET status = 'ignored' WHERE id = ?", (other,))
    await analyse(store, settings, force=True)
    after = await groups_of(store)
    assert after[letter]["status"] == "false_positive"
    assert after[other] == {"status": "ignored", "primary": 5, "members": [5, 6]}
    assert not [g for g in after.values() if g["status"] == "pending"]


VETO_PLUGIN = """
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent


@hookimpl
def dupeless_score_pairs(pairs, settings, plugin_config):
    return ScoreComponent(name="veto", kind="penalty", values=[1.0 for _ in pairs])
"""


async def test_third_party_scorer_from_an_entry_point_changes_results(
    store, settings, library, tmp_path, monkeypatch
):
    site = tmp_path / "site"
    dist = site / "veto-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "veto_scorer.py").write_text(VETO_PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: veto\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dupeless]\nveto = veto_scorer\n")
    monkeypatch.syspath_prepend(str(site))
    settings.pipeline.scorers = [*settings.pipeline.scorers, "veto"]
    await sync(store, library(record(1, LETTER), record(2, scan(LETTER))), "j")
    await analyse(store, settings)
    assert await groups_of(store) == {}
    components = json.loads(await store.fetchval("SELECT components FROM pair_scores"))
    assert components["penalties"]["veto"] == 1.0


class Probe:
    """A scorer that notes how many of its calls overlap (it sleeps so that they could)."""

    def __init__(self):
        self.running = self.most = self.calls = 0
        self.lock = threading.Lock()

    @hookimpl
    def dupeless_score_pairs(self, pairs, settings, plugin_config):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return ScoreComponent(name="probe", values=[1.0 for _ in pairs])


async def test_batches_are_scored_two_at_a_time_but_a_plugin_one_batch_at_a_time(
    store, settings, library, monkeypatch
):
    monkeypatch.setattr(analysis, "SCORE_BATCH", 1)
    texts = [LETTER, scan(LETTER), LETTER + " Seite 1", scan(LETTER) + " Seite 2"]
    await sync(store, library(*(record(i, text) for i, text in enumerate(texts, 1))), "j")
    probe = Probe()
    pipeline = Pipeline(settings)
    pipeline.register(probe, "probe", "1")
    settings.pipeline.scorers = [*settings.pipeline.scorers, "probe"]
    result = await analyse(store, settings, pipeline)
    assert probe.calls == result.pairs_scored == 6 and probe.most == 1
    assert await store.fetchval("SELECT count(*) FROM pair_scores") == 6


async def test_progress_rises_chunk_by_chunk(store, settings, library, monkeypatch):
    monkeypatch.setattr(analysis, "BATCH", 1)
    await sync(store, library(*(record(i, f"{LETTER} Blatt {i}") for i in range(1, 4))), "j")
    reports = []

    async def progress(fraction, message):
        reports.append((fraction, message))

    await Analysis(store, Pipeline(settings), settings.dedup, progress=progress).run()
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert (0.02 + 0.43 * 2 / 3, "Normalised 2 of 3 documents") in reports


class Failing:
    """A normaliser or signature plugin that fails on its second batch."""

    def __init__(self):
        self.batches = 0

    def fail_later(self):
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("plugin broke")

    @hookimpl
    def dupeless_normalise(self, texts):
        self.fail_later()
        return [text.lower() for text in texts]

    @hookimpl
    def dupeless_signatures(self, texts, params):
        if texts:  # an empty call only asks for the key
            self.fail_later()
        return Signatures(key="failing", values=np.zeros((len(texts), params.num_permutations)))


@pytest.mark.parametrize("stage", ["normalise", "signature"])
async def test_a_failing_stage_raises_its_own_error_and_leaves_documents_pending(
    store, settings, library, monkeypatch, stage
):
    monkeypatch.setattr(analysis, "BATCH", 1)
    await sync(store, library(*(record(i, f"{LETTER} Blatt {i}") for i in range(1, 5))), "j")
    pipeline = Pipeline(settings)
    pipeline.register(Failing(), "failing", "1")
    setattr(settings.pipeline, stage, "failing")
    with pytest.raises(RuntimeError, match="plugin broke"):
        await analyse(store, settings, pipeline)
    pending = "SELECT count(*) FROM documents WHERE processing_status = 'pending'"
    assert await store.fetchval(pending) == 4


@pytest.mark.parametrize("table", ["content", "signatures"])
async def test_a_failed_background_write_fails_the_run_and_leaves_documents_pending(
    store, settings, library, monkeypatch, table
):
    """Normalised texts and signatures are written behind the stages; a write that fails is
    the run's error, as if the stage had written it itself."""
    monkeypatch.setattr(analysis, "BATCH", 1)
    await sync(store, library(*(record(i, f"{LETTER} Blatt {i}") for i in range(1, 5))), "j")
    when = {  # the third document's write fails
        "content": "UPDATE ON content WHEN NEW.document_id = 3",
        "signatures": "INSERT ON signatures WHEN (SELECT count(*) FROM signatures) = 2",
    }
    await store.execute(
        f"CREATE TRIGGER full BEFORE {when[table]} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(Exception, match="disk full"):
        await analyse(store, settings)
    pending = "SELECT count(*) FROM documents WHERE processing_status = 'pending'"
    assert await store.fetchval(pending) == 4


class FailingScorer:
    """A scorer that fails on its second batch."""

    def __init__(self):
        self.batches = 0

    @hookimpl
    def dupeless_score_pairs(self, pairs, settings, plugin_config):
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("scorer broke")
        return ScoreComponent(name="failing", values=[0.0 for _ in pairs])


async def test_a_run_that_fails_while_scoring_keeps_the_stored_pairs(
    store, settings, library, monkeypatch
):
    """The old pairs of the analysed documents go in the transaction that publishes the new
    ones, so a run that fails halfway leaves them as they were."""
    texts = [LETTER, scan(LETTER), LETTER + " Seite 1", scan(LETTER) + " Seite 2"]
    await sync(store, library(*(record(i, text) for i, text in enumerate(texts, 1))), "j")
    await analyse(store, settings)
    stored = "SELECT * FROM pair_scores ORDER BY document_a, document_b"
    before = [tuple(row) for row in await store.fetchall(stored)]
    assert len(before) == 6
    monkeypatch.setattr(analysis, "SCORE_BATCH", 1)
    pipeline = Pipeline(settings)
    pipeline.register(FailingScorer(), "failing", "1")
    settings.pipeline.scorers = [*settings.pipeline.scorers, "failing"]
    with pytest.raises(RuntimeError, match="scorer broke"):
        await analyse(store, settings, pipeline, force=True)
    assert [tuple(row) for row in await store.fetchall(stored)] == before


async def test_check_one_document_is_idempotent(store, settings, library):
    await sync(store, library(record(1, LETTER), record(3, OTHER)), "j")
    await analyse(store, settings)
    source = library(record(1, LETTER), record(3, OTHER), record(7, scan(LETTER)))
    pipeline = Pipeline(settings)
    verdict = await check(store, pipeline, source, settings.dedup, 7)
    assert verdict.duplicate and verdict.matches == [1] and verdict.best_match == 1
    assert verdict.confidence > settings.dedup.similarity_threshold
    assert "possible duplicate of #1" in verdict.line()
    again = await check(store, pipeline, source, settings.dedup, 7)
    assert again == verdict
    assert len(await groups_of(store)) == 1
    missing = await check(store, pipeline, source, settings.dedup, 99)
    assert not missing.found


def test_analyze_and_export_commands(tmp_path, library, capsys):
    library(record(1, LETTER), record(2, scan(LETTER)), record(3, OTHER))
    path = tmp_path / "library.jsonl"
    database = tmp_path / "cli.db"
    code = main(["analyze", "--source", f"jsonl:{path}", "--db", str(database), "--quiet"])
    assert code == 0
    assert "analysis: 3 documents" in capsys.readouterr().out
    assert main(["export", "duplicates", "--db", str(database), "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    (group,) = exported["groups"]
    assert (group["members"], group["primary"], group["status"]) == ([1, 2], 1, "pending")
    assert main(["export", "duplicates", "--db", str(database), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "group_id,confidence,status,is_primary,paperless_id,title"
    assert len(lines) == 3


def test_score_batches_take_the_candidate_graph_component_by_component(monkeypatch):
    """Two interleaved series: in id order each batch would need documents of both."""
    import numpy as np

    monkeypatch.setattr(analysis, "SCORE_BATCH", 2)
    pairs = np.array([[1, 3], [1, 5], [2, 4], [2, 6], [3, 5], [4, 6]])
    ordered = analysis._by_component(pairs)
    assert sorted(map(tuple, ordered.tolist())) == sorted(map(tuple, pairs.tolist()))
    first = {d for pair in ordered[:3].tolist() for d in pair}
    assert first in ({1, 3, 5}, {2, 4, 6})


def test_word_count_is_the_number_of_whitespace_separated_words():
    from dupeless.core.analysis import word_count

    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    texts = ["", " ", "a", " a", "a ", "a  b", "ä ö ü", "rechnung 1.234,56 eur"]
    texts += [f"a{space}b" for space in spaces] + [f"{space}a" for space in spaces]
    rng = random.Random(4)
    alphabet = ["a", "ß", "€", " ", *spaces[:8], "\u2003", "\u3000"]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(5000)]
    assert [word_count(text) for text in texts] == [len(text.split()) for text in texts]


async def test_signatures_are_stored_in_32_bits_when_they_fit(store, settings, library):
    from dupeless.core.analysis import _signature_blobs, _signature_of

    values = np.array([[1, 2**32 - 1, 0], [-1, 5, 6], [2**40, 1, 2]], dtype=np.int64)
    blobs = _signature_blobs(values)
    assert [len(blob) for blob in blobs] == [12, 24, 24]
    assert all(
        np.array_equal(_signature_of(b, 3), row) for b, row in zip(blobs, values, strict=True)
    )

    await sync(store, library(record(1, LETTER), record(2, scan(LETTER)), record(3, OTHER)), "j")
    await analyse(store, settings)
    lengths = {row[0] for row in await store.fetchall("SELECT length(signature) FROM signatures")}
    assert lengths == {4 * settings.dedup.num_permutations}  # the built-in's values always fit
    groups = [group["members"] for group in (await groups_of(store)).values()]
    assert groups == [[1, 2]]  # read back as computed
