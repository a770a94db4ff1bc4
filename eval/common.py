"""Shared code of the evaluation scripts: where the labelled files and the corpora are, the
corpora's indexes, gathering the evidence of each question, and fitting the answer model.

The scripts of ``eval/`` (``train.py``, ``report.py``, ``cross_validate.py``,
``external.py``, ``make_splits.py``) and of ``eval/studies/`` import this module and never
each other. How the answer model is fitted, step by step, is said in ``train.py``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from eucaqa.answer_model import AnswerModel, LogisticModel
from eucaqa.answering import Engine, Evidence, decide, untyped
from eucaqa.evaluation import EvalReport, contains_any, read_questions
from eucaqa.features import ANSWER_FEATURES, CANDIDATE_FEATURES, Candidate, answer_features
from eucaqa.index import build_index

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
#: hand-written question files (and their README)
SETS = EVAL / "sets"
#: generated fit / held-out halves (``make_splits.py``)
FIT = EVAL / "splits" / "fit"
HELDOUT = EVAL / "splits" / "heldout"
#: questions never fitted on nor used to choose anything
SEALED = EVAL / "sealed"
#: indexes and other files the scripts make (git-ignored)
WORK = EVAL / "work"
DEV = SETS / "dev.jsonl"
#: the PDF each corpus but the shipped documents is made of
CORPUS_PDFS = {
    "constitution": ROOT / "tests" / "data" / "pdf" / "us_constitution.pdf",
    "federal_register": ROOT / "tests" / "data" / "pdf" / "federal-register-2020-17221.pdf",
}
#: which corpus each labelled file is asked of
CORPUS_OF = {
    "dev": "eu",
    "inscope": "eu",
    "near_topic": "eu",
    "unindexed_eu": "eu",
    "constitution": "constitution",
    "unindexed_constitution": "constitution",
    "federal_register": "federal_register",
    "unindexed_federal_register": "federal_register",
}
#: L2 strength of both logistic models (scikit-learn's C: smaller is stronger)
RANKER_C = 1.0
CONFIDENCE_C = 1.0
FOLLOW_UP_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
#: The direction some ranker weights must point (+1: at least 0, -1: at most 0). More of the
#: question found around a span may not lower its rank: fitted freely, the weights of
#: ``names_window`` (+0.51) and ``all_names_window`` (-0.99) made a span holding the question's
#: names rank lower than one without them in any corpus with no topic names (where the two
#: signals are equal), such as a book or a folder of articles on many subjects.
RANKER_SIGNS = {
    **dict.fromkeys(("lexical", "specific_sentence", "lexical_window", "specific_window",
                     "names_window", "all_names_window", "predicate_window", "names_in_document"), 1),
    **dict.fromkeys(("name_swapped", "typed_missing"), -1),
}
THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.2, 0.81, 0.05))
#: Seeded 5-fold splits whose held-out confidences the threshold is chosen on, the median of their
#: choices taken: on one split, neighbouring grid values differ by less than the split's noise
#: (over 10 splits of the same fit data, one split alone chose anything from 0.25 to 0.45).
THRESHOLD_SPLITS = 10


@dataclass
class Example:
    file: str
    item: dict
    evidence: Evidence


def corpus_indexes(work: Path = WORK) -> dict[str, Path]:
    """The index folder of each corpus under ``work``, built or brought up to date."""
    folders = {"eu": (ROOT / "documents", work / "index-eu")}
    for name, pdf in CORPUS_PDFS.items():
        documents = work / f"documents-{name.replace('_', '-')}"
        documents.mkdir(parents=True, exist_ok=True)
        if not (documents / pdf.name).exists():
            shutil.copyfile(pdf, documents / pdf.name)
        folders[name] = (documents, work / f"index-{name.replace('_', '-')}")
    for documents, index in folders.values():
        build_index(documents, index)
    return {name: index for name, (_, index) in folders.items()}


def labelled_files(folder: Path) -> dict[str, Path]:
    files = {path.stem: path for path in sorted(folder.glob("*.jsonl"))}
    if folder == FIT:
        files["dev"] = DEV
    return files


def gather(files: dict[str, Path], engines: dict[str, Engine]) -> list[Example]:
    examples = []
    for name, path in files.items():
        engine = engines[CORPUS_OF[name]]
        for item in read_questions(path):
            examples.append(Example(name, item, engine.gather(item["question"])))
    return examples


def span_text(engine: Engine, candidate: Candidate) -> str:
    """The text ``candidate`` would cite (uncut)."""
    return engine.index.texts[int(engine.index.sentences[candidate.first, 0])][candidate.start : candidate.end]


def fit_logistic(
    rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...], c: float, drop: frozenset[str] = frozenset(),
    signs: dict[str, int] | None = None,
) -> LogisticModel:
    """A logistic model over ``features``; those in ``drop`` are left out (they weigh 0).

    Without ``signs``: scikit-learn's ``LogisticRegression`` (L2, strength ``c``). With them,
    the same penalised log loss minimised by scipy's L-BFGS-B with each weight named in
    ``signs`` bounded to its direction."""
    keep = [n for n, name in enumerate(features) if name not in drop]
    coefficients = np.zeros(len(features), dtype=np.float64)
    if signs is None:
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(rows[:, keep], labels)
        coefficients[keep] = model.coef_[0]
        return LogisticModel(features, coefficients, float(model.intercept_[0]))
    x = np.hstack([rows[:, keep], np.ones((len(rows), 1))])  # the last column: the intercept
    y = labels.astype(np.float64)

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ weights
        gradient = c * (x.T @ (1.0 / (1.0 + np.exp(-z)) - y))
        gradient[:-1] += weights[:-1]
        return c * float(np.sum(np.logaddexp(0.0, z) - y * z)) + 0.5 * float(weights[:-1] @ weights[:-1]), gradient

    direction = {1: (0.0, None), -1: (None, 0.0), 0: (None, None)}
    bounds = [direction[signs.get(features[n], 0)] for n in keep] + [(None, None)]
    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 5000, "gtol": 1e-8})
    coefficients[keep] = result.x[:-1]
    return LogisticModel(features, coefficients, float(result.x[-1]))


def held_out_probabilities(
    rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...], c: float, drop: frozenset[str] = frozenset(),
    folds: int = 5, seed: int = 0,
) -> np.ndarray:
    """Each row's probability from a model fitted without it (``folds``-fold, split by ``seed``): what
    the threshold is chosen on, since a model's probabilities on its own fitting data are too sure."""
    fold_of = np.random.default_rng(seed).permutation(len(rows)) % folds
    probabilities = np.empty(len(rows))
    for fold in range(folds):
        test = fold_of == fold
        model = fit_logistic(rows[~test], labels[~test], features, c, drop)
        probabilities[test] = model.probabilities(rows[test])
    return probabilities


