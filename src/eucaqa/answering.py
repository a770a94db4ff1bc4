"""Stage 6 — extract: pick the spans that answer a question, or abstain.

This is where a question becomes an answer (:meth:`Engine.answer`):

1. the question is embedded, its words stemmed, and what it names (proper
   names, acronyms, numbers, words the corpus finds rare) picked out; the same
   forward pass also gives a vector of what it asks about (its word pieces
   outside its names);
2. :class:`~eucaqa.retrieval.Retriever` returns the top passages (dense + BM25);
3. :func:`~eucaqa.candidates.describe_candidates` makes every sentence of
   those passages a candidate, cited as a verbatim span
   that starts up to four sentences earlier when it opens with a word that
   points back ("It", "This", "Their"...); each candidate gets the signals of
   :data:`~eucaqa.features.CANDIDATE_FEATURES` (its own similarity and word
   overlap, its neighbours', its passage's rank, the kind of thing the
   question asks for, whether the question's named things meet around it);
4. a logistic *ranker* fitted on labelled questions turns the signals into the
   probability that the span holds the answer; the best span is cited, then the
   next ones in that order, 700 characters and five spans at most (one that
   shares sentences with a span already chosen widens it);
5. a second logistic model gives the answer its ``confidence``, the calibrated
   probability that it holds the right information; an answer to a question
   asking for a date, amount, share, person or place none of whose spans holds
   one is capped at the (low) share of such answers that were right in the fit
   data; below the threshold the answer says the documents do not answer the
   question and shows the closest passages.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .answer_model import AnswerModel, load_answer_model
from .candidates import MAX_ANSWER_CHARS, SentenceCache, describe_candidates
from .errors import IndexFormatError
from .evidence import RARE_SHARE, TOPIC_NAME_SHARE, Question, answer_phrase, expected_answer_type
from .features import Candidate, answer_features
from .index import LoadedIndex, current_build, load_index
from .names import name_word_spans, name_words, names_terms
from .retrieval import CitedText, Passage, Retriever
from .text import lexical_terms

NOT_FOUND_TEXT = "The documents do not answer this question."
MAX_SENTENCES = 5
#: Characters of a question that are read; the model sees 256 word pieces anyway.
MAX_QUESTION_CHARS = 2000
#: Passages whose sentences are candidates: the ``top_k`` returned, and more up to this many.
CANDIDATE_PASSAGES = 8
#: Environment variable that overrides the confidence threshold of ``Answer.found``.
MIN_CONFIDENCE_ENV = "EUCAQA_MIN_CONFIDENCE"

__all__ = ["Answer", "AnswerSentence", "Passage", "answer", "confidence_label", "expected_answer_type"]


@dataclass
class AnswerSentence(CitedText):
    """A span copied verbatim from a document; ``score`` is the ranker's probability
    that it holds the answer."""

    #: document offsets ``[start, end]`` of the phrase that answers a question asking
    #: for a date, amount, share, person or place; None when there is none or it is unclear
    highlight: list[int] | None = field(default=None, kw_only=True)


@dataclass
class Answer:
    """The reply to a question: cited spans, or ``found=False`` and the closest passages.

    ``confidence`` is the calibrated probability that the cited spans hold the
    right information (for an abstention: that the spans it would have cited do).
    """

    question: str
    text: str
    found: bool
    confidence: float = 0.0
    sentences: list[AnswerSentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "found": self.found,
            "confidence": self.confidence,
            "sentences": [sentence.to_dict() for sentence in self.sentences],
            "passages": [passage.to_dict() for passage in self.passages],
            "seconds": self.seconds,
        }


def confidence_label(confidence: float) -> str:
    """The confidence in words, as the chat shows it."""
    if confidence >= 0.8:
        return "high confidence"
    if confidence >= 0.5:
        return "medium confidence"
    return "low confidence"


@dataclass
class Evidence:
    """Everything the extract stage weighed for one question (what ``eval/train.py`` fits on)."""

    question: Question
    passages: list[Passage]
    candidates: list[Candidate]
    #: for each document of the retrieved passages, the share of the question's name terms it
    #: mentions anywhere (1 when the question names nothing)
    names_in_document: dict[int, float] = field(default_factory=dict)


# ------------------------------------------------------------------------- engine


class Engine:
    """A loaded index with its retriever and model, answering questions."""

    def __init__(self, index: LoadedIndex, model: AnswerModel | None = None) -> None:
        from .embedding import shared_embedder

        self.index = index
        self.retriever = Retriever(index)
        self.embedder = shared_embedder()
        self.model = model or load_answer_model()
        self.sentence_cache = SentenceCache(index)
        expected = index.manifest["model"]["fingerprint"]
        if self.embedder.fingerprint() != expected:
            raise IndexFormatError(
                f"the index was built with another model ({index.manifest['model']['name']}); "
                "rebuild with: eucaqa index --full"
            )

    def answer(self, question: str, top_k: int = 5, min_confidence: float | None = None) -> Answer:
        started = time.perf_counter()
        threshold = self.threshold(min_confidence)
        return self.reply(question, self.gather(question, top_k), threshold, started)

    def reply(self, question: str, evidence: Evidence, threshold: float, started: float) -> Answer:
        """The answer that ``evidence`` (from :meth:`gather`) supports at ``threshold``."""
        chosen, confidence = decide(evidence, self.model)
        found = bool(chosen) and confidence >= threshold
        sentences = [self._cite(candidate, evidence.question) for candidate in chosen] if found else []
        if found:
            text = " ".join(f"{s.text} [{n}]" for n, s in enumerate(sentences, start=1))
        else:
            text = NOT_FOUND_TEXT
        return Answer(
            question=question,
            text=text,
            found=found,
            confidence=round(confidence, 4),
            sentences=sentences,
            passages=evidence.passages,
            seconds=round(time.perf_counter() - started, 4),
        )

    def threshold(self, min_confidence: float | None) -> float:
        """The confidence an answer needs: the argument, else ``EUCAQA_MIN_CONFIDENCE``, else the model's."""
        if min_confidence is None:
            raw = os.environ.get(MIN_CONFIDENCE_ENV)
            if raw is None or not raw.strip():
                return self.model.threshold
            try:
                min_confidence = float(raw)
            except ValueError:
                raise ValueError(f"{MIN_CONFIDENCE_ENV} must be a number in [0, 1], got {raw!r}") from None
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        return float(min_confidence)

    # --------------------------------------------------------------- evidence

    def gather(self, question: str, top_k: int = 5) -> Evidence:
        """Retrieve passages and describe every candidate span by its signals."""
        text = _check_question(question)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        parsed = self._parse(text)
        extra = max(0, CANDIDATE_PASSAGES - top_k)
        searched = self.retriever.search(parsed.vector, list(parsed.weights), top_k, extra=extra)
        names = parsed.name_terms
        names_in_document = {}
        for document in {int(self.index.chunks[passage.chunk, 0]) for passage in searched}:
            mentioned = sum(self.retriever.mentions(document, term) for term in names)
            names_in_document[document] = mentioned / len(names) if names else 1.0
        candidates = describe_candidates(self.index, parsed, searched, names_in_document, self.sentence_cache)
        return Evidence(parsed, searched[:top_k], candidates, names_in_document)

    def _parse(self, text: str) -> Question:
        vector, predicate_vector = self.embedder.encode_question(text, name_word_spans(text))
        terms = list(dict.fromkeys(lexical_terms(text)))
        weights = {term: self.retriever.term_weight(term) for term in terms}
        words = name_words(text)
        raw_names = {term for word in words for term in lexical_terms(word)}
        names = names_terms(words)
        vocabulary = self.retriever.vocabulary
        rare = {term for term in terms if term in vocabulary and self.retriever.passage_share(term) <= RARE_SHARE}
        for term in names:
            weights.setdefault(term, self.retriever.term_weight(term))
        all_names = names
        names = {term for term in names if self.retriever.passage_share(term) <= TOPIC_NAME_SHARE}
        return Question(
            text=text,
            vector=vector,
            predicate_vector=predicate_vector,
            weights=weights,
            answer_type=expected_answer_type(text),
            names=names,
            specific=names | rare,
            name_terms=frozenset(raw_names),
            all_names=all_names,
        )

    def _cite(self, candidate: Candidate, question: Question) -> AnswerSentence:
        doc, page = (int(x) for x in self.index.sentences[candidate.first, :2])
        start, end = candidate.start, candidate.end
        if end - start > MAX_ANSWER_CHARS - 5:
            # Only a single sentence longer than the whole answer is cut, at a word boundary.
            limit = MAX_ANSWER_CHARS - 5
            cut = self.index.texts[doc].rfind(" ", start, start + limit)
            end = cut if cut > start else start + limit
        own_start = max(start, int(self.index.sentences[candidate.row, 2]))
        phrase = answer_phrase(self.index.texts[doc][own_start:end], question.answer_type, question.text)
        highlight = [own_start + phrase[0], own_start + phrase[1]] if phrase else None
        return AnswerSentence(
            **self.index.span(doc, page, start, end), score=round(candidate.probability, 6), highlight=highlight
        )


