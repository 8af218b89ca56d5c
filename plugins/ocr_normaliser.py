"""The `ocr` normaliser: one canonical form of OCR'd text that every later stage compares.

Steps, in order: Unicode NFKC (ligatures, full-width digits, non-breaking spaces), casefold
(`ß` -> `ss`, `Straße` == `STRASSE`), rejoin words hyphenated at a line end (`Rech-\\nnung`),
drop punctuation, collapse whitespace to single spaces.

Punctuation between two digits is kept (`03.04.2024`, `1.234,56`, `12:30`, `2024-04-03`) so that
numbers stay one token and differing amounts stay different words. Everything else that is not a
letter or a digit becomes a space. The template-penalty scorer does not rely on this: it reads
the raw content, where currency signs and month names with their dots are still intact.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from dupeless.core.hookspecs import hookimpl
from dupeless.plugins import pool

# A hyphen at the end of a line: the OCR kept the typesetter's break (`Rech-\nnung`).
_LINE_HYPHEN = re.compile(r"[-\u00ad][ \t]*\n\s*")
# A word: letters and digits, with `.,:/-` kept only between two digits (dates, amounts, times).
_WORD = re.compile(r"[^\W_]+(?:(?<=\d)[.,:/\-](?=\d)[^\W_]+)*")
_SEPARATORS = ".,:/-"
# The same rule on UTF-8 bytes: an ASCII byte that is neither a letter, a digit nor a separator
# becomes a space (bytes of other characters pass), then a separator not between two digits.
_ASCII_WORD_BYTES = bytes(
    c if c >= 0x80 or chr(c).isalnum() or chr(c) in _SEPARATORS else 0x20 for c in range(256)
)
_ASCII = bytes(range(0x80))
_LONE_SEPARATOR = re.compile(rb"[.,:/\-](?:(?<![0-9].)|(?![0-9]))")
_SPACE_RUN = re.compile(rb"  +")


def normalise(text: str) -> str:
    """Return the canonical form of one text (see the module docstring for the rules).

    The rule is `_WORD`, but a regex testing every character's Unicode class costs ~100 µs
    per page; byte translation does the same in a third of that. Non-ASCII characters that
    are not letters (`€`, `–`) become spaces first; a text with non-ASCII digits, whose
    separators `_WORD` keeps too, takes the regex.
    """
    if not text:
        return ""
    text = _unified(text)
    data = text.encode()
    if not text.isascii():
        others = set(data.translate(None, _ASCII).decode())
        if any(character.isnumeric() for character in others):
            return " ".join(_WORD.findall(text))
        for character in others:
            if not character.isalnum():  # UTF-8 matches only at character boundaries
                data = data.replace(character.encode(), b" ")
    data = _LONE_SEPARATOR.sub(b" ", data.translate(_ASCII_WORD_BYTES))
    # Every ASCII byte left that is not a word's is a space now: collapse the runs (a third
    # faster than split and join).
    return _SPACE_RUN.sub(b" ", data).strip(b" ").decode()


def _unified(text: str) -> str:
    """NFKC, casefold and line-end hyphens rejoined: the steps before the word rule."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _LINE_HYPHEN.sub(_rejoin, text) if "\n" in text else text


def _rejoin(match: re.Match[str]) -> str:
    """Drop a line-end hyphen between two letters; keep it as a space otherwise (`2024-\n05`)."""
    start, end = match.span()
    text = match.string
    letters = start > 0 and end < len(text) and text[start - 1].isalpha() and text[end].isalpha()
    return "" if letters else " "


def word_count(text: str) -> int:
    """Number of whitespace-separated words (of the normalised text, or of raw content)."""
    return len(text.split())


def content_hash(normalised: str) -> str:
    """SHA-256 hex of the normalised text: equal hashes are the exact-duplicate tier."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def normalise_all(texts: list[str]) -> list[str]:
    """`normalise` of every text, in this process."""
    return [normalise(text) for text in texts]


@hookimpl
def dupeless_startup(settings: Any) -> None:
    """Normalising is the first stage of an analysis and runs in the process pool: start it."""
    if settings.pipeline.normalise == "ocr":
        pool.start()


@hookimpl
def dupeless_normalise(texts: list[str]) -> list[str]:
    """Large batches are normalised in the plugin process pool (`plugins/pool.py`)."""
    return [text for chunk in pool.pool_map(normalise_all, texts) for text in chunk]
