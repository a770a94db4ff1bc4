"""Stage 6 — extract: pick the spans that answer a question, or abstain.

This is where a question becomes an answer (:meth:`Engine.answer`):

0. a follow-up question that points back to the conversation ("When was it
   ratified?") is completed with the last turn (:mod:`eucaqa.conversation`);
   what follows reads the question as understood (``Answer.understood_as``);
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
   shares sentences with a span already chosen widens it) (:mod:`eucaqa.choosing`);
5. a second logistic model gives the answer its ``confidence``, the calibrated
   probability that it holds the right information; an answer to a question
   asking for a date, amount, share, person or place none of whose spans holds
   one is capped at the (low) share of such answers that were right in the fit
   data; below the threshold the answer says the documents do not answer the
   question and shows the closest passages, and in a band just below it, that
   they may not answer exactly what was asked, with the closest span as such;
6. a third logistic model gives each returned passage the probability that it
   holds the answer (``Passage.probability``).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .answer_model import AnswerModel, load_answer_model
from .candidates import MAX_ANSWER_CHARS, SentenceCache, describe_candidates
from .errors import IndexFormatError
from .evidence import RARE_SHARE, TOPIC_NAME_SHARE, Question, answer_phrase, expected_answer_type
from .choosing import Evidence, decide
from .conversation import CONTEXT_WEIGHT, Understood, check_history, understand
from .features import Candidate, passage_features
from .index import LoadedIndex, current_build, load_index
from .names import name_word_spans, name_words, names_terms
from .retrieval import CitedText, Passage, Retriever
from .text import lexical_terms

NOT_FOUND_TEXT = "The documents do not answer this question."
#: The reply when the confidence lies in the band just below the threshold.
UNSURE_TEXT = "The documents may not answer exactly what was asked."
#: Characters of a question that are read; the model sees 256 word pieces anyway.
MAX_QUESTION_CHARS = 2000
#: Passages whose sentences are candidates: the ``top_k`` returned, and more up to this many.
CANDIDATE_PASSAGES = 8
#: Environment variable that overrides the confidence threshold of ``Answer.found``.
MIN_CONFIDENCE_ENV = "EUCAQA_MIN_CONFIDENCE"
#: Environment variable that overrides the lower end of the "may not answer exactly" band.
BAND_ENV = "EUCAQA_MAY_NOT_ANSWER_FROM"

__all__ = ["Answer", "AnswerSentence", "Passage", "answer", "confidence_label", "expected_answer_type", "likelihood_label"]


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
    When it lies in ``band`` (from its lower end up to, not including, the
    threshold), ``unsure`` is True: the reply says the documents may not answer
    exactly what was asked and gives the closest span as ``closest``, not as an answer.
    """

    question: str
    text: str
    found: bool
    confidence: float = 0.0
    sentences: list[AnswerSentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0
    #: the confidence lies in ``band``: the documents may not answer exactly what was asked
    unsure: bool = False
    #: ``[lower, threshold]``: confidences from ``lower`` up to the threshold make an answer ``unsure``
    band: list[float] = field(default_factory=list)
    #: when ``unsure``, the span the answer would have led with, shown as the closest, not as an answer
    closest: AnswerSentence | None = None
    #: the question as completed from the conversation and then searched and scored
    #: ("When was it ratified? (amendment abolished slavery; Amendment XIII)"); None when
    #: it was read on its own
    understood_as: str | None = None

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "found": self.found,
            "confidence": self.confidence,
            "sentences": [sentence.to_dict() for sentence in self.sentences],
            "passages": [passage.to_dict() for passage in self.passages],
            "seconds": self.seconds,
            "unsure": self.unsure,
            "band": self.band,
            "closest": self.closest.to_dict() if self.closest else None,
            "understood_as": self.understood_as,
        }


def confidence_label(confidence: float) -> str:
    """The confidence in words, as the chat shows it."""
    if confidence >= 0.8:
        return "high confidence"
    if confidence >= 0.5:
        return "medium confidence"
    return "low confidence"


