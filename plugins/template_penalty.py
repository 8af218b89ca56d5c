"""The `template_penalty` scorer: monthly invoices from one template are not duplicates.

Two invoices from the same template share nearly all their text, so Jaccard and fuzzy call them
duplicates; what tells them apart are the few values that change: dates, amounts, identifiers
(invoice, customer, policy, account numbers, references) and times. `extract_features` pulls
these out of the *raw* content (where `3. März 2024`, `€1,234.56` and `Nr. 2024-001` are still
intact) once per document; the host stores the result. English and German forms are read and
brought to one canonical value: dates to ISO (`March 3, 2024`, `3. März 2024`, `03.03.2024`,
`2024-03-03` are all `2024-03-03`), amounts to cents (`1.234,56 €` == `€1,234.56` == `123456`).
OCR letter/digit confusions next to digits (`2O24`, `l5.03`) are undone first.

The penalty of a pair compares the two feature sets category by category:

* a value on both sides matches;
* a value without an equal partner, but within edit distance 1 of a leftover value on the other
  side, is a *near* match: probably an OCR error, counted as half a conflict;
* leftover values on both sides are *conflicts* (as many as the smaller side has);
* leftover values on one side only are *extras* (a stamp's date, a missing page's totals): weak
  evidence, a tenth of a conflict.

    penalty = min(1, 2 * (conflicts + 0.5 * near + 0.1 * extras) / features)

where `features` counts the values of the larger side of each category. Relative to the number
of features, one misread date among ten values costs a true duplicate little, while a monthly
invoice (new number, new dates, often new amounts) is pushed far below the threshold.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import AnalysedDocument, ScoringPair
from rapidfuzz.distance import Levenshtein

CATEGORIES = ("dates", "amounts", "identifiers", "times")
CONFLICT_SCALE = 2.0
NEAR_COST = 0.35
EXTRA_COST = 0.05
# Two different documents almost never share a number; a differing identifier weighs double.
CATEGORY_WEIGHT = {"dates": 1.0, "amounts": 1.0, "identifiers": 1.5, "times": 0.5}
PRIOR_FEATURES = 4

_MONTHS = {
    name: number
    for names in (
        "january february march april may june july august september october november december",
        "januar februar märz april mai juni juli august september oktober november dezember",
        "jan feb mar apr may jun jul aug sep oct nov dec",
        "jan feb mär apr mai jun jul aug sep okt nov dez",
    )
    for number, name in enumerate(names.split(), 1)
}
_MONTHS.update(jän=1, feber=2, maerz=3, sept=9)
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_DATE = re.compile(
    rf"""
    \b(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})\b
    | \b(?P<nd>\d{{1,2}})[./](?P<nm>\d{{1,2}})[./](?P<ny>\d{{4}}|\d{{2}})\b
    | \b(?P<dd>\d{{1,2}})(?:\.|st|nd|rd|th)?\s*(?P<dm>{_MONTH})\.?\s+(?P<dy>\d{{4}})\b
    | \b(?P<mm>{_MONTH})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<my>\d{{4}})\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_AMOUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:[.,' ]?\d{3})*[.,]\d{2}(?![\d.,]?\d)")
_TIME = re.compile(
    r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\s*(?:uhr|h|am|pm)\b|\b([01]?\d|2[0-3]):([0-5]\d)\b", re.I
)
_IDENTIFIER = re.compile(r"\b[a-z]{0,5}[-/#]?\d[\da-z\-/]{3,}\b", re.IGNORECASE)
_DATE_GROUPS = (("iy", "im", "id"), ("ny", "nm", "nd"), ("dy", "dm", "dd"), ("my", "mm", "md"))
_DIGITS = re.compile(r"\d+")
CONTEXT = 16  # characters kept on each side of a digit: `September 30th,` fits
# OCR letters that stand for digits, when touching a digit.
_DIGIT_LOOKALIKE = re.compile(r"[OoIl|SB](?=\d)|(?<=\d)[OoIl|SB]")
_DIGIT_OF = str.maketrans("OoIl|SB", "0011158")


def extract_features(content: str) -> dict[str, list[str]]:
    """Canonical dates, amounts, identifiers and times of one raw text (JSON-serialisable)."""
    text = _digit_context(unicodedata.normalize("NFKC", content))
    text = _DIGIT_LOOKALIKE.sub(lambda m: m.group().translate(_DIGIT_OF), text)
    dates = {iso for iso in map(_iso_date, _DATE.finditer(text)) if iso}
    text = _DATE.sub(" ", text)
    times = {f"{int(h or h2):02d}:{m or m2}" for h, m, h2, m2 in _TIME.findall(text)}
    text = _TIME.sub(" ", text)
    amounts = {re.sub(r"\D", "", found).lstrip("0") or "0" for found in _AMOUNT.findall(text)}
    text = _AMOUNT.sub(" ", text)
    identifiers = {
        found.upper() for found in _IDENTIFIER.findall(text) if sum(map(str.isdigit, found)) >= 5
    }
    return {
        "dates": sorted(dates),
        "amounts": sorted(amounts),
        "identifiers": sorted(identifiers),
        "times": sorted(times),
    }


def _digit_context(text: str) -> str:
    """Only the stretches of text around digits (every feature has one), one per line.

    Letters far from any digit cannot be part of a feature; dropping them makes the feature
    regexes run over a fraction of the text.
    """
    spans: list[list[int]] = []
    for match in _DIGITS.finditer(text):
        start, end = max(match.start() - CONTEXT, 0), match.end() + CONTEXT
        if spans and start <= spans[-1][1]:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return "\n".join(_cut(text, start, end) for start, end in spans)


def _cut(text: str, start: int, end: int) -> str:
    """text[start:end] widened to whole words, so a window never starts inside a word."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _iso_date(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year, month, day = next(names for names in _DATE_GROUPS if groups[names[0]])
    number = groups[month]
    month_number = int(number) if number.isdigit() else _MONTHS[number.casefold()]
    year_number = int(groups[year])
    if year_number < 100:
        year_number += 2000 if year_number < 70 else 1900
    try:
        return date(year_number, month_number, int(groups[day])).isoformat()
    except ValueError:
        return None


def features_of(document: AnalysedDocument) -> dict[str, list[str]]:
    """The document's features, extracted and cached on it the first time."""
    if document.features is None:
        document.features = extract_features(document.content)
    return document.features


def compare(a: dict[str, list[str]], b: dict[str, list[str]]) -> tuple[float, dict[str, Any]]:
    """(penalty 0..1, explanation) for two feature sets (see the module docstring)."""
    conflicts = near = extras = 0.0
    features = 0
    explanation: dict[str, Any] = {"matched": {}, "near": {}, "differing": {}}
    for category in CATEGORIES:
        left, right = set(a.get(category, ())), set(b.get(category, ()))
        features += max(len(left), len(right))
        matched = left & right
        left_only, right_only = sorted(left - matched), sorted(right - matched)
        close = _near_matches(left_only, right_only)
        for x, y in close:
            left_only.remove(x)
            right_only.remove(y)
        weight = CATEGORY_WEIGHT[category]
        conflicts += weight * min(len(left_only), len(right_only))
        extras += weight * abs(len(left_only) - len(right_only))
        near += weight * len(close)
        if matched:
            explanation["matched"][category] = sorted(matched)
        if close:
            explanation["near"][category] = close
        if left_only or right_only:
            explanation["differing"][category] = {"a": left_only, "b": right_only}
    if not features:
        return 0.0, explanation
    cost = conflicts + NEAR_COST * near + EXTRA_COST * extras
    return min(1.0, CONFLICT_SCALE * cost / (features + PRIOR_FEATURES)), explanation


def _near_matches(left: list[str], right: list[str]) -> list[tuple[str, str]]:
    """Greedy one-to-one pairs of values an OCR misreading apart: one edit (a misread or lost
    character), or one containing the other (a word split off `REF-83812680` leaves `838126`).

    Never more edits: invoice numbers of one series often share all but two or three digits.
    """
    pairs, taken = [], set()
    for x in left:
        for y in right:
            if y not in taken and _misread(x, y):
                pairs.append((x, y))
                taken.add(y)
                break
    return pairs


def _misread(x: str, y: str) -> bool:
    short, long = sorted((x, y), key=len)
    if len(short) >= 5 and short in long:
        return True
    return Levenshtein.distance(x, y, score_cutoff=1) <= 1


@hookimpl
def dupeless_score_pairs(
    pairs: list[ScoringPair], settings: Any, plugin_config: dict[str, Any]
) -> ScoreComponent:
    results = [compare(features_of(pair.a), features_of(pair.b)) for pair in pairs]
    return ScoreComponent(
        name="template_penalty",
        kind="penalty",
        values=[penalty for penalty, _ in results],
        explanations=[explanation for _, explanation in results],
    )
