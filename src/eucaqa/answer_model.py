"""The two small logistic models of the extract stage, read from ``answer_model.json``.

- the *ranker* gives each candidate span the probability that it holds the
  answer (:data:`~eucaqa.features.CANDIDATE_FEATURES`);
- the *confidence* model gives the whole answer the probability that it holds
  the right information (:data:`~eucaqa.features.ANSWER_FEATURES`); the answer
  is given when that reaches the threshold, and between ``band_lower`` and the
  threshold the closest span is shown as one that may not answer exactly;
- the *passage* model gives each retrieved passage the probability that it
  holds the answer (:data:`~eucaqa.features.PASSAGE_FEATURES`).

Both are fitted by ``python eval/train.py`` (``make train``) on the fit halves
of the labelled sets under ``eval/``; the coefficients are plain JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import EucaqaError
from .features import ANSWER_FEATURES, CANDIDATE_FEATURES, PASSAGE_FEATURES

MODEL_FILE = Path(__file__).with_name("answer_model.json")


@dataclass(frozen=True)
class LogisticModel:
    """``p = 1 / (1 + exp(-(features · coefficients + intercept)))``."""

    features: tuple[str, ...]
    coefficients: np.ndarray
    intercept: float

    def logits(self, rows: np.ndarray) -> np.ndarray:
        return rows @ self.coefficients + self.intercept

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(rows)))

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "coefficients": [round(float(c), 6) for c in self.coefficients],
            "intercept": round(float(self.intercept), 6),
        }

    @classmethod
    def from_dict(cls, data: dict, expected: tuple[str, ...]) -> LogisticModel:
        features = tuple(data["features"])
        if features != expected:
            missing = [name for name in expected if name not in features]
            unknown = [name for name in features if name not in expected]
            detail = f"missing {missing}, unknown {unknown}" if missing or unknown else "in another order"
            raise EucaqaError(
                f"the answer model's features do not match the code's ({detail}); re-train it with: make train"
            )
        coefficients = np.asarray(data["coefficients"], dtype=np.float64)
        if coefficients.shape != (len(features),) or not all(math.isfinite(c) for c in coefficients):
            raise EucaqaError("answer model coefficients are damaged; re-train it")
        return cls(features, coefficients, float(data["intercept"]))


@dataclass(frozen=True)
class AnswerModel:
    ranker: LogisticModel
    confidence: LogisticModel
    #: an answer is given when its confidence reaches this (``Answer.found``)
    threshold: float
    #: a further span joins the answer when its probability is at least this share of the best one's
    follow_up_share: float
    #: the most confidence an answer may have when none of its spans holds the kind of thing the
    #: question asks for (a date, amount, share, person, place): (right + 1) / (such answers + 2) in the fit
    untyped_confidence: float = 1.0
    #: the probability that a retrieved passage holds the answer (None while fitting)
    passage: LogisticModel | None = None
    #: from this confidence up to the threshold, the closest span is shown as one that may not
    #: answer exactly what was asked (None: no such band)
    band_lower: float | None = None


@lru_cache(maxsize=4)
def load_answer_model(path: str | Path = MODEL_FILE) -> AnswerModel:
    """The fitted models; raises EucaqaError when the file is missing or does not fit the code."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return AnswerModel(
            ranker=LogisticModel.from_dict(data["ranker"], CANDIDATE_FEATURES),
            confidence=LogisticModel.from_dict(data["confidence"], ANSWER_FEATURES),
            threshold=float(data["threshold"]),
            follow_up_share=float(data["follow_up_share"]),
            untyped_confidence=float(data["untyped_confidence"]),
            passage=LogisticModel.from_dict(data["passage"], PASSAGE_FEATURES),
            band_lower=float(data["band_lower"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EucaqaError(f"cannot read the answer model {path}: {error}; re-train it with: make train") from error
