"""Stage 5 — retrieve: find the passages most likely to answer a question.

Two rankings over the same chunks (the passages), fused by reciprocal rank
fusion (RRF): dense, where a passage scores the cosine of its best sentence
(FAISS inner product of unit MiniLM sentence vectors), and lexical (BM25 from
``bm25s`` over the passages' Snowball-stemmed words, :func:`eucaqa.text.bm25_tokens`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .index import LoadedIndex

#: The usual RRF constant (Cormack et al., 2009): damps the weight of top ranks.
RRF_K = 60
#: Each ranking contributes this many candidates per passage asked for.
CANDIDATES_PER_PASSAGE = 4
MIN_CANDIDATES = 20
#: Sentences the dense search returns per passage it must rank: the best
#: sentences of a passage often lie together, so one hit rarely means one passage.
SENTENCE_HITS_PER_PASSAGE = 4


@dataclass
class CitedText:
    """Text copied from a document: ``document_text[start:end] == text``, with its score."""

    text: str
    source: str
    page: int | None
    start: int
    end: int
    score: float
    #: server-relative URL of ``eucaqa serve`` that opens the source at this place
    link: str = field(default="", kw_only=True)
    #: the text comes from a page read by OCR, so it may hold recognition errors
    ocr: bool = field(default=False, kw_only=True)

    @property
    def citation(self) -> str:
        """``file name, p. N`` (``(OCR)`` after it for a page read by OCR), or just the file name."""
        cited = self.source if self.page is None else f"{self.source}, p. {self.page}"
        return f"{cited} (OCR)" if self.ocr else cited

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Passage(CitedText):
    """A retrieved chunk; ``score`` is its fused (RRF) score."""

    #: cosine similarity to the question of the chunk's best sentence
    similarity: float
    #: row of the chunk in the index (to find its sentences)
    chunk: int
    #: calibrated probability that the passage holds the answer (set by the answer stage)
    probability: float | None = field(default=None, kw_only=True)


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    """Fuse rankings (best first) into ``{item: sum of 1 / (k + rank)}``, best first.

    Ties keep the lower item number first, so the result is deterministic.
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return dict(sorted(fused.items(), key=lambda pair: (-pair[1], pair[0])))


def keep_each_top_hit(fused: list[int], rankings: list[list[int]], top_k: int) -> list[int]:
    """The first ``top_k`` of ``fused``, making room for each ranking's own best hit.

    RRF sums ranks and ignores how sure each ranking is: a chunk that BM25 puts
    first by a wide margin but that dense search misses can fall behind chunks
    both rank middling. Each ranking's first hit is therefore always kept.
    """
    best = fused[:top_k]
    if top_k < 2:
        return best
    protected = [ranking[0] for ranking in rankings if ranking]
    for hit in protected:
        if hit in best:
            continue
        for position in range(len(best) - 1, -1, -1):
            if best[position] not in protected:
                best[position] = hit
                break
    order = {item: position for position, item in enumerate(fused)}
    return sorted(best, key=order.__getitem__)


