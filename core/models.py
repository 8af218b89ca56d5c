"""The domain model shared by every stage: what a fetch source yields and what analysis stores.

Plain attrs classes, so plugins can build them without depending on the store or the server.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from attrs import define, field, frozen


@frozen(slots=True)
class SourceDocument:
    """One document as a fetch source sees it, with ids already resolved to names.

    `id` is the Paperless document id (the only identity dupeless trusts); `checksum` is the
    original file's checksum when the source knows it (byte-identical files group at once).
    """

    id: int
    title: str = ""
    content: str = ""
    correspondent: str | None = None
    document_type: str | None = None
    tags: tuple[str, ...] = field(default=(), converter=tuple)
    storage_path: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = field(default=(), converter=tuple)
    created: date | None = None
    added: datetime | None = None
    modified: datetime | None = None
    original_file_name: str | None = None
    mime_type: str | None = None
    checksum: str | None = None
    original_size: int | None = None
    archive_size: int | None = None


@define(slots=True, eq=False)
class AnalysedDocument:
    """A document as the scorers see it: its texts, its signature and its cached features.

    `text` is the normalised content, `content` the raw one; `signature` is its MinHash row (None
    when it has too few words to be compared by content); `features` are the dates, amounts and
    identifiers the template-penalty scorer extracts once per document (None until computed; the
    host may store them). Mutable only so that a scorer can fill `features` the first time.
    """

    id: int
    text: str = ""
    content: str = ""
    title: str = ""
    word_count: int = 0
    signature: Any = None
    correspondent: str | None = None
    document_type: str | None = None
    created: date | None = None
    added: datetime | None = None
    checksum: str | None = None
    content_hash: str | None = None
    features: dict[str, Any] | None = None


@frozen(slots=True)
class ScoringPair:
    """A candidate pair handed to the scorers; `a.id < b.id`."""

    a: AnalysedDocument
    b: AnalysedDocument


@frozen(slots=True)
class PairScore:
    """One scored pair: every component as stored, and the confidence they combine into.

    `similarities` and `penalties` map a scorer's name to its value in 0..1 (NaN: the scorer had
    nothing to compare for this pair). `exact` marks the exact tier (identical normalised text or
    checksum), whose confidence is 1.0 whatever the components say.
    """

    a: int
    b: int
    confidence: float
    similarities: dict[str, float] = field(factory=dict)
    penalties: dict[str, float] = field(factory=dict)
    exact: bool = False
    explanations: dict[str, Any] = field(factory=dict)


@frozen(slots=True)
class DuplicateGroup:
    """A set of documents that are duplicates of one another, with the one to keep.

    `confidence` is the mean confidence of the scored pairs inside the group and `components`
    the mean of each component over the same pairs.
    """

    members: tuple[int, ...]
    primary: int
    confidence: float
    components: dict[str, float]
    pairs: tuple[PairScore, ...]
