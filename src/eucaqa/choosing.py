"""Stage 6, second half — choose: rank the candidate spans, choose the ones to cite, and give
the answer its confidence, with the fitted models of :mod:`eucaqa.answer_model`.

:func:`decide` is what :class:`eucaqa.answering.Engine` calls once the candidates of a question
are described; ``eval/train.py`` fits the models on what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .answer_model import AnswerModel
from .candidates import MAX_ANSWER_CHARS
from .evidence import Question
from .features import Candidate, answer_features
from .retrieval import Passage

#: Spans an answer cites at most.
MAX_SENTENCES = 5


@dataclass
class Evidence:
    """Everything the extract stage weighed for one question (what ``eval/train.py`` fits on)."""

    question: Question
    passages: list[Passage]
    candidates: list[Candidate]
    #: a follow-up completed from the conversation: how it was understood (None: read on its own)
    understood_as: str | None = None


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