class Retriever:
    """Hybrid search over one loaded index."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        scores = index.bm25.scores
        self.vocabulary: dict[str, int] = index.bm25.vocab_dict
        document_frequency = np.diff(np.asarray(scores["indptr"]))
        n = max(int(scores["num_docs"]), 1)
        #: BM25's inverse document frequency of each vocabulary term
        self.idf = np.log(1.0 + (n - document_frequency + 0.5) / (document_frequency + 0.5))
        self._rarest_idf = float(self.idf.max(initial=1.0))
        #: share of the passages that hold each vocabulary term
        self.share = document_frequency / n
        self._sorted_vocabulary: list[str] | None = None
        #: each chunk's first and stop sentence rows: both ascend, chunk by chunk
        self.chunk_first = np.ascontiguousarray(index.chunks[:, 4])
        self.chunk_stop = np.ascontiguousarray(index.chunks[:, 5])
        #: each chunk's document
        self.chunk_document = np.ascontiguousarray(index.chunks[:, 0])
        self._documents_in_order = bool(np.all(np.diff(self.chunk_document) >= 0))
        self._postings: dict[str, list[np.ndarray]] = {}

    def term_weight(self, term: str) -> float:
        """IDF of a stemmed term; unseen terms weigh as much as the rarest ones."""
        position = self.vocabulary.get(term)
        return float(self.idf[position]) if position is not None else self._rarest_idf

    def mentions(self, document: int, term: str) -> bool:
        """Whether some passage of ``document`` holds the stemmed term or, for a term of 5+
        letters, a stem that starts with all of it but its last letter ("kazakh" / "kazakhstan",
        "programm" / "program")."""
        postings = self._postings.get(term)
        if postings is None:
            postings = self._postings[term] = self._postings_of(term)
            if len(self._postings) > 4096:
                self._postings.clear()
        if not self._documents_in_order:
            return any(bool(np.any(self.chunk_document[chunks] == document)) for chunks in postings)
        start, stop = np.searchsorted(self.chunk_document, [document, document + 1])
        for chunks in postings:  # each ascending: is one of them in [start, stop)?
            at = int(np.searchsorted(chunks, start))
            if at < len(chunks) and chunks[at] < stop:
                return True
        return False

    def _postings_of(self, term: str) -> list[np.ndarray]:
        """The chunks holding the term, and those holding each stem that starts with all of it
        but its last letter (a term of 5+ letters): one ascending array each."""
        terms = [term] if term in self.vocabulary else []
        if len(term) >= 5:
            if self._sorted_vocabulary is None:
                self._sorted_vocabulary = sorted(self.vocabulary)
            prefix = term[:-1]
            at = bisect.bisect_left(self._sorted_vocabulary, prefix)
            while at < len(self._sorted_vocabulary) and self._sorted_vocabulary[at].startswith(prefix):
                if self._sorted_vocabulary[at] != term:
                    terms.append(self._sorted_vocabulary[at])
                at += 1
        scores = self.index.bm25.scores
        indptr, indices = scores["indptr"], scores["indices"]
        # (bm25s's vocabulary also lists "", which no column of its matrix holds)
        positions = [p for p in (self.vocabulary[t] for t in terms) if p + 1 < len(indptr)]
        postings = [np.asarray(indices[indptr[p]:indptr[p + 1]]) for p in positions]
        # views of the BM25 matrix, which keeps each term's chunks in order (sorted only if not)
        return [chunks if np.all(chunks[1:] > chunks[:-1]) else np.sort(chunks) for chunks in postings]

    def passage_share(self, term: str) -> float:
        """Share of the passages holding a stemmed term; 0 for a term no passage holds."""
        position = self.vocabulary.get(term)
        return float(self.share[position]) if position is not None else 0.0

    def search(self, question_vector: np.ndarray, terms: list[str], top_k: int, extra: int = 0) -> list[Passage]:
        """The ``top_k`` passages by fused rank, best first, then ``extra`` more in fused order
        (the first ``top_k`` are the same whatever ``extra`` is)."""
        total = len(self.index.chunks)
        if total == 0:
            return []
        wanted = min(total, max(MIN_CANDIDATES, CANDIDATES_PER_PASSAGE * top_k))
        dense, similarity = self.dense_ranking(question_vector, wanted)
        known = [term for term in terms if term in self.vocabulary]
        lexical: list[int] = []
        if known:
            bm25_scores = self.index.bm25.get_scores(known)
            top = np.argpartition(-bm25_scores, min(wanted, total) - 1)[:wanted]
            lexical = [int(row) for row in top[np.argsort(-bm25_scores[top])] if bm25_scores[row] > 0]
        fused = reciprocal_rank_fusion([dense, lexical])
        best = keep_each_top_hit(list(fused), [dense, lexical], top_k)
        if extra > 0:
            chosen = set(best)
            best += [row for row in fused if row not in chosen][:extra]
        for row in best:
            if row not in similarity:
                first, stop = int(self.chunk_first[row]), int(self.chunk_stop[row])
                vectors = np.asarray(self.index.sentence_vectors[first:stop], dtype=np.float32)
                similarity[row] = float((vectors @ question_vector).max()) if len(vectors) else 0.0
        return [self._passage(row, fused[row], similarity[row]) for row in best]

    def dense_ranking(self, question_vector: np.ndarray, wanted: int) -> tuple[list[int], dict[int, float]]:
        """Up to ``wanted`` chunks ranked by the cosine of their best sentence, and those cosines."""
        rows, cosines = self.index.nearest_sentences(question_vector, wanted * SENTENCE_HITS_PER_PASSAGE)
        # The chunks holding sentence s are those with first <= s < stop (two where chunks overlap).
        lows = np.searchsorted(self.chunk_stop, rows, side="right")
        highs = np.searchsorted(self.chunk_first, rows, side="right")
        ranking: list[int] = []
        similarity: dict[int, float] = {}
        for low, high, cosine in zip(lows.tolist(), highs.tolist(), cosines.tolist()):
            for chunk in range(low, high):
                if chunk not in similarity:
                    similarity[chunk] = cosine
                    ranking.append(chunk)
            if len(ranking) >= wanted:
                break
        return ranking, similarity

    def _passage(self, row: int, score: float, similarity: float) -> Passage:
        doc, page, start, end = (int(x) for x in self.index.chunks[row, :4])
        return Passage(
            **self.index.span(doc, page, start, end),
            score=round(score, 6),
            similarity=round(similarity if math.isfinite(similarity) else 0.0, 6),
            chunk=row,
        )
