"""The `template_penalty` scorer: monthly invoices from one template are not duplicates.

Two invoices from the same template share nearly all their text, so Jaccard and fuzzy call them
duplicates; what tells them apart are the few values that change: dates, amounts, identifiers
(invoice, customer, policy, account numbers, references) and times. `extract_features` pulls
these out of the *raw* content (where `3. März 2024`, `€1,234.56` and `Nr. 2024-001` are still
intact) once per document; the host stores the result. English and German forms are read and
brought to one canonical value: dates to ISO (`March 3, 2024`, `3. März 2024`, `03.03.2024`,
`2024-03-03` are all `2024-03-03`), amounts to cents (`1.234,56 €` == `€1,234.56` == `123456`).
OCR letter/digit confusions next to digits (`2O24`, `l5.03`) are undone first, a space OCR put
inside a date or number is read through (`12/ 06/2023`, `REF-77238 34`), and a date that follows
a stamp's word (`Eingegangen am`, `RECEIVED`, `Bezahlt am`) is left out: a re-scan's stamp adds a
date the original never had.

The penalty of a pair compares the two feature sets category by category:

* a value on both sides matches;
* a value without an equal partner, but within edit distance 1 of a leftover value on the other
  side, is a *near* match: probably an OCR error, counted as half a conflict;
* leftover values on both sides are *conflicts* (as many as the smaller side has);
* leftover values on one side only are *extras* (a stamp's date, a missing page's totals): weak
  evidence, a tenth of a conflict.

Before that, an identifier one edit from the digits of a date or amount that only the other side
has counts as that value: OCR that drops a date's separators (`2024-01-24` -> `20240124`) or an
amount's decimal point hands its digits to the identifier pattern, and the re-scan would seem to
lose a value and gain a number.

    penalty = min(1, 2 * (conflicts + 0.5 * near + 0.1 * extras) / features)

where `features` counts the values of the larger side of each category. Relative to the number
of features, one misread date among ten values costs a true duplicate little, while a monthly
invoice (new number, new dates, often new amounts) is pushed far below the threshold.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import orjson
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import AnalysedDocument, ScoringPair
from dupeless.core.scoring import to_json
from dupeless.plugins.batch_memo import BatchMemo
from dupeless.plugins.minhash import DEFAULT_SHINGLING, char_agreement
from dupeless.plugins.pool import pool_map
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

_distance = Levenshtein.distance

CATEGORIES = ("dates", "amounts", "identifiers", "times")
CONFLICT_SCALE = 3.0
NEAR_COST = 0.1
# Numbers of one series differ in many digits, so one edit there is a misread; dates of one
# series differ by a month (one edit too), so a date's edit is judged by the noise alone.
MISREAD_CATEGORIES = frozenset({"amounts", "identifiers"})
NOISE_SCALE = 5.0  # estimated error rate -> OCR edits per character of a value
EXTRA_COST = 0.05
# Two different documents almost never share a number; a differing identifier weighs double.
CATEGORY_WEIGHT = {"dates": 1.0, "amounts": 1.0, "identifiers": 1.5, "times": 0.5}
PRIOR_FEATURES = 4
#: Leftover-value matrices at least this large get their edit distances from one rapidfuzz call.
CDIST_MIN = 16

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
_MONTH_INITIALS = "".join(sorted({name[0] for name in _MONTHS}))
# Each pattern below starts with a lookahead for the characters a match can start with: `re`
# then skips the other positions quickly (the same matches, in half the time for times and
# amounts, two thirds for dates).
_DATE = re.compile(
    rf"""
    (?=[\d{_MONTH_INITIALS}])
    (?:\b(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})\b
    | \b(?P<nd>\d{{1,2}})[./]\s?(?P<nm>\d{{1,2}})[./](?P<ny>\s?\d{{4}}|\d{{2}})\b
    | \b(?P<dd>\d{{1,2}})(?:\.|st|nd|rd|th)?\s*(?P<dm>{_MONTH})\.?\s+(?P<dy>\d{{4}})\b
    | \b(?P<mm>{_MONTH})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<my>\d{{4}})\b)
    """,
    re.VERBOSE,
)
_AMOUNT = re.compile(r"(?=\d)(?<![\d.,])\d{1,3}(?:[.,' ]?\d{3})*[.,]\d{2}(?![\d.,]?\d)")
_TIME = re.compile(
    r"(?=\d)(?:\b([01]?\d|2[0-3])[:.]([0-5]\d)\s*(?:uhr|h|am|pm)\b|\b([01]?\d|2[0-3]):([0-5]\d)\b)"
)
# A short digit group after a space continues the number: OCR splits words (`REF-77238 34`).
_IDENTIFIER = re.compile(r"\b[a-z]{0,5}[-/#]?\d[\da-z\-/]{3,}\b(?: \d{1,4}\b)?")
# Words of a received/scanned/paid stamp (long ones also when OCR misread one letter).
_STAMP_WORDS = frozenset(
    {"received", "scanned", "copy", "paid"}
    | {"eingegangen", "eingang", "gescannt", "kopie", "bezahlt", "erhalten"}
)
STAMP_REACH = 24  # characters before a date searched for a stamp word
_LETTERS = re.compile(r"[^\W\d_]+")
_DATE_GROUPS = (("iy", "im", "id"), ("ny", "nm", "nd"), ("dy", "dm", "dd"), ("my", "mm", "md"))
CONTEXT = 16  # characters kept on each side of a digit: `September 30th,` fits
# Digits, and any more digits at most 2 * CONTEXT characters further on (overlapping windows).
_DIGIT_RUNS = re.compile(rf"\d+(?:\D{{0,{2 * CONTEXT}}}\d+)*")
_NON_DIGIT = re.compile(r"\D")
# OCR letters that stand for digits, when touching a digit.
_DIGIT_LOOKALIKE = re.compile(r"[OoIl|SB](?:(?=\d)|(?<=\d.))")  # a character class first: fast
_DIGIT_OF = str.maketrans("OoIl|SB", "0011158")


def extract_features(content: str) -> dict[str, list[str]]:
    """Canonical dates, amounts, identifiers and times of one raw text (JSON-serialisable)."""
    text = _digit_context(unicodedata.normalize("NFKC", content))
    text = _DIGIT_LOOKALIKE.sub(lambda m: m.group().translate(_DIGIT_OF), text)
    # Lower case once: the patterns below are written in lower case, and IGNORECASE, which
    # folds every character on every try, made the date pattern 2.5 times slower.
    found, text = _take(_DATE, text.lower())
    dates = {
        iso
        for match in found
        if (iso := _iso_date(match)) and not _stamped(match.string, match.start())
    }
    found, text = _take(_TIME, text)
    times = {f"{int(h or h2):02d}:{m or m2}" for h, m, h2, m2 in (f.groups() for f in found)}
    found, text = _take(_AMOUNT, text)
    amounts = {_NON_DIGIT.sub("", match.group()).lstrip("0") or "0" for match in found}
    # An identifier is its digits: OCR garbles the letters around them (`REF-46` -> `REFH46`).
    identifiers = {
        digits
        for found in _IDENTIFIER.findall(text)
        if len(digits := _NON_DIGIT.sub("", found)) >= 5
    }
    return {
        "dates": sorted(dates),
        "amounts": sorted(amounts),
        "identifiers": sorted(identifiers),
        "times": sorted(times),
    }


def _take(pattern: re.Pattern[str], text: str) -> tuple[list[re.Match[str]], str]:
    """(the matches of `pattern`, `text` with each match replaced by a space) in one pass."""
    matches = list(pattern.finditer(text))
    if not matches:
        return matches, text
    parts, end = [], 0
    for match in matches:
        parts.append(text[end : match.start()])
        end = match.end()
    parts.append(text[end:])
    return matches, " ".join(parts)


def _digit_context(text: str) -> str:
    """Only the stretches of text around digits (every feature has one), one per line.

    Letters far from any digit cannot be part of a feature; dropping them makes the feature
    regexes run over a fraction of the text. Each stretch is CONTEXT characters either side of
    a run of digits that `_DIGIT_RUNS` matches as one (their windows overlap).
    """
    return "\n".join(
        _cut(text, max(start - CONTEXT, 0), end + CONTEXT) for start, end in _digit_runs(text)
    )


def _digit_runs(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each `_DIGIT_RUNS` match: digits, joined across at most 2 * CONTEXT
    other characters.

    `re` tests about 10 ns a character, a third of a feature extraction for a page; numpy finds
    the digits of the code points at once. A text with non-ASCII digits (which `\\d` matches
    too) takes the regex.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    if not text.isascii() and any(chr(c).isdecimal() for c in set(codes[codes > 127].tolist())):
        return [match.span() for match in _DIGIT_RUNS.finditer(text)]
    digits = np.flatnonzero((codes >= 48) & (codes <= 57))
    if not len(digits):
        return []
    # A run ends where more than 2 * CONTEXT other characters follow its last digit.
    breaks = np.flatnonzero(np.diff(digits) > 2 * CONTEXT + 1)
    starts = digits[np.concatenate(([0], breaks + 1))].tolist()
    ends = (digits[np.concatenate((breaks, [len(digits) - 1]))] + 1).tolist()
    return list(zip(starts, ends, strict=True))


def _cut(text: str, start: int, end: int) -> str:
    """text[start:end] widened to whole words, so a window never starts inside a word."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _stamped(text: str, start: int) -> bool:
    """Whether the date at `start` follows a stamp's word on its line (`Eingegangen am`,
    `RECEIVED`): a re-scan's stamp adds a date the original never had, so it is no feature."""
    line = text[text.rfind("\n", max(start - STAMP_REACH, 0), start) + 1 : start]
    words = _LETTERS.findall(line.casefold())[-2:]
    return any(
        word in _STAMP_WORDS
        or (len(word) >= 6 and any(_distance(word, w, score_cutoff=1) <= 1 for w in _STAMP_WORDS))
        for word in words
    )


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


