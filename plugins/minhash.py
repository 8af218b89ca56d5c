"""The `minhash` signature plugin: one-permutation MinHash over OCR-robust shingles, in numpy.

Shingles. OCR damages characters, not meaning, so the default shingles are built to survive it:
the normalised text is *folded* (the classic confusions `rn`->`m`, `vv`->`w`, `cl`->`d`,
`l`/`1`/`i`->`l`, `0`->`o`, `5`->`s`, `8`->`b`, `c`->`e` become one symbol), its spaces are
dropped (so split and merged words change nothing), and every run of `size` characters is a
shingle. Word n-grams (the contract's `ngram_size`) remain available as `Shingling("word", n)`;
docs/how-it-works.md has the measurements that chose the default.

Signatures. One-permutation hashing (Li, Owen & Zhang 2012): each shingle is hashed once, the
hash picks one of `num_permutations` bins and the bin keeps its minimum. That is O(shingles) per
document instead of O(shingles x permutations) for classic MinHash, with the same estimator:
the share of equal bins estimates the Jaccard similarity. Empty bins (short texts) are densified
by rotation (Shrivastava & Li 2014): an empty bin copies the next non-empty bin to its right,
offset by the distance, so two texts agree on it exactly when they agree on the bin it copied.
Every value fits in 32 bits (the host stores signatures in half the bytes then).
Everything runs on the whole batch at once; there is no per-shingle Python code.
"""

from __future__ import annotations

import re

import numpy as np
from attrs import frozen
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.signature import SignatureParams, Signatures
from dupeless.plugins.pool import pool_map

VERSION = "2"
SEED = 0x5EED_D0C5
#: Texts shingled at once: each batch's arrays (~1 MB at 64 pages) stay in a core's L2 cache;
#: 1,000 at once made every numpy pass stream from memory and signing 40 % slower.
BATCH = 64
EMPTY = -1  # every value of a text without a single shingle (never compared by content)

_MULTI_FOLDS = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("ii", "u"))
_MULTI_FOLDS_BYTES = tuple((pair.encode(), single.encode()) for pair, single in _MULTI_FOLDS)
_FOLD_BYTES = bytes.maketrans(b"01i58c|", b"ollsbel")
_BIN_SHIFT = np.uint64(32)
_DISTANCE_STEP = np.int64(0x9E3779B1)
_LOW32_INT = np.int64(0xFFFF_FFFF)
_LOW32 = np.uint64(0xFFFF_FFFF)
_SPACE = re.compile(r"\s")
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())  # what str.split() splits on


@frozen
class Shingling:
    """How a normalised text becomes shingles: `kind` "char" or "word", `size` chars or words."""

    kind: str = "char"
    size: int = 6
    fold: bool = True

    @property
    def name(self) -> str:
        return f"{self.kind}{self.size}{'-fold' if self.fold else ''}"


DEFAULT_SHINGLING = Shingling()


def fold(text: str) -> str:
    """Map characters that OCR confuses onto one representative (see the module docstring)."""
    return _fold_bytes(text.encode("utf-8")).decode("utf-8")


def _fold_bytes(data: bytes, delete: bytes = b"") -> bytes:
    """`fold` on UTF-8 bytes, optionally deleting some ASCII bytes (spaces) in the same pass.

    Every folded character is ASCII, and in UTF-8 an ASCII byte only ever stands for itself,
    so byte-level replacement equals the character-level one; `bytes.translate` with a 256-entry
    table is ~50x faster than `str.translate` with a dict.
    """
    for pair, single in _MULTI_FOLDS_BYTES:
        if pair in data:
            data = data.replace(pair, single)
    return data.translate(_FOLD_BYTES, delete)


