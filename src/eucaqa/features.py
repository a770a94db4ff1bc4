"""The signals the answer model weighs, defined once and by name.

- :data:`CANDIDATE_FEATURES`: the signals of one candidate span, computed by
  :func:`eucaqa.candidates.describe_candidates` and weighed by the *ranker*;
- :data:`ANSWER_FEATURES`: the signals of a whole answer, computed here by
  :func:`answer_features` from its best span and the other candidates, and
  weighed by the *confidence* model;
- :data:`PASSAGE_FEATURES`: the signals of a retrieved passage, computed here by
  :func:`passage_features`, and weighed by the *passage* model (how likely the
  passage holds the answer, shown beside each source).

Everything else reads a signal by its name (:meth:`Candidate.value`), never by
position; ``answer_model.json`` stores the names too, and loading it checks
them against these lists (:mod:`eucaqa.answer_model`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

#: The signals of a candidate span, in the order of the ranker's coefficients.
CANDIDATE_FEATURES = (
    "dense",            # cosine of the sentence to the question
    "dense_gap",        # that minus the best cosine among the candidates (<= 0)
    "dense_rank",       # 1 / (1 + its rank by cosine among the candidates)
    "dense_previous",   # cosine of the sentence right before the span
    "dense_next",       # cosine of the sentence right after
    "lexical",          # IDF-weighted share of the question's words in the sentence
    "lexical_gap",      # that minus the best share among the candidates (<= 0)
    "lexical_rank",     # 1 / (1 + its rank by that share among the candidates)
    "novelty",          # share of the sentence's words that the question does not use
    "specific_sentence",  # share of the question's specific terms in the sentence itself
    "lexical_window",   # the same share over the span and its neighbours
    "specific_window",  # share of the question's specific terms in the span and its neighbours
    "names_window",     # share of the question's names (capitalised words, acronyms, numbers) there,
                        # leaving out names so common in the corpus that they are its topic
    "all_names_window", # share of all the question's names there, its topic names too
    "predicate_window", # IDF-weighted share of the question's other words (what it asks about) there
    "name_swapped",     # one of the question's names is missing there and the sentence names
                        # something the question does not (another country, year, body...)
    "typed",            # the question asks for a date/amount/...; the sentence holds one it does not say
    "typed_missing",    # the question asks for a type; the span holds none
    "passage_rank",     # 1 / (1 + rank of the best passage holding it)
    "passage_dense",    # that passage's dense score: the cosine of its best sentence
    "first_in_passage", # the sentence opens its passage
    "fragment",         # fewer than 4 words, or mostly numbers (a table row)
    "extended",         # the span starts earlier because the sentence points back
    "length",           # characters of the span / 400, at most 1
    "names_in_document", # share of the question's names that the span's document mentions anywhere
)

#: The signals of a whole answer, in the order of the confidence model's coefficients.
ANSWER_FEATURES = (
    "ranker_logit",     # the ranker's log-odds for the best span
    "best_dense",       # the best cosine of any candidate sentence
    "names_unmentioned", # share of the question's names the best span's document never mentions
    "specific_window",  # share of its specific terms found together around the best span
    "names_window",     # share of its names found together around the best span
    "typed_missing",    # the question asks for a type the best span does not hold
    "lexical_window",   # share of its words found around the best span
    "all_names_window", # share of all its names, topic names too, found around the best span
    "predicate_window", # share of its other words found around the best span
    "name_swapped",     # a name of the question is missing around the best span, another stands there
    "dense_spread",     # the best cosine minus the mean cosine of the candidates described
    "predicate_dense",  # cosine of the best span's sentence to what the question asks about
                        # (the mean of its word pieces outside its names, from the same forward pass)
    "best_predicate_dense",  # the best such cosine of any candidate sentence
)

#: The signals of a retrieved passage, in the order of the passage model's coefficients.
PASSAGE_FEATURES = (
    "best_logit",       # the ranker's log-odds of the best candidate span in the passage
    "described",        # some sentence of the passage was described as a candidate
    "holds_best",       # the passage holds the answer's best span
    "answer_logit",     # the log-odds of the whole answer's confidence
    "passage_rank",     # 1 / (1 + the passage's rank)
    "passage_dense",    # the cosine of its best sentence to the question
)

#: The log-odds a passage none of whose sentences was described is given as its best.
UNDESCRIBED_LOGIT = -8.0

_CANDIDATE_POSITION = {name: n for n, name in enumerate(CANDIDATE_FEATURES)}


def feature_vector(values: Mapping[str, float], names: Iterable[str]) -> np.ndarray:
    """``values`` in the order of ``names``; a name missing from ``values``, or one too many, is a bug."""
    names = tuple(names)
    if len(values) != len(names) or any(name not in values for name in names):
        missing = sorted(set(names) - set(values))
        extra = sorted(set(values) - set(names))
        raise ValueError(f"feature values do not match the feature list: missing {missing}, unknown {extra}")
    return np.array([values[name] for name in names], dtype=np.float64)


@dataclass
class Candidate:
    """A sentence that may answer, and the verbatim span that would cite it."""

    row: int            # the sentence (row of the sentence table)
    first: int          # first sentence row of the cited span (== row unless it points back)
    last: int           # last sentence row of the cited span (== row unless joined with a later one)
    start: int          # the span's characters in its document: ``text[start:end]``
    end: int
    #: the values of :data:`CANDIDATE_FEATURES`, in that order (read them with :meth:`value`)
    features: np.ndarray
    #: cosine of the sentence to ``Question.predicate_vector`` (a signal of the answer, not of the span)
    predicate_dense: float = 0.0
    probability: float = 0.0

    @property
    def chars(self) -> int:
        """Characters of the cited span."""
        return self.end - self.start

    def value(self, name: str) -> float:
        """The candidate's value of the signal ``name`` of :data:`CANDIDATE_FEATURES`."""
        return float(self.features[_CANDIDATE_POSITION[name]])

    def with_value(self, name: str, value: float, **changes) -> Candidate:
        """A copy with the signal ``name`` set to ``value`` (and any other ``changes`` of its fields)."""
        features = self.features.copy()
        features[_CANDIDATE_POSITION[name]] = value
        return replace(self, features=features, **changes)


