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

import re
import unicodedata
from typing import Any

import numpy as np
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
_SEPARATOR_BYTE = np.zeros(256, dtype=bool)
_SEPARATOR_BYTE[list(_SEPARATORS.encode())] = True
_DIGIT_BYTE = np.zeros(256, dtype=bool)
_DIGIT_BYTE[list(b"0123456789")] = True
_SPACE = np.uint8(0x20)
#: Between the texts of a batch in `_finish`: no text has one left (it became a space).
_END = b"\x00"


def normalise(text: str) -> str:
    """Return the canonical form of one text (see the module docstring for the rules)."""
    return normalise_all([text])[0]


def normalise_all(texts: list[str]) -> list[str]:
    """`normalise` of every text, in this process.

    The rule is `_WORD`, but a regex testing every character's Unicode class costs ~100 µs
    per page: each text's bytes are translated (`_word_bytes`), then the separator and space
    rules run over the whole batch at once (`_finish`).
    """
    ready = [_word_bytes(text) for text in texts]
    finished = iter(_finish([item for item in ready if isinstance(item, bytes)]))
    return [next(finished) if isinstance(item, bytes) else item for item in ready]


def _word_bytes(text: str) -> bytes | str:
    """The unified text's UTF-8 bytes with every ASCII byte that is neither a letter, a digit
    nor a separator made a space, and the non-ASCII characters that are not letters (`€`, `–`)
    too. A text with non-ASCII digits, whose separators `_WORD` keeps too, comes back
    finished (a str) by the regex."""
    text = _unified(text)
    data = text.encode()
    if not text.isascii():
        others = set(data.translate(None, _ASCII).decode())
        if any(character.isnumeric() for character in others):
            return " ".join(_WORD.findall(text))
        for character in others:
            if not character.isalnum():  # UTF-8 matches only at character boundaries
                data = data.replace(character.encode(), b" ")
    return data.translate(_ASCII_WORD_BYTES)


def _finish(texts: list[bytes]) -> list[str]:
    """`_word_bytes` texts finished: a separator not between two ASCII digits becomes a space,
    runs of spaces one space, and the ends are trimmed. numpy does it for the batch joined by
    _END, where two byte regexes per text took 40 µs a page."""
    if not texts:
        return []
    codes = np.frombuffer(_END.join(texts), dtype=np.uint8)
    digit = _DIGIT_BYTE[codes]
    lone = _SEPARATOR_BYTE[codes]
    lone[1:-1] &= ~(digit[:-2] & digit[2:])
    codes = np.where(lone, _SPACE, codes)
    space = codes == _SPACE
    kept = np.ones(len(codes), dtype=bool)
    kept[1:] = ~(space[1:] & space[:-1])
    return [part.strip(b" ").decode() for part in codes[kept].tobytes().split(_END)]


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


@hookimpl
def dupeless_startup(settings: Any) -> None:
    """Normalising is the first stage of an analysis and runs in the process pool: start it."""
    if settings.pipeline.normalise == "ocr":
        pool.start()


@hookimpl
def dupeless_normalise(texts: list[str]) -> list[str]:
    """Large batches are normalised in the plugin process pool (`plugins/pool.py`)."""
    return [text for chunk in pool.pool_map(normalise_all, texts) for text in chunk]
