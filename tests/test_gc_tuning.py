"""The collector's thresholds while analyses run: raised, shared, restored by the last to leave."""

from __future__ import annotations

import gc

from dupeless.core.gc_tuning import THRESHOLDS, fewer_collections


def test_thresholds_are_raised_inside_and_restored_after():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before


def test_overlapping_analyses_restore_only_when_the_last_one_leaves():
    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first one finishes while the second still runs
    assert gc.get_threshold() == THRESHOLDS
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


async def test_an_analysis_runs_with_fewer_collections(store, settings):
    from contextlib import contextmanager

    from dupeless.core.analysis import Analysis
    from dupeless.core.pipeline import Pipeline

    seen = {}

    @contextmanager
    def watch(kind, name, plugin):  # a pipeline monitor: called around every stage
        seen[name] = gc.get_threshold()
        yield

    pipeline = Pipeline(settings)
    pipeline.monitors.append(watch)
    await store.execute(
        "INSERT INTO documents (id, title, fingerprint, synced_at) VALUES (1, 'x', 'f', 'now')"
    )
    await store.execute(
        "INSERT INTO content (document_id, full_text, normalized_text, word_count, content_hash)"
        " VALUES (1, 'A letter', '', 0, '')"
    )
    before = gc.get_threshold()
    await Analysis(store, pipeline, settings.dedup).run()
    assert seen["normalise"] == seen["score"] == THRESHOLDS
    assert gc.get_threshold() == before
