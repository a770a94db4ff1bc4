"""Stage 6 — extract: pick the sentences that answer a question, or abstain.

This is where a question becomes an answer (:func:`answer`):

1. the question is embedded and its words stemmed;
2. :class:`~eucaqa.retrieval.Retriever` returns the top passages (dense + BM25);
3. every sentence of those passages is scored on signals that hold for any
   question and corpus: its cosine similarity to the question, the share of
   the question's (IDF-weighted) words it contains, the rank of its passage,
   and whether it holds the kind of thing the question asks for (a date for
   "when", an amount for "how much", a name for "who", a place for "where");
4. the best one to three sentences, at most 700 characters, are copied
   verbatim with their citations; when even the best evidence is weak the
   answer says the documents do not answer the question.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import IndexFormatError
from .index import LoadedIndex, current_build, load_index
from .retrieval import CitedText, Passage, Retriever, lexical_terms

NOT_FOUND_TEXT = "The documents do not answer this question."
MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 700
#: Characters of a question that are read; the model sees 256 word pieces anyway.
MAX_QUESTION_CHARS = 2000
#: Sentences shorter than this many words are headings or fragments, not answers.
MIN_ANSWER_WORDS = 4
#: Below this share of word tokens a "sentence" is a table row or a list of numbers.
MIN_PROSE_SHARE = 0.6

# Weights of the sentence score; all signals lie in [0, 1].
WEIGHT_DENSE = 0.45
WEIGHT_LEXICAL = 0.35
WEIGHT_RANK = 0.10
WEIGHT_TYPE = 0.20
#: A further sentence joins the answer when it scores this share of the best one.
FOLLOW_UP_SHARE = 0.8
#: The documents are taken to answer a question only when some candidate
#: sentence is at least this similar to it (cosine) and some candidate sentence
#: shares at least one of its content words. Calibrated on the dev set:
#: answerable questions scored 0.40 and up, unanswerable ones 0.25 at most.
MIN_SIMILARITY = 0.33
#: ...or when one sentence holds every content word of the question (a name
#: question such as "Who is Vivian Loonela?" embeds poorly) and is at least
#: this similar to it.
MIN_SIMILARITY_ALL_WORDS = 0.2

AnswerType = Literal["date", "share", "amount", "person", "place"]

__all__ = ["Answer", "AnswerSentence", "Passage", "answer", "expected_answer_type"]


@dataclass
class AnswerSentence(CitedText):
    """A sentence copied verbatim from a document; ``score`` is its answer score."""


@dataclass
class Answer:
    """The reply to a question: cited sentences, or ``found=False`` and the closest passages."""

    question: str
    text: str
    found: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "found": self.found,
            "sentences": [sentence.to_dict() for sentence in self.sentences],
            "passages": [passage.to_dict() for passage in self.passages],
            "seconds": self.seconds,
        }


# ------------------------------------------------------------------- answer types

# A wh-word, then at most three words, then the noun that names the kind of answer:
# "In what year ...", "What was the value of ...", "Which European city ...".
_ASKS = r"\b(what|which)\s+(?:\S+\s+){{0,3}}?({nouns})\b"
_TYPE_PATTERNS: list[tuple[AnswerType, re.Pattern]] = [
    ("date", re.compile(r"^(since |until |by )?when\b|" + _ASKS.format(nouns="year|date|month|day|decade|century"), re.I)),
    ("share", re.compile(_ASKS.format(nouns="share|percentage|proportion|percent|fraction|portion"), re.I)),
    ("amount", re.compile(
        r"\bhow (much|many|large|big|long|high|far|often)\b|"
        + _ASKS.format(nouns="amount|value|number|sum|volume|level|cost|price|size|total|budget"), re.I)),
    ("person", re.compile(
        r"^(who|whom|whose)\b|\b(who|whom|whose)\s+\w+ed\b|"
        + _ASKS.format(nouns="official|person|minister|leader|diplomat|president|head|representative|envoy|author"), re.I)),
    ("place", re.compile(r"^where\b|\bwhere (will|is|was|did|does|do|are|were)\b|"
                         + _ASKS.format(nouns="city|country|town|place|capital|region|location|venue"), re.I)),
]

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_NUMBER = r"\d[\d,.]*\d|\d"
_EVIDENCE: dict[AnswerType, re.Pattern] = {
    "date": re.compile(rf"\b(1[5-9]\d\d|20\d\d)s?\b|\b({_MONTHS})\b|\b\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}\b"),
    "share": re.compile(rf"({_NUMBER})\s*(%|percent\b|per cent\b)|\b(half|a third|one third|a quarter|two thirds|majority)\b", re.I),
    "amount": re.compile(
        rf"[$€£¥]\s*\d|({_NUMBER})\s*(%|percent|per cent|million|billion|trillion|thousand|bn|mln)?|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|dozens?)\b",
        re.I,
    ),
    "person": re.compile(
        r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)*\s+[A-Z][a-z]{2,}\b"
        r"|\b(President|Minister|Director|Head|Chair\w*|Secretary|Ambassador|Commissioner|Representative|Spokes\w+)\b"
    ),
    "place": re.compile(r"\b(in|at|to|from|near|city of|capital)\s+(the\s+)?[A-Z][a-z]+"),
}


def expected_answer_type(question: str) -> AnswerType | None:
    """What kind of thing the question asks for, from its wording; None if unclear."""
    text = question.strip()
    for answer_type, pattern in _TYPE_PATTERNS:
        if pattern.search(text):
            return answer_type
    return None


def has_answer_type(sentence: str, answer_type: AnswerType | None, question: str) -> bool:
    """Whether the sentence holds something of that type that the question does not already say."""
    if answer_type is None:
        return False
    asked = question.lower()
    return any(match.group(0).strip().lower() not in asked for match in _EVIDENCE[answer_type].finditer(sentence))


def prose_share(text: str) -> float:
    """Share of a text's tokens that are words rather than numbers or symbols (tables score low)."""
    tokens = text.split()
    if not tokens:
        return 0.0
    return sum(1 for token in tokens if any(char.isalpha() for char in token)) / len(tokens)


