"""A seeded generator of Paperless-like libraries with known duplicates (benchmarks, demo, tests).

The library mixes letters and reports with template documents (invoices, bank statements,
payslips) in English and German. Some documents get copies, each a labelled variant of the
original: an exact byte duplicate (shared checksum), the same text under another checksum, or a
re-scan with OCR noise at 1, 3, 5 or 10 % character error rate (`rn`/`m`, `l`/`1`/`I`, `O`/`0`,
random substitutions, dropped characters, split and merged words), re-wrapped lines with broken
hyphenation, a missing last page, an added stamp or header. The hard negatives come for free:
every template produces a monthly series that differs only in numbers, dates and amounts, some
with the same amount every month.

Everything derives from `random.Random(seed)`, so one seed always gives the same library.
Vocabularies are built once per process from a fixed seed; 100k documents take seconds.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from attrs import field, frozen

NOISE_LEVELS = (0.01, 0.03, 0.05, 0.10)

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
}
_COMMON = {
    "en": (
        "the of and to in is that for it as with was on be by this are at from or have an "
        "which not but all we your you our will can has been would there their more if please "
        "any these also may other such only new some could than its about into after us them "
        "payment account contract service period customer date amount total request letter "
        "information office meeting report result project regards sincerely question order"
    ),
    "de": (
        "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch "
        "es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über "
        "so zum war haben nur oder aber vor zur bis mehr durch man sehr ihre ihnen wir bitte "
        "zahlung konto vertrag leistung zeitraum kunde datum betrag summe anfrage schreiben "
        "information büro termin bericht ergebnis projekt grüße freundlichen frage auftrag"
    ),
}
_SYLLABLES = {
    "en": "ac ad al am an ar as at be ca ce co con de di el en er ex for ge in ion ing is it "
    "la le li lo ma me mi mo na ne no or pa pe per po pro ra re ri ro sa se si so st ta te ti "
    "to tion tu un ur ve vi",
    "de": "ab an auf be bei ber da de der di ein en er ge gen halt heit in ke keit la le lich "
    "lung ma me mit nach ne ner rei re sch schaft se sen ste stel ta te ter tung ung un ver "
    "vor wer zu zei",
}
_CURRENCY = {"en": "€{} ", "de": "{} €"}
_STAMPS = {
    "en": ("RECEIVED {date}", "SCANNED {date} - COPY", "Paid {date} with thanks"),
    "de": ("EINGEGANGEN {date}", "Gescannt am {date} - KOPIE", "Bezahlt am {date}"),
}
_LABELS = {
    "en": {
        "invoice": ("Invoice", "Invoice no.", "Customer no.", "Invoice date", "Total due"),
        "statement": ("Account statement", "Statement no.", "Account no.", "Date", "Balance"),
        "payslip": ("Payslip", "Payslip no.", "Employee no.", "Pay date", "Net pay"),
    },
    "de": {
        "invoice": (
            "Rechnung",
            "Rechnungsnummer",
            "Kundennummer",
            "Rechnungsdatum",
            "Gesamtbetrag",
        ),
        "statement": ("Kontoauszug", "Auszug Nr.", "Kontonummer", "Datum", "Kontostand"),
        "payslip": ("Gehaltsabrechnung", "Abrechnung Nr.", "Personalnummer", "Datum", "Auszahlung"),
    },
}
# OCR confusions: what a character may be misread as (applied to the original's characters).
_CONFUSIONS = {
    "m": ("rn",),
    "w": ("vv",),
    "d": ("cl",),
    "l": ("1", "I", "|"),
    "I": ("l", "1"),
    "i": ("l", "1"),
    "1": ("l", "I"),
    "O": ("0",),
    "o": ("0",),
    "0": ("O", "o"),
    "e": ("c",),
    "c": ("e",),
    "S": ("5",),
    "5": ("S",),
    "B": ("8",),
    "8": ("B",),
    "h": ("b",),
    "u": ("ii",),
}
_RANDOM_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,;'"


def _vocabulary(language: str, rng: random.Random, size: int) -> list[str]:
    """Common words plus pseudo-words from the language's syllables, most frequent first."""
    syllables = _SYLLABLES[language].split()
    words = dict.fromkeys(_COMMON[language].split())
    while len(words) < size:
        words["".join(rng.choices(syllables, k=rng.choice((2, 2, 3, 3, 4))))] = None
    return list(words)


def _zipf_pool(words: list[str], rng: random.Random, size: int = 200_000) -> list[str]:
    """Words repeated by a Zipf law, so uniform sampling from the pool reads like text."""
    weights = [1.0 / (rank + 2) for rank in range(len(words))]
    return rng.choices(words, weights=weights, k=size)