def decide(evidence: Evidence, model: AnswerModel) -> tuple[list[Candidate], float]:
    """Rank the candidates, choose the spans to cite (best first) and the answer's confidence."""
    candidates = evidence.candidates
    if not candidates:
        return [], 0.0
    probabilities = model.ranker.probabilities(np.vstack([c.features for c in candidates]))
    for candidate, probability in zip(candidates, probabilities):
        candidate.probability = float(probability)
    chosen = choose_spans(sorted(candidates, key=lambda c: (-c.probability, c.row)), model.follow_up_share)
    best = chosen[0]
    features = answer_features(candidates, best)
    confidence = float(model.confidence.probabilities(features.reshape(1, -1))[0])
    if untyped(evidence, chosen):
        confidence = min(confidence, model.untyped_confidence)
    return chosen, confidence


def choose_spans(ranked: list[Candidate], follow_up_share: float = 0.0) -> list[Candidate]:
    """The spans to cite, best first: the best of ``ranked``, then the next ones in that order
    while they fit (:data:`MAX_SENTENCES` spans, :data:`MAX_ANSWER_CHARS` characters) and have at
    least ``follow_up_share`` of the best one's probability. A span that shares sentences with one
    already chosen widens it (one contiguous span holding both) instead of being left out."""
    chosen = ranked[:1]
    for candidate in ranked[1:]:
        if len(chosen) == MAX_SENTENCES or candidate.probability < follow_up_share * ranked[0].probability:
            break
        overlapping = [n for n, other in enumerate(chosen) if candidate.first <= other.last and other.first <= candidate.last]
        if len(overlapping) > 1:
            continue  # it would join two spans already chosen
        other = chosen[overlapping[0]] if overlapping else None
        span = candidate if other is None else joined(other, candidate)
        length = sum(c.chars + 5 for c in chosen if c is not other)
        if span.chars > MAX_ANSWER_CHARS - 5 or length + span.chars > MAX_ANSWER_CHARS:
            continue
        if other is None:
            chosen.append(span)
        else:
            chosen[overlapping[0]] = span
    return chosen