def compare(
    a: dict[str, list[str]], b: dict[str, list[str]], noise: float = 0.0
) -> tuple[float, dict[str, Any]]:
    """(penalty 0..1, explanation) for two feature sets (see the module docstring).

    `noise` is the pair's estimated character error rate (0 for identical texts). Leftover
    values are paired, closest first; a pair d edits apart costs the chance that OCR at that
    noise level would *not* make d or more edits in a value of that length (Poisson tail), so
    a one-digit misread in a bad re-scan costs little while the same difference between two
    clean texts, or a wholly different invoice number in any pair, costs in full.
    """
    return _compare(Prepared.of(a), Prepared.of(b), noise)


def _compare(
    prepared_a: Prepared, prepared_b: Prepared, noise: float
) -> tuple[float, dict[str, Any]]:
    a = _values_read_as_numbers(prepared_a, prepared_b)
    b = _values_read_as_numbers(prepared_b, prepared_a)
    conflicts = extras = 0.0
    features = 0
    rate = NOISE_SCALE * min(max(noise, 0.0), 0.5)
    matched_why: dict[str, list[str]] = {}
    near_why: dict[str, list[tuple[str, str]]] = {}
    differing_why: dict[str, dict[str, list[str]]] = {}
    explanation: dict[str, Any] = {
        "matched": matched_why,
        "near": near_why,
        "differing": differing_why,
    }
    for category in CATEGORIES:
        left_values, right_values = a.get(category, ()), b.get(category, ())
        if not left_values and not right_values:
            continue
        left, right = set(left_values), set(right_values)
        features += max(len(left), len(right))
        if left == right:
            matched_why[category] = _sorted(left)
            continue
        matched = left & right
        left_only, right_only = _sorted(left - right), _sorted(right - left)
        weight = CATEGORY_WEIGHT[category]
        close = []
        if left_only and right_only:
            misread = category in MISREAD_CATEGORIES
            for x, y, edits in _closest_pairs(left_only, right_only):
                if edits <= 1 and misread:
                    cost = NEAR_COST  # one misread digit: siblings' numbers differ in many digits
                else:
                    cost = 1.0 - _poisson_tail(edits, rate * max(len(x), len(y)))
                conflicts += weight * cost
                if cost < 0.5:
                    close.append((x, y))
                    left_only.remove(x)
                    right_only.remove(y)
        extras += weight * abs(len(left_only) - len(right_only))
        if matched:
            matched_why[category] = _sorted(matched)
        if close:
            near_why[category] = close
        if left_only or right_only:
            differing_why[category] = {"a": left_only, "b": right_only}  # sorted still
    if not features:
        return 0.0, explanation
    cost = conflicts + EXTRA_COST * extras
    return min(1.0, CONFLICT_SCALE * cost / (features + PRIOR_FEATURES)), explanation


