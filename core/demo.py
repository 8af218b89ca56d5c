"""Demo mode: with no Paperless configured, dupeless runs against the built-in sample library.

A newcomer who types `make run` sees real duplicate groups a minute later: the fake Paperless is
served on a loopback port with a generated library (duplicates and template look-alikes), the
settings point at it, and the start-up sync and analysis do the rest. Logs and `/api/v1/ready` say
that this is demo mode.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from .config import DatabaseSettings, Settings
from .corpus import generate_corpus
from .fake_paperless import DEFAULT_TOKEN, FakePaperless, serve

log = logging.getLogger("dupeless.demo")

DEMO_DOCUMENTS = 400
DEMO_SEED = 7
DEMO_DATABASE = "data/demo.db"


def is_demo(settings: Settings) -> bool:
    """Demo mode is on when the Paperless source is chosen but no Paperless URL is set."""
    return settings.pipeline.fetch == "paperless" and not settings.paperless.url


def sample_paperless(documents: int = DEMO_DOCUMENTS, seed: int = DEMO_SEED) -> FakePaperless:
    """A fake Paperless filled with a generated library."""
    fake = FakePaperless()
    fake.library.load_documents(generate_corpus(documents, seed).documents)
    return fake


@contextmanager
def demo_paperless(settings: Settings) -> Iterator[str]:
    """Serve the sample library and point `settings` at it (and at a separate demo database)."""
    with serve(sample_paperless()) as url:
        settings.paperless.url = url
        settings.paperless.api_token = DEFAULT_TOKEN
        if settings.database.path == DatabaseSettings().path:
            settings.database.path = DEMO_DATABASE
        log.warning(
            "DEMO MODE: PAPERLESS_URL is not set, so dupeless runs against a built-in sample"
            " library served at %s (database %s). Set PAPERLESS_URL and PAPERLESS_API_TOKEN to"
            " use your own Paperless-ngx.",
            url,
            settings.database.path,
        )
        yield url
