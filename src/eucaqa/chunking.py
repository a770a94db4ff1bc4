"""Stage 2 — chunk: cut a document into sentences and sentence-aware chunks.

Sentences come from :func:`eucaqa.text.sentence_spans` (``blingfire``, a fast
finite-state sentence splitter), run on each paragraph of each page. A chunk is
a run of whole sentences that fits the model's window; consecutive chunks share ``overlap`` sentences. A sentence is
split only when it alone is longer than the window. Offsets point into
``Document.text``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from .documents import Document
from .text import sentence_spans

#: Counts the model's word pieces in each of several texts.
TokenCounter = Callable[[Sequence[str]], list[int]]
#: Room for the [CLS] and [SEP] word pieces the model adds.
SPECIAL_TOKENS = 2

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document, as a span of its cleaned text."""

    source: str
    page: int | None
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A run of sentences ``[first_sentence, stop_sentence)`` embedded as one passage."""

    source: str
    page: int | None
    start: int
    end: int
    text: str
    first_sentence: int
    stop_sentence: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChunkedDocument:
    """A document's sentences and chunks; chunk sentence numbers index ``sentences``."""

    sentences: list[Sentence]
    chunks: list[Chunk]


def chunk_document(
    document: Document,
    count_tokens: TokenCounter,
    max_tokens: int = 200,
    overlap: int = 1,
) -> ChunkedDocument:
    """Cut ``document`` into sentences and chunks of at most ``max_tokens`` word pieces.

    Chunks never cross a page, so each has one page to cite.
    """
    if max_tokens < 8:
        raise ValueError(f"max_tokens must be >= 8, got {max_tokens}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    text = document.text
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    budget = max_tokens - SPECIAL_TOKENS
    for page in document.pages:
        spans = sentence_spans(text, page.start, page.end)
        counts = count_tokens([text[a:b] for a, b in spans]) if spans else []
        page_spans: list[tuple[int, int]] = []
        page_counts: list[int] = []
        for span, count in zip(spans, counts):
            if count <= budget:
                page_spans.append(span)
                page_counts.append(count)
            else:
                pieces = _split_long_sentence(text, span, budget, count_tokens)
                page_spans.extend(pieces)
                page_counts.extend(count_tokens([text[a:b] for a, b in pieces]))
        first = len(sentences)
        sentences.extend(Sentence(document.source, page.number, a, b, text[a:b]) for a, b in page_spans)
        for lo, hi in _pack(page_counts, budget, overlap):
            a, b = page_spans[lo][0], page_spans[hi - 1][1]
            chunks.append(Chunk(document.source, page.number, a, b, text[a:b], first + lo, first + hi))
    return ChunkedDocument(sentences=sentences, chunks=chunks)


def _pack(counts: list[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy runs ``[lo, hi)`` of sentences whose counts (plus a space each) fit ``budget``."""
    runs: list[tuple[int, int]] = []
    lo = 0
    while lo < len(counts):
        hi, used = lo, 0
        while hi < len(counts) and (hi == lo or used + counts[hi] <= budget):
            used += counts[hi]
            hi += 1
        runs.append((lo, hi))
        if hi >= len(counts):
            break
        lo = max(hi - overlap, lo + 1)
    return runs


def _split_long_sentence(
    text: str, span: tuple[int, int], budget: int, count_tokens: TokenCounter
) -> list[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries into pieces that fit ``budget``."""
    words = [(m.start() + span[0], m.end() + span[0]) for m in _WORD.finditer(text[span[0] : span[1]])]
    counts = count_tokens([text[a:b] for a, b in words])
    pieces: list[tuple[int, int]] = []
    lo = 0
    while lo < len(words):
        hi, used = lo, 0
        while hi < len(words) and (hi == lo or used + counts[hi] <= budget):
            used += counts[hi]
            hi += 1
        pieces.append((words[lo][0], words[hi - 1][1]))
        lo = hi
    return pieces