def _values_read_as_numbers(prepared: Prepared, other: Prepared) -> dict[str, list[str]]:
    """`own` with each identifier that spells a date or amount only `other` has read as that.

    OCR that drops a date's separators (`2023-01-24` -> `20230124`) or an amount's decimal point
    (`€211.65` -> `€21165`) leaves its digits to the identifier pattern, so a re-scan seemed to
    lose a date or amount and gain a number. An identifier one edit from the value's digits
    (a date's year first, or day first with a 4- or 2-digit year) is taken for it.
    """
    own = prepared.values
    identifiers = own.get("identifiers")
    if not identifiers:
        return own
    for category in ("dates", "amounts"):
        if prepared.identifier_keys.isdisjoint(other.number_keys[category]):
            continue  # no identifier is one edit from any of the other side's values
        mine = own.get(category, ())
        missing = [value for value in other.values.get(category, ()) if value not in mine]
        if not missing:
            continue
        values, kept = list(mine), []
        for number in identifiers:
            spelled = _spelled(number, missing, category == "dates")
            if spelled is None:
                kept.append(number)
            else:
                values.append(spelled)
                missing.remove(spelled)
        if len(kept) < len(identifiers):
            own = {**own, category: values, "identifiers": kept}
            identifiers = kept
    return own


class Prepared(NamedTuple):
    """One document's features with what `compare` asks of them in every pair, computed once.

    Two strings one edit apart share a string of their one-deletion neighbourhoods (the string
    and each way of deleting one character): a substitution deletes the same position of both,
    an insertion is undone by deleting it. So an identifier whose neighbourhood shares nothing
    with those of the other side's dates and amounts cannot spell one of them, and the edit
    distances need not be computed: in most pairs, one set test instead of dozens.
    """

    values: dict[str, list[str]]
    #: The one-deletion neighbourhoods of the identifiers.
    identifier_keys: frozenset[str]
    #: For "dates" and "amounts", those of the digit forms an identifier may spell them in.
    number_keys: dict[str, frozenset[str]]

    @classmethod
    def of(cls, features: dict[str, list[str]]) -> Prepared:
        dates = [form for iso in features.get("dates", ()) for form in _date_digits(iso)]
        return cls(
            features,
            _neighbourhoods(features.get("identifiers", ())),
            {
                "dates": _neighbourhoods(dates),
                "amounts": _neighbourhoods(features.get("amounts", ())),
            },
        )