def choose_threshold(runs: list[np.ndarray], hit: np.ndarray) -> float:
    """The grid value with the best balanced accuracy (answers right answered, the rest abstained
    on) on each of ``runs`` (the held-out probabilities of several seeded splits), and of those
    choices the median (the lower middle one of an even number). The balanced accuracy is flat near
    its top, so the argmax of its mean over the splits moves with changes that leave the confidence
    as good; the splits' middle choice is steadier (docs/quality.md, "The threshold")."""

    def balanced(threshold: float, probabilities: np.ndarray) -> float:
        answered = probabilities >= threshold
        good_answers = (answered & hit).sum() / max(hit.sum(), 1)
        good_abstentions = (~answered & ~hit).sum() / max((~hit).sum(), 1)
        return float((good_answers + good_abstentions) / 2)

    picks = sorted(max(THRESHOLD_GRID, key=lambda t: (round(balanced(t, p), 4), -abs(t - 0.5))) for p in runs)
    threshold = float(picks[(len(picks) - 1) // 2])
    mean = {float(t): round(float(np.mean([balanced(t, p) for p in runs])), 3) for t in THRESHOLD_GRID}
    print("balanced accuracy by threshold (mean of the splits):", mean, "; each split's choice:",
          [float(t) for t in picks], "->", threshold)
    return threshold


def fit_confidence(examples: list[Example], engine_of, model: AnswerModel,
                   drop: frozenset[str] = frozenset()) -> tuple[LogisticModel, float, float]:
    """Steps 5 and 6 on the answers ``model``'s ranker builds for ``examples``: the confidence
    model, the cap on an answer lacking the type asked for, and the threshold."""
    rows, labels, untyped_answers = [], [], []
    for example in examples:
        chosen, _ = decide(example.evidence, model)
        if not chosen:
            continue
        rows.append(answer_features(example.evidence.candidates, chosen[0]))
        labels.append(answer_hit(example, engine_of(example), chosen))
        untyped_answers.append(untyped(example.evidence, chosen))
    rows, labels, untyped_answers = np.vstack(rows), np.array(labels, dtype=int), np.array(untyped_answers)
    confidence = fit_logistic(rows, labels, ANSWER_FEATURES, CONFIDENCE_C, drop)
    # the cap: the share of such answers right, smoothed
    cap = round(float((labels[untyped_answers].sum() + 1) / (untyped_answers.sum() + 2)), 4)
    print(f"confidence: {len(rows)} questions, {labels.sum()} answered right; "
          f"{untyped_answers.sum()} answers lack the type asked for, {labels[untyped_answers].sum()} right: cap {cap}")
    runs = [held_out_probabilities(rows, labels, ANSWER_FEATURES, CONFIDENCE_C, drop, seed=seed) for seed in range(THRESHOLD_SPLITS)]
    threshold = choose_threshold([np.where(untyped_answers, np.minimum(p, cap), p) for p in runs], labels.astype(bool))
    return confidence, cap, threshold


def auroc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a positive's score is above a negative's (ties count half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([1] * len(positives) + [0] * len(negatives), positives + negatives))


def answer_hit(example: Example, engine: Engine, chosen) -> bool:
    accepted = example.item.get("answers") or []
    return bool(accepted) and contains_any(" ".join(span_text(engine, c) for c in chosen), accepted)


def neutral_model() -> AnswerModel:
    """A stand-in while fitting: every coefficient 0."""
    return AnswerModel(
        ranker=LogisticModel(CANDIDATE_FEATURES, np.zeros(len(CANDIDATE_FEATURES)), 0.0),
        confidence=LogisticModel(ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), 0.0),
        threshold=0.5,
        follow_up_share=1.0,
    )


#: the first two lines of the Markdown table of ``report.py`` and ``external.py``
TABLE_HEADER = ("| set | questions | answer_hit | answered | abstained | would-hit | baseline | ECE |\n"
                "|---|---|---|---|---|---|---|---|")


def table_row(label: str, report: EvalReport) -> str:
    """One line of the table: ``report``'s figures, "–" where a set has none of its kind."""
    in_scope = [row for row in report.rows if row.in_scope]
    would = f"{sum(r.would_hit for r in in_scope) / len(in_scope):.3f}" if in_scope else "–"
    answer_hit = f"{report.answer_hit:.3f}" if in_scope else "–"
    answered = f"{report.answered_in_scope}/{report.in_scope}" if report.in_scope else "–"
    abstained = f"{report.abstained_out_of_scope}/{report.out_of_scope}" if report.out_of_scope else "–"
    baseline = f"{report.baseline_hit:.3f}" if in_scope else "–"
    return f"| {label} | {report.questions} | {answer_hit} | {answered} | {abstained} | {would} | {baseline} | {report.ece:.3f} |"