def term_matches(term: str, present: set[str]) -> bool:
    """A stemmed term found among a sentence's stems, allowing spelling variants of a
    shared stem of 5+ letters ("programm"/"program", "organiz"/"organis")."""
    if term in present:
        return True
    if len(term) < 5:
        return False
    return any(len(other) >= 5 and (other.startswith(term[:-1]) or term.startswith(other[:-1])) for other in present)


# ------------------------------------------------------------------------- engine


class Engine:
    """A loaded index with its retriever and model, answering questions."""

    def __init__(self, index: LoadedIndex) -> None:
        from .embedding import shared_embedder

        self.index = index
        self.retriever = Retriever(index)
        self.embedder = shared_embedder()
        expected = index.manifest["model"]["fingerprint"]
        if self.embedder.fingerprint() != expected:
            raise IndexFormatError(
                f"the index was built with another model ({index.manifest['model']['name']}); "
                "rebuild with: eucaqa index --full"
            )

    def answer(self, question: str, top_k: int = 5) -> Answer:
        started = time.perf_counter()
        question_text = _check_question(question)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        vector = self.embedder.encode_query(question_text)
        terms = lexical_terms(question_text)
        passages = self.retriever.search(vector, terms, top_k)
        sentences, evidence = self._select(question_text, vector, terms, passages)
        found = bool(sentences) and evidence
        if found:
            text = " ".join(f"{s.text} [{n}]" for n, s in enumerate(sentences, start=1))
        else:
            sentences, text = [], NOT_FOUND_TEXT
        return Answer(
            question=question,
            text=text,
            found=found,
            sentences=sentences,
            passages=passages,
            seconds=round(time.perf_counter() - started, 4),
        )

    def _select(
        self, question: str, vector: np.ndarray, terms: list[str], passages: list[Passage]
    ) -> tuple[list[AnswerSentence], bool]:
        index = self.index
        rows: list[int] = []
        rank_of: dict[int, int] = {}
        for rank, passage in enumerate(passages):
            first, stop = (int(x) for x in index.chunks[passage.chunk, 4:6])
            for row in range(first, stop):
                if row not in rank_of:
                    rank_of[row] = rank
                    rows.append(row)
        if not rows:
            return [], False
        dense = index.sentence_vectors[rows] @ vector
        weights = {term: self.retriever.term_weight(term) for term in set(terms)}
        total_weight = sum(weights.values())
        answer_type = expected_answer_type(question)
        scored = []
        best_lexical = 0.0
        for position, row in enumerate(rows):
            text = index.sentence_text(row)
            present = set(lexical_terms(text))
            lexical = sum(w for t, w in weights.items() if term_matches(t, present)) / total_weight if total_weight else 0.0
            typed = has_answer_type(text, answer_type, question)
            score = (
                WEIGHT_DENSE * max(float(dense[position]), 0.0)
                + WEIGHT_LEXICAL * lexical
                + WEIGHT_RANK / (1 + rank_of[row])
                + WEIGHT_TYPE * typed
            )
            if len(text.split()) < MIN_ANSWER_WORDS or prose_share(text) < MIN_PROSE_SHARE:
                score *= 0.5
            scored.append((score, row))
            best_lexical = max(best_lexical, lexical)
        scored.sort(key=lambda item: -item[0])
        best_score = scored[0][0]
        best_dense = float(dense.max())
        evidence = best_lexical > 0 and (
            best_dense >= MIN_SIMILARITY or (best_lexical >= 0.999 and best_dense >= MIN_SIMILARITY_ALL_WORDS)
        )
        chosen: list[AnswerSentence] = []
        length = 0
        for score, row in scored:
            if len(chosen) == MAX_SENTENCES or (chosen and score < FOLLOW_UP_SHARE * best_score):
                break
            sentence = self._sentence(row, score)
            if length + len(sentence.text) + 5 > MAX_ANSWER_CHARS:
                if chosen:
                    continue
                sentence = self._sentence(row, score, limit=MAX_ANSWER_CHARS - 5)
            chosen.append(sentence)
            length += len(sentence.text) + 5
        return chosen, evidence

    def _sentence(self, row: int, score: float, limit: int | None = None) -> AnswerSentence:
        doc, page, start, end = (int(x) for x in self.index.sentences[row])
        if limit is not None and end - start > limit:
            # Only a sentence longer than the whole answer is cut, at a word boundary.
            cut = self.index.texts[doc].rfind(" ", start, start + limit)
            end = cut if cut > start else start + limit
        return AnswerSentence(**self.index.span(doc, page, start, end), score=round(score, 6))