def _neighbourhoods(values: Any) -> frozenset[str]:
    """Every value, and every value with one of its characters deleted."""
    return frozenset(
        list(values) + [value[:i] + value[i + 1 :] for value in values for i in range(len(value))]
    )


def _spelled(number: str, values: list[str], dates: bool) -> str | None:
    """The first of `values` (ISO dates, or amounts in cents) that `number` is one edit from.

    A date's digits may have one misread or lost digit, or one glued to either end, but not one
    inserted inside: `2019-05243`, an invoice number of May 2019, is not the date `20190523`.
    """
    for value in values:
        for form in _date_digits(value) if dates else (value,):
            if (
                -1 <= len(number) - len(form) <= 1  # one edit changes the length by one at most
                and _distance(number, form, score_cutoff=1) <= 1
                and (not dates or len(number) <= len(form) or form in number)
            ):
                return value
    return None


@functools.lru_cache(maxsize=4096)
def _date_digits(iso: str) -> tuple[str, str, str]:
    """An ISO date's digits in the orders OCR leaves them: year first, day first, 2-digit year."""
    year, month, day = iso.split("-")
    return year + month + day, day + month + year, day + month + year[2:]


def _closest_pairs(left: list[str], right: list[str]) -> list[tuple[str, str, int]]:
    """One-to-one pairs of leftover values, closest first: (x, y, edits).

    One value containing the other (>= 5 characters: a word split off `REF-83812680` leaves
    `838126`), or ending with it (>= 3: a split amount `€54 7.38` leaves `738`), counts as one
    edit.
    """
    if len(left) == 1 and len(right) == 1:
        return [(left[0], right[0], _edits(left[0], right[0]))]
    flat = _edit_matrix(left, right)
    width = len(right)
    wanted = min(len(left), width)
    # Closest first; a stable sort keeps ties in (left, right) order, as the values are sorted.
    pairs, used_left, used_right = [], set(), set()
    for index in sorted(range(len(flat)), key=flat.__getitem__):
        i, j = divmod(index, width)
        if i not in used_left and j not in used_right:
            pairs.append((left[i], right[j], flat[index]))
            if len(pairs) == wanted:
                break
            used_left.add(i)
            used_right.add(j)
    return pairs