def joined(cited: Candidate, other: Candidate) -> Candidate:
    """``cited`` widened to the sentences of ``other`` too, one contiguous span (the two overlap).

    Its signals stay those of ``cited``, but for the type asked for, which the wider span holds
    when either part does."""
    typed_missing = min(cited.value("typed_missing"), other.value("typed_missing"))
    return cited.with_value("typed_missing", typed_missing, first=min(cited.first, other.first),
                            last=max(cited.last, other.last), start=min(cited.start, other.start),
                            end=max(cited.end, other.end))


def untyped(evidence: Evidence, chosen: list[Candidate]) -> bool:
    """The question asks for a date, amount, share, person or place, and no chosen span holds one."""
    return evidence.question.answer_type is not None and all(c.value("typed_missing") == 1.0 for c in chosen)


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


def answer(
    question: str, *, top_k: int = 5, index_dir: str | Path = "index", min_confidence: float | None = None
) -> Answer:
    """Answer ``question`` with spans copied from the indexed documents.

    Args:
        question: the question, in any wording; only its first 2,000 characters are read.
        top_k: passages to retrieve and return with the answer.
        index_dir: the index folder built by :func:`eucaqa.build_index`.
        min_confidence: the confidence (0..1) an answer needs to be given; None takes
            ``EUCAQA_MIN_CONFIDENCE`` or else the fitted model's threshold.

    Raises:
        ValueError: the question is empty, ``top_k`` is below 1 or ``min_confidence`` outside [0, 1].
        IndexNotFoundError: no index was built in ``index_dir``.
    """
    _check_question(question)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    return get_engine(index_dir).answer(question, top_k=top_k, min_confidence=min_confidence)