def _build_pools() -> dict[str, tuple[list[str], list[str]]]:
    rng = random.Random(20240403)
    pools = {}
    for language in ("en", "de"):
        vocabulary = _vocabulary(language, rng, 6000)
        pools[language] = (vocabulary, _zipf_pool(vocabulary, rng))
    return pools


_POOLS = _build_pools()


@frozen
class Corpus:
    """Generated documents (Paperless-shaped dicts) and the truth about them.

    `clusters` lists the true duplicate clusters (ids ascending); `noise` is the character
    error rate of each document's text relative to its original (0.0 for originals and exact
    copies); `variants` names what was done to each copy.
    """

    documents: list[dict]
    clusters: list[tuple[int, ...]]
    noise: dict[int, float]
    variants: dict[int, tuple[str, ...]] = field(factory=dict)

    def duplicate_pairs(self) -> set[tuple[int, int]]:
        """Every pair (lower id first) of documents that belong to one true cluster."""
        return {
            (min(a, b), max(a, b))
            for cluster in self.clusters
            for a, b in itertools.combinations(cluster, 2)
        }


class _Writer:
    """Writes one document's text; a thin layer over the seeded random generator."""

    def __init__(self, rng: random.Random, language: str):
        self.rng = rng
        self.language = language
        self.vocabulary, self.pool = _POOLS[language]

    def words(self, count: int) -> list[str]:
        return self.rng.choices(self.pool, k=count)

    def prose(self, count: int) -> str:
        """Sentences of 6..18 words with commas, capitalised, ending in a full stop."""
        words = self.words(count)
        sentences = []
        start = 0
        while start < len(words):
            end = start + self.rng.randint(6, 18)
            sentence = words[start:end]
            if len(sentence) > 8:
                sentence[4] += ","
            sentences.append(" ".join(sentence).capitalize() + ".")
            start = end
        return " ".join(sentences)

    def paragraphs(self, count: int) -> list[str]:
        chunks = []
        while count > 0:
            size = min(count, self.rng.randint(40, 110))
            chunks.append(self.prose(size))
            count -= size
        return chunks

    def name(self) -> str:
        return " ".join(w.capitalize() for w in self.rng.sample(self.vocabulary[200:], 2))

    def date(self, day: date, style: int | None = None) -> str:
        style = self.rng.randrange(3) if style is None else style
        month = _MONTHS[self.language].split()[day.month - 1]
        if style == 0:
            return day.isoformat()
        if self.language == "de":
            return (
                f"{day.day:02d}.{day.month:02d}.{day.year}"
                if style == 1
                else (f"{day.day}. {month} {day.year}")
            )
        return (
            f"{day.day:02d}/{day.month:02d}/{day.year}"
            if style == 1
            else (f"{month} {day.day}, {day.year}")
        )

    def amount(self, cents: int) -> str:
        whole, frac = divmod(cents, 100)
        if self.language == "de":
            return _CURRENCY["de"].format(f"{whole:,}".replace(",", ".") + f",{frac:02d}")
        return _CURRENCY["en"].format(f"{whole:,}.{frac:02d}").strip()

    def identifier(self, prefix: str = "") -> str:
        digits = "".join(self.rng.choices("0123456789", k=self.rng.randint(5, 8)))
        return f"{prefix}{digits}"


def _pages(paragraphs: list[str], words_per_page: int) -> list[str]:
    """Split paragraphs into pages of roughly `words_per_page` words (a paragraph never splits)."""
    pages, current, count = [], [], 0
    for paragraph in paragraphs:
        current.append(paragraph)
        count += paragraph.count(" ") + 1
        if count >= words_per_page:
            pages.append("\n\n".join(current))
            current, count = [], 0
    if current:
        pages.append("\n\n".join(current))
    return pages


def _wrap(text: str, width: int) -> str:
    """Break lines near `width` characters (an OCR layer's line structure)."""
    lines = []
    for block in text.split("\n"):
        line, length = [], 0
        for word in block.split(" "):
            if length + len(word) > width and line:
                lines.append(" ".join(line))
                line, length = [], 0
            line.append(word)
            length += len(word) + 1
        lines.append(" ".join(line))
    return "\n".join(lines)


@frozen
class _Template:
    """A correspondent's document layout: boilerplate fixed, numbers and dates changing."""

    kind: str
    language: str
    correspondent: str
    customer: str
    boilerplate: tuple[str, ...]
    items: tuple[str, ...]
    fixed_cents: int | None
    date_style: int


def _template(rng: random.Random, kind: str, language: str) -> _Template:
    writer = _Writer(rng, language)
    return _Template(
        kind=kind,
        language=language,
        correspondent=writer.name() + (" GmbH" if language == "de" else " Ltd"),
        customer=writer.identifier(),
        boilerplate=tuple(writer.paragraphs(rng.randint(120, 320))),
        items=tuple(" ".join(writer.words(rng.randint(2, 4))) for _ in range(rng.randint(2, 6))),
        fixed_cents=rng.randint(900, 25_000) if rng.random() < 0.3 else None,
        date_style=rng.randrange(3),
    )


