"""normalise: turn raw (often OCR'd) text into the canonical form every later stage compares."""

from __future__ import annotations

from . import hookspec


@hookspec(firstresult=True)
def dupeless_normalise(texts: list[str]) -> list[str]:
    """Return the normalised form of each text, in order; equal meaning should give equal text."""
