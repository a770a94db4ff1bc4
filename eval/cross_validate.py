"""Cross-validate the answer model over every labelled question, fit and held-out halves pooled.

    .venv/bin/python eval/cross_validate.py [--drop FEATURE ...]

The held-out halves are small (24 to 47 questions a set), so one question moves
a figure by 2 to 4 points. To compare two versions of a signal or of retrieval,
this script fits the models as ``eval/train.py`` does (ranker, confidence,
threshold by balanced accuracy on held-out confidences; follow-up share 0) on four fifths of all the
labelled questions and scores the fifth it did not see, for 5 folds and 3
seeded shuffles, and prints the mean per set: answer_hit for answerable
questions, the share abstained on for the others. ``--drop`` leaves signals
out of both models (an ablation). It writes nothing.

Those figures move with the threshold each fold chooses, and a change of a
signal often only moves the threshold: more answers and fewer abstentions, or
the reverse. So it also prints, per corpus, how well the out-of-fold
confidence itself tells answers apart, whatever the threshold: the AUROC of
"answered right" (the cited spans hold an accepted answer) against questions
the documents cannot answer, and against the other questions that are not
answered right (wrong answers too).

``--against SIGNAL ...`` weighs a change of signals against noise: on the same folds, the models
are fitted with those signals and without them, and for each corpus and seed it prints the change
of the AUROC (right against unanswerable) and its 95% interval over 1,000 paired bootstrap
resamples of the questions (seeded), with the share of resamples where the change is <= 0.

``--by-corpus`` asks instead how the models hold on a kind of document they
were not fitted on: for each corpus (the shipped EU documents, the
constitution, the Federal Register), fit on every question of the other two
and score every question of that one. ``--leave-out CORPUS`` also keeps one
corpus out of every fit, to see what a further kind of document adds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
from typing import NamedTuple

import numpy as np

from common import (
    CORPUS_OF,
    FIT,
    HELDOUT,
    RANKER_C,
    RANKER_SIGNS,
    answer_hit,
    auroc,
    corpus_indexes,
    fit_confidence,
    fit_logistic,
    gather,
    labelled_files,
    neutral_model,
    span_text,
)

from eucaqa.answer_model import AnswerModel
from eucaqa.answering import Engine
from eucaqa.choosing import decide
from eucaqa.evaluation import contains_any
from eucaqa.features import ANSWER_FEATURES, CANDIDATE_FEATURES
from eucaqa.index import load_index

FOLDS = 5
SEEDS = tuple(int(s) for s in os.environ.get("CV_SEEDS", "1,2,3").split(","))


class Outcome(NamedTuple):
    """How one held-out question fared."""

    name: str          # its set, "(unanswerable)" added for the unanswerable ones of a mixed set
    file: str          # its labelled file (``CORPUS_OF`` tells its corpus)
    answerable: bool
    right: bool        # answered right, or (unanswerable) abstained on
    hit: bool          # the spans the engine would cite hold an accepted answer
    confidence: float


def one_fold(train: list, test: list, engine_of, labels_of, drop: frozenset[str]) -> list[Outcome]:
    """How each question of ``test`` fares with models fitted on ``train``."""
    rows = np.vstack([c.features for e in train if id(e) in labels_of for c in e.evidence.candidates])
    labels = np.concatenate([labels_of[id(e)] for e in train if id(e) in labels_of])
    ranker = fit_logistic(rows, labels, CANDIDATE_FEATURES, RANKER_C, drop, RANKER_SIGNS)
    with contextlib.redirect_stdout(io.StringIO()):  # fit_confidence prints its fit; not wanted per fold
        confidence, cap, threshold, _ = fit_confidence(train, engine_of, AnswerModel(ranker, neutral_model().confidence, 0.5, 0.0), drop)
    model = AnswerModel(ranker, confidence, threshold, 0.0, cap)
    results = []
    for example in test:
        chosen, value = decide(example.evidence, model)
        found = bool(chosen) and value >= threshold
        answerable = bool(example.item.get("answers"))
        hit = answerable and bool(chosen) and answer_hit(example, engine_of(example), chosen)
        right = found and hit if answerable else not found
        name = example.file + ("" if answerable or example.file.startswith(("near", "unindexed")) else " (unanswerable)")
        results.append(Outcome(name, example.file, answerable, right, hit, value))
    return results


def separation(results: list[Outcome]) -> dict[str, float]:
    """Per corpus, the AUROC of the confidence: answers right against questions the corpus cannot
    answer (not those about other documents, which are easy), and against all not answered right."""
    figures = {}
    for corpus in sorted(set(CORPUS_OF.values())):
        rows = [r for r in results if CORPUS_OF[r.file] == corpus and not r.file.startswith("unindexed")]
        right = [r.confidence for r in rows if r.hit]
        not_right = [r.confidence for r in rows if not r.hit]
        for label, value in (("right vs unanswerable", auroc_right_vs_unanswerable(rows)),
                             ("right vs not right", auroc(right, not_right) if right and not_right else None)):
            if value is not None:
                figures[f"{corpus}: AUROC {label}"] = value
    return figures


def auroc_right_vs_unanswerable(outcomes: list[Outcome]) -> float | None:
    """The AUROC of the confidence, answers right against questions the corpus cannot answer."""
    right = [o.confidence for o in outcomes if o.hit]
    unanswerable = [o.confidence for o in outcomes if not o.answerable]
    return auroc(right, unanswerable) if right and unanswerable else None


def bootstrap_change(without: list[Outcome], with_: list[Outcome], resamples: int = 1000,
                     seed: int = 0) -> tuple[float, float, float, float]:
    """The AUROC change from ``without`` to ``with_`` (the same questions, in the same order), its
    95% interval over paired bootstrap resamples of the questions, and the share of them <= 0."""
    rng = np.random.default_rng(seed)
    changes = []
    for _ in range(resamples):
        pick = rng.integers(0, len(without), len(without))
        before = auroc_right_vs_unanswerable([without[i] for i in pick])
        after = auroc_right_vs_unanswerable([with_[i] for i in pick])
        if before is not None and after is not None:
            changes.append(after - before)
    low, high = np.percentile(changes, [2.5, 97.5])
    change = auroc_right_vs_unanswerable(with_) - auroc_right_vs_unanswerable(without)
    return change, float(low), float(high), float(np.mean(np.array(changes) <= 0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Cross-validate the answer model on all labelled questions.")
    parser.add_argument("--drop", nargs="*", default=[], help="signals to leave out of both models")
    parser.add_argument("--against", nargs="+", metavar="SIGNAL",
                        help="compare the models with and without these signals, with bootstrap intervals")
    parser.add_argument("--by-corpus", action="store_true", help="fit on two corpora, score the third")
    parser.add_argument("--leave-out", choices=sorted(set(CORPUS_OF.values())),
                        help="with --by-corpus: fit on one corpus only, never on this one")
    args = parser.parse_args(argv)
    unknown = (set(args.drop) | set(args.against or ())) - set(CANDIDATE_FEATURES) - set(ANSWER_FEATURES)
    if unknown:
        parser.error(f"unknown signals: {', '.join(sorted(unknown))}")
    indexes = corpus_indexes()
    engines = {name: Engine(load_index(folder), model=neutral_model()) for name, folder in indexes.items()}
    # the encyclopedia's held-out part stays unseen: only its fit part is pooled
    files = [labelled_files(FIT), {k: v for k, v in labelled_files(HELDOUT).items() if not k.endswith("encyclopedia")}]
    examples = [example for group in files for name, path in group.items() for example in gather({name: path}, engines)]

    def engine_of(example):
        return engines[CORPUS_OF[example.file]]

    labels_of = {
        id(e): np.array([contains_any(span_text(engine_of(e), c), e.item["answers"]) for c in e.evidence.candidates], dtype=int)
        for e in examples if e.item.get("answers")
    }
    scores: dict[str, list[float]] = {}
    if args.by_corpus:
        results = []
        for corpus in sorted(set(CORPUS_OF.values())):
            train = [e for e in examples if CORPUS_OF[e.file] not in (corpus, args.leave_out)]
            test = [e for e in examples if CORPUS_OF[e.file] == corpus]
            results += one_fold(train, test, engine_of, labels_of, frozenset(args.drop))
        for name in sorted({r.name for r in results}):
            rights = [r.right for r in results if r.name == name]
            scores[name] = [sum(rights) / len(rights)]
        scores.update({name: [value] for name, value in separation(results).items()})
        never = f", never on {args.leave_out}" if args.leave_out else ""
        dropped = ", ".join(args.drop) or "nothing"
        print(f"{len(examples)} questions, each corpus scored by models fitted on the others{never}; dropped: {dropped}")
        print(json.dumps({name: round(float(np.mean(values)), 3) for name, values in scores.items()}, indent=1))
        return

    def cross_validated(seed: int, drop: frozenset[str]) -> list[Outcome]:
        """Each question's outcome with models fitted on the four folds without it (in ``examples``' order)."""
        order = np.random.default_rng(seed).permutation(len(examples))
        fold_of = np.empty(len(examples), dtype=int)
        fold_of[order] = np.arange(len(examples)) % FOLDS
        outcome = {}
        for fold in range(FOLDS):
            train = [e for e, f in zip(examples, fold_of) if f != fold]
            test = [e for e, f in zip(examples, fold_of) if f == fold]
            for example, result in zip(test, one_fold(train, test, engine_of, labels_of, drop)):
                outcome[id(example)] = result
        return [outcome[id(e)] for e in examples]

    if args.against:
        print(f"{len(examples)} questions, {FOLDS} folds; AUROC (right vs unanswerable) with {', '.join(args.against)} "
              "minus without; 95% interval and share <= 0 over 1,000 paired bootstrap resamples")
        for seed in SEEDS:
            without = cross_validated(seed, frozenset(args.drop) | frozenset(args.against))
            with_ = cross_validated(seed, frozenset(args.drop))
            for corpus in sorted(set(CORPUS_OF.values())):
                keep = [n for n, e in enumerate(examples) if CORPUS_OF[e.file] == corpus and not e.file.startswith("unindexed")]
                change, low, high, share = bootstrap_change([without[n] for n in keep], [with_[n] for n in keep])
                print(f"seed {seed} {corpus}: {change:+.4f} [{low:+.4f}, {high:+.4f}], <= 0 in {share:.3f}")
        return
    for seed in SEEDS:
        results = cross_validated(seed, frozenset(args.drop))
        for name in sorted({r.name for r in results}):
            rights = [r.right for r in results if r.name == name]
            scores.setdefault(name, []).append(sum(rights) / len(rights))
            hits = [r.hit for r in results if r.name == name and r.answerable]
            if hits:  # the spans cited at any threshold: how well the sentence is chosen
                scores.setdefault(f"{name}: would-hit", []).append(sum(hits) / len(hits))
        for name, value in separation(results).items():
            scores.setdefault(name, []).append(value)
    print(f"{len(examples)} questions, {FOLDS} folds x {len(SEEDS)} seeds; dropped: {', '.join(args.drop) or 'nothing'}")
    print(json.dumps({name: round(float(np.mean(values)), 3) for name, values in scores.items()}, indent=1))


if __name__ == "__main__":
    main()