def answer_features(candidates: list[Candidate], best: Candidate) -> np.ndarray:
    """The signals of :data:`ANSWER_FEATURES` for an answer led by ``best`` among ``candidates``."""
    logit = log_odds(best.probability)
    dense = [c.value("dense") for c in candidates]
    values = {
        "ranker_logit": logit,
        "best_dense": max(dense),
        "names_unmentioned": 1.0 - best.value("names_in_document"),
        **{name: best.value(name) for name in (
            "specific_window", "names_window", "typed_missing", "lexical_window", "all_names_window",
            "name_swapped", "predicate_window")},
        "dense_spread": max(dense) - float(np.mean(dense)),
        "predicate_dense": best.predicate_dense,
        "best_predicate_dense": max(c.predicate_dense for c in candidates),
    }
    return feature_vector(values, ANSWER_FEATURES)


def log_odds(probability: float) -> float:
    """``log(p / (1 - p))``, each side at least 1e-6 (about +-13.8 at the ends)."""
    return float(np.log(max(probability, 1e-6) / max(1 - probability, 1e-6)))


def passage_features(rank: int, similarity: float, sentence_rows: range, candidates: list[Candidate],
                     best: Candidate | None, confidence: float) -> np.ndarray:
    """The signals of :data:`PASSAGE_FEATURES` for the passage at ``rank`` whose sentences are
    ``sentence_rows``, among ``candidates`` (their probabilities set), ``best`` leading the answer."""
    inside = [c for c in candidates if c.row in sentence_rows]
    values = {
        "best_logit": max((log_odds(c.probability) for c in inside), default=UNDESCRIBED_LOGIT),
        "described": float(bool(inside)),
        "holds_best": float(best is not None and best.row in sentence_rows),
        "answer_logit": log_odds(confidence),
        "passage_rank": 1.0 / (1 + rank),
        "passage_dense": similarity,
    }
    return feature_vector(values, PASSAGE_FEATURES)