def _mix(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads every input bit over all 64 output bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one uint64 array of code points, plus each text's start offset."""
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    joined = "".join(texts).encode("utf-32-le")
    return np.frombuffer(joined, dtype=np.uint32).astype(np.uint64), starts


def _windows(values: np.ndarray, starts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Order-sensitive hash of every run of `size` consecutive values that stays inside one text.

    Returns (hashes, owner) where owner is the index of the text each run belongs to.
    """
    count = len(values) - size + 1
    if count <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    multipliers = _mix(np.arange(1, size + 1, dtype=np.uint64) + np.uint64(SEED)) | np.uint64(1)
    hashes = values[:count] * multipliers[0]
    term = np.empty_like(hashes)
    for offset in range(1, size):
        hashes += np.multiply(values[offset : offset + count], multipliers[offset], out=term)
    # The runs starting in the last size - 1 positions before a text's end cross into the next.
    inside = np.ones(count + size, dtype=bool)
    crossing = (starts[1:, None] - np.arange(1, size)).ravel()
    inside[crossing[crossing >= 0]] = False
    inside = inside[:count]
    owner = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))[:count]
    return _mix(hashes[inside]), owner[inside]


def _word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One hash per space-separated word, plus the starts of each text's words."""
    codes, _ = _codepoints([text + " " for text in texts])
    space = codes == ord(" ")
    # Position of each character inside its word, so a word's hash depends on letter order.
    boundary = np.flatnonzero(np.concatenate(([True], space[:-1])))
    word_start = np.zeros(len(codes), dtype=np.int64)
    word_start[boundary] = boundary
    np.maximum.accumulate(word_start, out=word_start)
    offset = (np.arange(len(codes)) - word_start).astype(np.uint64)
    contributions = _mix(codes * np.uint64(0x9E3779B97F4A7C15) + offset)
    contributions[space] = 0
    sums = np.add.reduceat(contributions, boundary)
    is_word = ~space[boundary]
    words = _mix(sums[is_word])
    counts = np.fromiter((len(text.split()) for text in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return words, starts


def shingle_hashes(texts: list[str], shingling: Shingling = DEFAULT_SHINGLING) -> tuple:
    """64-bit hashes of every shingle of every normalised text: (hashes, owner text index)."""
    if shingling.kind == "char":
        values, starts = _codepoints([_char_stream(text, shingling.fold) for text in texts])
        return _windows(values, starts, shingling.size)
    if shingling.fold:
        texts = [fold(text) for text in texts]
    if shingling.kind == "word":
        return _windows(*_word_hashes(texts), shingling.size)
    raise ValueError(f"unknown shingle kind {shingling.kind!r} (char or word)")


def _char_stream(text: str, folded: bool) -> str:
    """The text the char shingles run over: folded (optionally), without any whitespace."""
    data = text.encode("utf-8")
    data = _fold_bytes(data, _ASCII_SPACE) if folded else data.translate(None, _ASCII_SPACE)
    stream = data.decode("utf-8")
    if not stream.isascii() and _SPACE.search(stream):  # Unicode spaces (not after `normalise`)
        stream = "".join(stream.split())
    return stream


def shingle_set(text: str, shingling: Shingling = DEFAULT_SHINGLING) -> np.ndarray:
    """The distinct shingle hashes of one text, sorted (for the exact Jaccard similarity)."""
    hashes, _ = shingle_hashes([text], shingling)
    return sorted_distinct(hashes)


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` of a 1-D array by sorting: NumPy 2.4's hash-table `unique` took
    14 s for the 10M candidate keys of a 100k library, a sort takes 1 s (and 3x less for 3,000)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted, distinct shingle-hash arrays."""
    if not len(a) or not len(b):
        return 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


def one_permutation_minhash(
    hashes: np.ndarray, owner: np.ndarray, num_texts: int, num_bins: int
) -> np.ndarray:
    """Densified one-permutation MinHash: a (num_texts x num_bins) int64 matrix."""
    high = hashes >> _BIN_SHIFT
    # A power of two (the usual case) takes a mask: uint64 division is three times slower.
    if num_bins & (num_bins - 1):
        bins = (high % np.uint64(num_bins)).astype(np.int64)
    else:
        bins = (high & np.uint64(num_bins - 1)).astype(np.int64)
    values = (hashes & _LOW32).astype(np.int64)
    flat = np.full(num_texts * num_bins, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(flat, owner * num_bins + bins, values)
    signatures = flat.reshape(num_texts, num_bins)
    return _densify(signatures)


def _densify(signatures: np.ndarray) -> np.ndarray:
    """Fill each empty bin from the next non-empty bin to its right (circular), plus distance."""
    empty = signatures == np.iinfo(np.int64).max
    if not empty.any():
        return signatures
    width = signatures.shape[1]
    doubled = np.concatenate((signatures, signatures), axis=1)
    columns = np.where(np.concatenate((~empty, ~empty), axis=1), np.arange(2 * width), 2 * width)
    source = np.minimum.accumulate(columns[:, ::-1], axis=1)[:, ::-1][:, :width]
    blank = source >= 2 * width  # a text without any shingle
    source = np.minimum(source, 2 * width - 1)
    distance = source - np.arange(width)
    # Offset by the distance within 32 bits (an odd step: a distinct offset per distance), so
    # every value fits in 32 bits and the host stores half the bytes (version 2; version 1
    # added distance << 32).
    dense = (np.take_along_axis(doubled, source, axis=1) + distance * _DISTANCE_STEP) & _LOW32_INT
    dense[blank] = EMPTY
    return dense


def signature_key(num_permutations: int, shingling: Shingling = DEFAULT_SHINGLING) -> str:
    """Names the algorithm, every parameter and the version: a stored signature's identity."""
    return f"minhash-oph/v{VERSION}/{shingling.name}/k{num_permutations}/seed{SEED:x}"


def signatures(
    texts: list[str], num_permutations: int, shingling: Shingling = DEFAULT_SHINGLING
) -> Signatures:
    """Signatures of normalised texts: `len(texts)` rows of `num_permutations` int64 values.

    Large batches are signed in the plugin process pool (`plugins/pool.py`), small ones here.
    """
    chunks = pool_map(signature_values, texts, num_permutations, shingling)
    values = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return Signatures(key=signature_key(num_permutations, shingling), values=values)


def signature_values(
    texts: list[str], num_permutations: int, shingling: Shingling = DEFAULT_SHINGLING
) -> np.ndarray:
    """The signature matrix of `signatures`, computed in this process."""
    values = np.empty((len(texts), num_permutations), dtype=np.int64)
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        hashes, owner = shingle_hashes(batch, shingling)
        values[start : start + len(batch)] = one_permutation_minhash(
            hashes, owner, len(batch), num_permutations
        )
    return values


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal signature values, row by row (rows of two aligned signature matrices)."""
    return (a == b).mean(axis=-1)


def pair_estimates(left: np.ndarray, right: np.ndarray, signatures: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of many pairs at once: rows `left[i]` and `right[i]` of `signatures`.

    Works in chunks of about a million values (8 MB a side), so 10 million pairs never build
    two 10M x 256 matrices.
    """
    out = np.empty(len(left), dtype=np.float64)
    width = signatures.shape[1] if signatures.ndim == 2 else 1
    step = max(1, (1 << 20) // max(width, 1))
    for start in range(0, len(left), step):
        a = signatures[left[start : start + step]]
        b = signatures[right[start : start + step]]
        out[start : start + step] = np.count_nonzero(a == b, axis=1) / width
    return out


def char_agreement(jaccard: np.ndarray | float, size: int = DEFAULT_SHINGLING.size):
    """Per-character agreement s implied by a char-`size`-gram Jaccard similarity J.

    If each character of a copy survives with probability s, a shingle of `size` characters
    survives with p = s**size and the two shingle sets have J = p / (2 - p); inverted,
    s = (2J / (1 + J)) ** (1 / size). Monotone in J, 1 at J = 1 and 0 at J = 0, and on the same
    scale as a Levenshtein-style ratio (about 1 - character error rate): a 10 % re-scan with
    J = 0.5 gets 0.93 instead of 0.5. The slope at low J is steep, which also shrinks the MinHash
    estimate's error: +-0.03 in J is +-0.007 in s at J = 0.5.
    """
    j = np.clip(np.asarray(jaccard, dtype=np.float64), 0.0, 1.0)
    return (2 * j / (1 + j)) ** (1.0 / size)


@hookimpl
def dupeless_signatures(texts: list[str], params: SignatureParams) -> Signatures:
    return signatures(texts, params.num_permutations)