def _edit_matrix(left: list[str], right: list[str]) -> list[int]:
    """`_edits` of every (x, y) of left x right, row by row.

    A large matrix (seven amounts a side is common) takes one rapidfuzz call; containment can
    only lower a distance when the lengths differ by two or more, so only those are checked.
    """
    if len(left) * len(right) < CDIST_MIN:
        return [_edits(x, y) for x in left for y in right]
    distances = process.cdist(left, right, scorer=_distance, dtype=np.int32, workers=1)
    flat = distances.ravel().tolist()
    widths = [len(value) for value in right]
    if max(map(len, left)) - min(widths) >= 2 or max(widths) - min(map(len, left)) >= 2:
        for i, x in enumerate(left):
            size = len(x)
            for j, y in enumerate(right):
                if abs(size - widths[j]) >= 2 and _contained(x, y):
                    flat[i * len(right) + j] = 1
    return flat


def _sorted(values: Any) -> list[str]:
    """sorted(values), without the call for zero or one value (most categories of most pairs)."""
    return sorted(values) if len(values) > 1 else list(values)


def _edits(x: str, y: str) -> int:
    """The edit distance of two values, 1 if one contains the other (see `_closest_pairs`).
    Containment can only lower a distance when the lengths differ by two or more."""
    if abs(len(x) - len(y)) >= 2 and _contained(x, y):
        return 1
    return _distance(x, y)


def _contained(x: str, y: str) -> bool:
    """Whether the shorter value is inside the longer (>= 5 characters) or ends it (>= 3)."""
    if len(x) > len(y):
        x, y = y, x
    return (len(x) >= 5 and x in y) or (len(x) >= 3 and y.endswith(x))


def _poisson_tail(edits: int, expected: float) -> float:
    """P(N >= edits) for N ~ Poisson(expected): how well noise explains `edits` differences."""
    if edits <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    term = total = math.exp(-expected)
    for count in range(1, edits):
        term *= expected / count
        total += term
    return max(0.0, 1.0 - total)