def _check_question(question: str) -> str:
    if not isinstance(question, str):
        raise ValueError(f"question must be a string, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise ValueError("question must not be empty")
    return text[:MAX_QUESTION_CHARS]


_engines: dict[Path, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(index_dir: str | Path = "index") -> Engine:
    """The engine for ``index_dir``, reloaded when a new build has become current."""
    key = Path(index_dir).resolve()
    build = current_build(key)
    engine = _engines.get(key)
    if engine is not None and build is not None and engine.index.path.name == build.name:
        return engine
    with _engines_lock:
        engine = _engines.get(key)
        build = current_build(key)
        if engine is None or build is None or engine.index.path.name != build.name:
            engine = Engine(load_index(key))
            _engines[key] = engine
        return engine


def answer(question: str, *, top_k: int = 5, index_dir: str | Path = "index") -> Answer:
    """Answer ``question`` with sentences copied from the indexed documents.

    Args:
        question: the question, in any wording; only its first 2,000 characters are read.
        top_k: passages to retrieve and return with the answer.
        index_dir: the index folder built by :func:`eucaqa.build_index`.

    Raises:
        ValueError: the question is empty, or ``top_k`` is below 1.
        IndexNotFoundError: no index was built in ``index_dir``.
    """
    _check_question(question)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    return get_engine(index_dir).answer(question, top_k=top_k)