def _template_document(rng: random.Random, template: _Template, day: date) -> tuple[str, str]:
    """One month's document from a template: (title, text)."""
    writer = _Writer(rng, template.language)
    title, number_label, customer_label, date_label, total_label = _LABELS[template.language][
        template.kind
    ]
    number = writer.identifier(f"{day.year}-")
    lines = [
        template.correspondent,
        f"{title}",
        f"{number_label}: {number}",
        f"{customer_label}: {template.customer}",
        f"{date_label}: {writer.date(day, template.date_style)}",
    ]
    total = 0
    for item in template.items:
        cents = template.fixed_cents or rng.randint(100, 90_000)
        total += cents
        lines.append(f"{item} {writer.amount(cents)}")
    lines.append(f"{total_label}: {writer.amount(total)}")
    due = day + timedelta(days=14)
    body = "\n".join(lines)
    closing = (
        f"Zahlbar bis {writer.date(due, template.date_style)}"
        if template.language == "de"
        else f"Payable by {writer.date(due, template.date_style)}"
    )
    text = "\n\n".join((body, *template.boilerplate, closing))
    return f"{title} {number}", text


def _free_document(rng: random.Random, language: str, day: date) -> tuple[str, str, str, str]:
    """A letter or report: (title, text, correspondent, document type)."""
    writer = _Writer(rng, language)
    correspondent = writer.name()
    kind = rng.choice(("letter", "report"))
    paragraphs = writer.paragraphs(rng.randint(300, 750))
    reference = writer.identifier("REF-")
    if kind == "letter":
        opener = f"{correspondent}\n{writer.date(day)}\n{reference}\n"
        title = f"{'Brief' if language == 'de' else 'Letter'} {correspondent}"
    else:
        opener = f"{' '.join(writer.words(5)).title()}\n{writer.date(day)}\n"
        title = " ".join(writer.words(4)).title()
    return title, opener + "\n\n".join(paragraphs), correspondent, kind.title()


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """Apply OCR-like character errors to about `rate` of the characters of `text`."""
    chars = list(text)
    count = round(len(chars) * rate)
    for position in rng.sample(range(len(chars)), min(count, len(chars))):
        char = chars[position]
        roll = rng.random()
        if char.isspace():
            chars[position] = "" if roll < 0.7 else char  # merged words
        elif roll < 0.45 and char in _CONFUSIONS:
            chars[position] = rng.choice(_CONFUSIONS[char])
        elif roll < 0.7:
            chars[position] = rng.choice(_RANDOM_CHARS)
        elif roll < 0.85:
            chars[position] = ""
        else:
            chars[position] = char + " "  # split word
    return "".join(chars)


def _hyphenate(text: str, rng: random.Random) -> str:
    """Break some long words at line ends with a hyphen, as a typesetter would."""
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):
        last = line.rsplit(" ", 1)[-1]
        if len(last) > 7 and last.isalpha() and rng.random() < 0.5:
            cut = rng.randint(3, len(last) - 3)
            lines[index] = line[: len(line) - len(last) + cut] + "-"
            lines[index + 1] = last[cut:] + " " + lines[index + 1]
    return "\n".join(lines)


def _copy_text(rng: random.Random, pages: list[str], language: str, scan_day: date) -> tuple:
    """A re-scan of a document: (text, noise rate, variant names)."""
    variants = []
    if len(pages) >= 3 and rng.random() < 0.1:
        pages = pages[:-1]
        variants.append("missing_last_page")
    text = "\n\n".join(pages)
    if rng.random() < 0.15:
        stamp = rng.choice(_STAMPS[language]).format(date=_Writer(rng, language).date(scan_day))
        text = f"{stamp}\n{text}"
        variants.append("stamp")
    if rng.random() < 0.5:
        text = _hyphenate(_wrap(text, rng.randint(50, 95)), rng)
        variants.append("rewrapped")
    rate = rng.choice(NOISE_LEVELS)
    variants.append(f"ocr_{round(rate * 100)}")
    return ocr_noise(text, rate, rng), rate, tuple(variants)


def _checksum(rng: random.Random) -> str:
    return hashlib.md5(rng.randbytes(16)).hexdigest()


