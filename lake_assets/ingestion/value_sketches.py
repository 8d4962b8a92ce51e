"""Value hashes and bottom-k sketches: what a profile keeps of a field's values, so the registry
can tell a renamed field from a new one by value overlap (`jaccard_estimate`). numpy hashes a
whole column at once; no Dagster, no Spark.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

SKETCH_SIZE = 128  # k of the bottom-k sketch: ~9% relative error on distinct counts above k


# --- hashing and sketches ------------------------------------------------------------------------

# value_hash, spelled out so other runtimes can reproduce it. Split the text's n UTF-8 bytes into
# little-endian 64-bit words w_0..w_m (the last zero-padded); with MurmurHash3's finaliser fmix64,
#   h = fmix64((sum_j fmix64(w_j + j * S)  mod 2**64) ^ (n * S)),  S = 0x9E3779B97F4A7C15.
# Not blake2b: a sum of mixed words vectorises, so numpy hashes a whole column at once.
_SALT = np.uint64(0x9E3779B97F4A7C15)
_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)
_HASH_SLICE_BYTES = 64 << 10  # slices whose temporaries stay in cache and off mmap (page faults)


def value_hash(text: str) -> int:
    """Stable 64-bit hash of a value's canonical text; the hash the value sketches hold."""
    return int(_hash_strings(pa.array([text], pa.string()))[0])


def jaccard_estimate(a: Sequence[int], b: Sequence[int]) -> float:
    """Jaccard similarity of two value sets from their bottom-k sketches.

    Among the union's k smallest hashes (k = the smaller sketch, unless a sketch is shorter than
    SKETCH_SIZE and so is its whole set), the fraction that both sketches hold.
    """
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    sizes = [len(s) for s in (sa, sb) if len(s) >= SKETCH_SIZE]
    union = sorted(sa | sb)
    bottom = union[: min(sizes)] if sizes else union
    return sum(1 for h in bottom if h in sa and h in sb) / len(bottom)


def _distinct_estimate(sketch: tuple[int, ...]) -> int:
    """Exact while the sketch holds every value; else the KMV estimator (k - 1) / U_(k)."""
    if len(sketch) < SKETCH_SIZE:
        return len(sketch)
    return round((SKETCH_SIZE - 1) * 2.0**64 / (sketch[SKETCH_SIZE - 1] + 1))


def _merge_sketches(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(a) | set(b))[:SKETCH_SIZE])


def _bottom_k(hashes: np.ndarray) -> tuple[int, ...]:
    """The SKETCH_SIZE smallest distinct hashes."""
    take = SKETCH_SIZE
    while True:  # repeated values can crowd the smallest `take`: take more until k are distinct
        if hashes.size <= take:
            return tuple(int(h) for h in np.unique(hashes)[:SKETCH_SIZE])
        smallest = np.unique(np.partition(hashes, take - 1)[:take])
        if smallest.size >= SKETCH_SIZE:
            return tuple(int(h) for h in smallest[:SKETCH_SIZE])
        take *= 8


def _integers(values: pa.Array) -> np.ndarray:
    """A null-free integer array as numpy, zero-copy (Array.to_numpy first imports pandas)."""
    width = values.type.byte_width
    data = values.buffers()[1]
    return np.frombuffer(data, f"<i{width}", count=len(values), offset=values.offset * width)


def _string_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array without copying; offsets index into the bytes."""
    _, offsets, data = texts.buffers()
    bounds = np.frombuffer(offsets, np.int32, count=len(texts) + 1, offset=texts.offset * 4)
    raw = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    return bounds.astype(np.int64), raw


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _hash_strings(texts: pa.Array) -> np.ndarray:
    """value_hash of every string of a (null-free) string array, as uint64."""
    offsets, data = _string_buffers(texts)
    bounds = np.searchsorted(
        offsets, np.arange(offsets[0], offsets[-1], _HASH_SLICE_BYTES), side="right"
    )
    cuts = np.unique(np.concatenate(([0], bounds - 1, [len(texts)])))
    sums = np.zeros(len(texts), np.uint64)
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        sums[lo:hi] = _word_sums(offsets[lo : hi + 1], data)
    return _fmix64(sums ^ (np.diff(offsets).astype(np.uint64) * _SALT))


def _word_sums(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """sum_j fmix64(w_j + j * S) of each string between consecutive offsets."""
    lengths = np.diff(offsets)
    if lengths.size and (lengths == lengths[0]).all():
        return _fixed_word_sums(data[offsets[0] : offsets[-1]], int(lengths[0]), lengths.size)
    words = (lengths + 7) // 8
    sums = np.zeros(len(lengths), np.uint64)
    padded = np.zeros(offsets[-1] - offsets[0] + 8, np.uint8)  # the last word reads 8 bytes
    padded[:-8] = data[offsets[0] : offsets[-1]]
    # Every byte offset as the start of an unaligned 64-bit word, without copying.
    at_byte = np.ndarray((padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    first = np.cumsum(words) - words
    index = np.arange(first[-1] + words[-1]) - np.repeat(first, words)
    word = at_byte[np.repeat(offsets[:-1] - offsets[0], words) + 8 * index]
    left = np.minimum(np.repeat(lengths, words) - 8 * index, 8).astype(np.uint64)
    word &= _ALL_BITS >> (np.uint64(8) * (np.uint64(8) - left))  # drop the next string's bytes
    filled = words > 0  # reduceat would give empty strings their neighbour's first term
    sums[filled] = np.add.reduceat(_fmix64(word + index.astype(np.uint64) * _SALT), first[filled])
    return sums


def _fixed_word_sums(data: np.ndarray, length: int, count: int) -> np.ndarray:
    """_word_sums when every string has the same length (ids, codes, dates): a matrix of words."""
    width = (length + 7) // 8
    padded = np.zeros((count, width * 8), np.uint8)
    padded[:, :length] = data.reshape(count, length)
    salts = np.arange(width, dtype=np.uint64) * _SALT
    return _fmix64(padded.view("<u8") + salts).sum(axis=1, dtype=np.uint64)