def likelihood_label(probability: float) -> str:
    """How likely a passage holds the answer, in words and percent, as Sources shows it."""
    percent = round(100 * probability)
    if probability >= 0.7:
        return f"likely holds the answer ({percent}%)"
    if probability >= 0.3:
        return f"may hold the answer ({percent}%)"
    return f"unlikely to hold the answer ({percent}%)"


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

    def answer(self, question: str, top_k: int = 5, min_confidence: float | None = None, history=None) -> Answer:
        started = time.perf_counter()
        threshold = self.threshold(min_confidence)
        return self.reply(question, self.gather(question, top_k, history), threshold, started)

    def reply(self, question: str, evidence: Evidence, threshold: float, started: float) -> Answer:
        """The answer that ``evidence`` (from :meth:`gather`) supports at ``threshold``."""
        chosen, confidence = decide(evidence, self.model)
        found = bool(chosen) and confidence >= threshold
        lower = self.band_lower(threshold)
        unsure = bool(chosen) and not found and confidence >= lower
        sentences = [self._cite(candidate, evidence.question) for candidate in chosen] if found else []
        closest = self._cite(chosen[0], evidence.question) if unsure else None
        if found:
            text = " ".join(f"{s.text} [{n}]" for n, s in enumerate(sentences, start=1))
        elif closest is not None:
            text = f"{UNSURE_TEXT} The closest the documents come: \u201c{closest.text}\u201d ({closest.citation})"
        else:
            text = NOT_FOUND_TEXT
        passages = self._with_probabilities(evidence, chosen, confidence)
        return Answer(
            question=question,
            text=text,
            found=found,
            confidence=round(confidence, 4),
            sentences=sentences,
            passages=passages,
            seconds=round(time.perf_counter() - started, 4),
            unsure=unsure,
            band=[round(lower, 4), round(threshold, 4)],
            closest=closest,
            understood_as=evidence.understood_as,
        )

    def band_lower(self, threshold: float) -> float:
        """The lower end of the "may not answer exactly" band: ``EUCAQA_MAY_NOT_ANSWER_FROM``, else
        the model's; never above ``threshold`` (then the band is empty)."""
        lower = _probability_setting(BAND_ENV)
        if lower is None:
            lower = threshold if self.model.band_lower is None else self.model.band_lower
        return min(lower, threshold)

    def _with_probabilities(self, evidence: Evidence, chosen: list[Candidate], confidence: float) -> list[Passage]:
        """The returned passages, each with the passage model's probability that it holds the answer."""
        if self.model.passage is None or not evidence.passages:
            return evidence.passages
        best = chosen[0] if chosen else None
        rows = np.vstack([
            passage_features(rank, passage.similarity, range(*(int(x) for x in self.index.chunks[passage.chunk, 4:6])),
                             evidence.candidates, best, confidence)
            for rank, passage in enumerate(evidence.passages)
        ])
        probabilities = self.model.passage.probabilities(rows)
        return [replace(passage, probability=round(float(p), 4)) for passage, p in zip(evidence.passages, probabilities)]

    def threshold(self, min_confidence: float | None) -> float:
        """The confidence an answer needs: the argument, else ``EUCAQA_MIN_CONFIDENCE``, else the model's."""
        if min_confidence is None:
            setting = _probability_setting(MIN_CONFIDENCE_ENV)
            return self.model.threshold if setting is None else setting
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        return float(min_confidence)

    # --------------------------------------------------------------- evidence

    def gather(self, question: str, top_k: int = 5, history=None) -> Evidence:
        """Retrieve passages and describe every candidate span by its signals; a follow-up that
        points back to ``history`` is first completed with it (:func:`~eucaqa.conversation.understand`)."""
        text = check_question(question)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        understood = understand(text, history)
        parsed = self._parse(text, understood)
        extra = max(0, CANDIDATE_PASSAGES - top_k)
        searched = self.retriever.search(parsed.vector, list(parsed.weights), top_k, extra=extra)
        names = parsed.name_terms
        names_in_document = {}
        for document in {int(self.index.chunks[passage.chunk, 0]) for passage in searched}:
            mentioned = sum(self.retriever.mentions(document, term) for term in names)
            names_in_document[document] = mentioned / len(names) if names else 1.0
        candidates = describe_candidates(self.index, parsed, searched, names_in_document, self.sentence_cache)
        return Evidence(parsed, searched[:top_k], candidates, understood.text if understood else None)

    def _parse(self, question: str, understood: Understood | None = None) -> Question:
        """The question read for search and scoring. A follow-up is searched as ``understood``, its
        context counting :data:`~eucaqa.conversation.CONTEXT_WEIGHT` as much in scoring; the context
        names nothing the answer must hold, and a date or name it gives may still be the answer
        ("When was it ratified? (... 1865)"): ``Question.text`` is the question's own."""
        own_terms = set(lexical_terms(question))
        text = understood.text if understood else question
        vector, predicate_vector = self.embedder.encode_question(text, name_word_spans(text))
        terms = list(dict.fromkeys(lexical_terms(text)))
        weights = {
            term: self.retriever.term_weight(term) * (1.0 if term in own_terms else CONTEXT_WEIGHT) for term in terms
        }
        words = name_words(question)
        raw_names = {term for word in words for term in lexical_terms(word)}
        names = names_terms(words)
        vocabulary = self.retriever.vocabulary
        rare = {term for term in terms if term in vocabulary and self.retriever.passage_share(term) <= RARE_SHARE}
        for term in names:
            weights.setdefault(term, self.retriever.term_weight(term))
        all_names = names
        names = {term for term in names if self.retriever.passage_share(term) <= TOPIC_NAME_SHARE}
        return Question(
            text=question,
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


def _probability_setting(name: str) -> float | None:
    """The number in [0, 1] that the environment variable ``name`` holds; None when unset or empty."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number in [0, 1], got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {raw!r}")
    return value


def check_question(question: str) -> str:
    """The question stripped and cut to :data:`MAX_QUESTION_CHARS`; ``ValueError`` when it is no
    string, empty, or holds no letter or digit."""
    if not isinstance(question, str):
        raise ValueError(f"question must be a string, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise ValueError("question must not be empty")
    if not any(character.isalnum() for character in text):
        # "???" or "!" would be searched by its vector alone and answered with whatever is nearest
        raise ValueError("question has no words: ask it with at least one letter or digit")
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
    question: str, *, top_k: int = 5, index_dir: str | Path = "index", min_confidence: float | None = None,
    history=None,
) -> Answer:
    """Answer ``question`` with spans copied from the indexed documents.

    Args:
        question: the question, in any wording; only its first 2,000 characters are read.
        top_k: passages to retrieve and return with the answer.
        index_dir: the index folder built by :func:`eucaqa.build_index`.
        min_confidence: the confidence (0..1) an answer needs to be given; None takes
            ``EUCAQA_MIN_CONFIDENCE`` or else the fitted model's threshold.
        history: the earlier turns of a conversation, oldest first, each a ``(question, answer)``
            pair whose answer is the :class:`Answer` returned then, its ``to_dict()``, its text,
            or None. A question that points back to them ("Who proposed it?") is completed with
            the last one; how it was understood is ``Answer.understood_as``. None or ``[]``: the
            question is read on its own.

    Raises:
        ValueError: the question is empty or has no letter or digit, ``top_k`` is below 1,
            ``min_confidence`` outside [0, 1] or ``history`` not a list of (question, answer) pairs.
        IndexNotFoundError: no index was built in ``index_dir``.
    """
    check_question(question)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    check_history(history)
    return get_engine(index_dir).answer(question, top_k=top_k, min_confidence=min_confidence, history=history)