def generate_corpus(
    num_documents: int,
    seed: int = 0,
    *,
    duplicate_share: float = 0.12,
    template_share: float = 0.4,
) -> Corpus:
    """Generate a library of about `num_documents` documents.

    `duplicate_share` of the originals get one to three copies; `template_share` of the
    originals come from monthly templates (12..36 documents each).
    """
    rng = random.Random(seed)
    records: list[dict] = []
    originals = round(num_documents / (1 + duplicate_share * 1.35))
    start = date(2019, 1, 1)
    for record in itertools.islice(_originals(rng, start, template_share), originals):
        records.append(record)
    clusters: list[list[int]] = []
    noise: dict[int, float] = {}
    variants: dict[int, tuple[str, ...]] = {}
    for index in rng.sample(range(len(records)), round(len(records) * duplicate_share)):
        if len(records) >= num_documents:
            break
        cluster = [index]
        copies = rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
        for _ in range(min(copies, num_documents - len(records))):
            copy, rate, applied = _copy(rng, records[index])
            cluster.append(len(records))
            noise[len(records)] = rate
            variants[len(records)] = applied
            records.append(copy)
        clusters.append(cluster)
    return _finish(rng, records, clusters, noise, variants)


def _originals(rng: random.Random, start: date, template_share: float) -> Iterator[dict]:
    """An endless stream of original documents, template series interleaved with free ones."""
    kinds = ("invoice", "invoice", "statement", "payslip")
    while True:
        language = "de" if rng.random() < 0.5 else "en"
        if rng.random() < template_share / 20:  # a series averages ~24 documents
            template = _template(rng, rng.choice(kinds), language)
            first = start + timedelta(days=rng.randrange(1500))
            for month in range(rng.randint(12, 36)):
                day = _add_months(first, month)
                title, text = _template_document(rng, template, day)
                yield _record(rng, title, text, template, day)
        else:
            day = start + timedelta(days=rng.randrange(2000))
            title, text, correspondent, kind = _free_document(rng, language, day)
            yield _record(rng, title, text, None, day, correspondent, kind, language)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _record(
    rng: random.Random,
    title: str,
    text: str,
    template: _Template | None,
    day: date,
    correspondent: str | None = None,
    kind: str | None = None,
    language: str | None = None,
) -> dict:
    if template is not None:
        correspondent, kind, language = (
            template.correspondent,
            template.kind.title(),
            template.language,
        )
    pages = _pages(text.split("\n\n"), rng.randint(180, 260))
    added = datetime.combine(day + timedelta(days=rng.randint(0, 30)), time(9), UTC)
    return {
        "title": title,
        "content": "\n\n".join(pages),
        "correspondent": correspondent,
        "document_type": kind,
        "tags": [language, str(day.year)],
        "created": day.isoformat(),
        "added": added + timedelta(seconds=rng.randrange(30_000)),
        "original_file_name": f"{title.replace(' ', '_')}.pdf",
        "checksum": _checksum(rng),
        "_pages": pages,
        "_language": language,
    }


def _copy(rng: random.Random, original: dict) -> tuple[dict, float, tuple[str, ...]]:
    """A copy of an original: exact (maybe byte-identical) or a noisy re-scan."""
    copy = dict(original)
    copy["added"] = original["added"] + timedelta(days=rng.randint(1, 900), hours=rng.randrange(9))
    scan_day = copy["added"].date()
    copy["original_file_name"] = f"scan_{scan_day.isoformat()}_{rng.randrange(1000):03d}.pdf"
    roll = rng.random()
    if roll < 0.1:
        copy["original_file_name"] = original["original_file_name"]
        return copy, 0.0, ("byte_identical",)
    copy["checksum"] = _checksum(rng)
    if roll < 0.2:
        return copy, 0.0, ("same_text",)
    text, rate, applied = _copy_text(rng, original["_pages"], original["_language"], scan_day)
    copy["content"] = text
    if rng.random() < 0.2:
        copy["correspondent"] = copy["document_type"] = None
    if rng.random() < 0.15:
        copy["created"] = scan_day.isoformat()
    copy["title"] = rng.choice((original["title"], f"Scan {scan_day.isoformat()}"))
    return copy, rate, applied


def _finish(
    rng: random.Random,
    records: list[dict],
    clusters: list[list[int]],
    noise: dict[int, float],
    variants: dict[int, tuple[str, ...]],
) -> Corpus:
    """Number documents in the order Paperless added them and format the instants."""
    order = sorted(range(len(records)), key=lambda index: records[index]["added"])
    ids = {index: number for number, index in enumerate(order, 1)}
    documents = []
    for index in order:
        record = records[index]
        added = record["added"]
        modified = added + timedelta(minutes=rng.randrange(1, 600))
        document = {key: value for key, value in record.items() if not key.startswith("_")}
        document.update(
            id=ids[index],
            added=added.isoformat().replace("+00:00", "Z"),
            modified=modified.isoformat().replace("+00:00", "Z"),
        )
        documents.append(document)
    return Corpus(
        documents=documents,
        clusters=[tuple(sorted(ids[index] for index in cluster)) for cluster in clusters],
        noise={ids[index]: noise.get(index, 0.0) for index in range(len(records))},
        variants={ids[index]: applied for index, applied in variants.items()},
    )