def pair_noise(pairs: list[ScoringPair]) -> list[float]:
    """Each pair's estimated character error rate, 1 - the per-character agreement implied by
    its signatures' Jaccard estimate (0 where a side has no signature: judged as clean)."""
    from dupeless.plugins.jaccard import raw_jaccard

    agreement = char_agreement(raw_jaccard(pairs), DEFAULT_SHINGLING.size)
    signed = [p.a.signature is not None and p.b.signature is not None for p in pairs]
    return [float(1 - value) if ok else 0.0 for value, ok in zip(agreement, signed, strict=True)]


def extract_all(contents: list[str]) -> list[dict[str, list[str]]]:
    """`extract_features` of every raw text, in this process."""
    return [extract_features(content) for content in contents]


#: Documents without features from which their extraction goes to the pool: a score batch's
#: few hundred new documents would otherwise hold the host process' GIL for tens of ms.
POOLED = 64


def ensure_features(documents: list[AnalysedDocument]) -> None:
    """Extract the features of every document that has none yet (more than a few in the pool)."""
    missing = list({id(d): d for d in documents if d.features is None}.values())
    chunks = pool_map(extract_all, [document.content for document in missing], min_items=POOLED)
    for document, features in zip(missing, (f for chunk in chunks for f in chunk), strict=True):
        document.features = features


def compare_encoded(
    items: list[tuple[dict[str, list[str]], dict[str, list[str]], float]],
) -> list[tuple[float, str]]:
    """`compare(a, b, noise)` of every item, the explanation (with the noise) as JSON text.

    A document's features are prepared once for all its pairs (`items` holds each document's
    features as one object, even after pickling).
    """
    prepared: dict[int, Prepared] = {}
    encoded = []
    for a, b, noise in items:
        if (prepared_a := prepared.get(id(a))) is None:
            prepared_a = prepared[id(a)] = Prepared.of(a)
        if (prepared_b := prepared.get(id(b))) is None:
            prepared_b = prepared[id(b)] = Prepared.of(b)
        penalty, explanation = _compare(prepared_a, prepared_b, noise)
        explanation["noise"] = round(noise, 4)
        encoded.append((penalty, to_json(explanation)))
    return encoded


_penalties = BatchMemo()


def penalties(pairs: list[ScoringPair]) -> list[tuple[float, orjson.Fragment]]:
    """(penalty, explanation) per pair, with the noise estimate in the explanation.

    Features missing from a batch are extracted, and a large batch compared, in the plugin
    process pool. The explanations come back as JSON (`orjson.Fragment`, which the host writes
    into the pair's explanation as it is): unpickling them as dicts cost as much as the second
    core saved. Computed once per batch: the fuzzy scorer, which needs the penalties to skip
    hopeless pairs, asks for them too (`batch_memo`).
    """
    return _penalties.get(pairs, None, lambda: _compute_penalties(pairs))


def _compute_penalties(pairs: list[ScoringPair]) -> list[tuple[float, orjson.Fragment]]:
    documents = [document for pair in pairs for document in (pair.a, pair.b)]
    ensure_features(documents)
    items = [
        (features_of(pair.a), features_of(pair.b), noise)
        for pair, noise in zip(pairs, pair_noise(pairs), strict=True)
    ]
    return [
        (penalty, orjson.Fragment(explanation))
        for chunk in pool_map(compare_encoded, items)
        for penalty, explanation in chunk
    ]


@hookimpl
def dupeless_score_pairs(
    pairs: list[ScoringPair], settings: Any, plugin_config: dict[str, Any]
) -> ScoreComponent:
    results = penalties(pairs)
    return ScoreComponent(
        name="template_penalty",
        kind="penalty",
        values=[penalty for penalty, _ in results],
        explanations=[explanation for _, explanation in results],
    )
