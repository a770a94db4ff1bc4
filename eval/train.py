"""Fit the answer model (``src/eucaqa/answer_model.json``) on the fit halves of the labelled sets.

    make train            # or: .venv/bin/python eval/train.py

Steps, all deterministic (no sampling; L-BFGS on fixed data):

1. build (or bring up to date) an index per corpus under ``eval/work/``: the
   shipped ``documents/``, ``tests/data/pdf/us_constitution.pdf`` alone, the
   Federal Register PDF alone, and the encyclopedia articles of ``../shared/data/``;
2. ask every fit question (below) of
   its index and keep every candidate span with its signals;
3. the *ranker*: logistic regression, one row per candidate span of an
   answerable question, label "the span holds an accepted answer"; the weight
   of each share of the question found around the span may not be negative,
   nor that of a name swapped or a type missing positive (``RANKER_SIGNS``);
4. the share of the best span's probability a further span needs to join the
   answer: the value of a small grid with the best answer_hit on the fit data;
5. the *confidence* model: logistic regression, one row per question, label
   "the answer the ranker builds holds an accepted answer" (0 for every
   question the documents cannot answer); and the cap on the confidence of an
   answer none of whose spans holds the kind of thing the question asks for
   (date, amount, share, person, place): (right + 1) / (such answers + 2);
6. the threshold of ``Answer.found``: the grid value with the best balanced
   accuracy (answerable answered right, unanswerable abstained) on the fit
   data, each question's confidence taken from a confidence model fitted
   without it (5 folds): the median of the values chosen on 10 seeded splits
   into folds; and the lower end of the "may not answer exactly" band below it:
   the lowest grid value from which the held-out answers up to the threshold
   are still right one time in five (``BAND_RIGHT_SHARE``);
7. the *passage* model: logistic regression, one row per returned passage,
   label "the passage holds an accepted answer", so that Sources can say how
   likely each passage holds the answer.

The fit questions are those of ``eval/splits/fit/``, the dev set and the
encyclopedia's fit part (``make_encyclopedia.py``: a sample of its fit
articles' questions, about as many as the largest other domain's). The held-out halves (``eval/splits/heldout/``) are never read here; report on them with
``python eval/report.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from common import (
    CORPUS_OF,
    FIT,
    FOLLOW_UP_GRID,
    RANKER_C,
    RANKER_SIGNS,
    WORK,
    answer_hit,
    corpus_indexes,
    fit_confidence,
    fit_logistic,
    fit_passage_model,
    gather,
    labelled_files,
    neutral_model,
    span_text,
)

from eucaqa.answer_model import MODEL_FILE, AnswerModel, load_answer_model
from eucaqa.answering import Engine
from eucaqa.choosing import decide
from eucaqa.evaluation import contains_any, read_questions
from eucaqa.features import CANDIDATE_FEATURES
from eucaqa.index import load_index


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Fit the answer model on eval/splits/fit/.")
    parser.add_argument("--work", type=Path, default=WORK, help="folder for the two indexes (default: eval/work)")
    parser.add_argument("--output", type=Path, default=MODEL_FILE, help="where to write the model JSON")
    args = parser.parse_args(argv)
    indexes = corpus_indexes(args.work)
    engines = {name: Engine(load_index(folder), model=neutral_model()) for name, folder in indexes.items()}
    examples = gather(labelled_files(FIT), engines)
    engine_of = {id(e): engines[CORPUS_OF[e.file]] for e in examples}

    # 3. the ranker
    rows, labels = [], []
    for example in examples:
        accepted = example.item.get("answers") or []
        if not accepted:
            continue
        engine = engine_of[id(example)]
        for candidate in example.evidence.candidates:
            rows.append(candidate.features)
            labels.append(contains_any(span_text(engine, candidate), accepted))
    ranker = fit_logistic(np.vstack(rows), np.array(labels, dtype=int), CANDIDATE_FEATURES, RANKER_C, signs=RANKER_SIGNS)
    print(f"ranker: {len(rows)} candidate spans, {sum(labels)} holding an answer")

    # 4. follow-up share, 5. confidence model
    placeholder = neutral_model().confidence
    answerable = [e for e in examples if e.item.get("answers")]

    def hits_with(share: float) -> int:
        model = AnswerModel(ranker, placeholder, 0.5, share)
        return sum(answer_hit(e, engine_of[id(e)], decide(e.evidence, model)[0]) for e in answerable)

    scores = {share: hits_with(share) for share in FOLLOW_UP_GRID}
    follow_up = max(FOLLOW_UP_GRID, key=lambda share: (scores[share], -share))
    print("answer_hit by follow-up share:", {k: round(v / len(answerable), 3) for k, v in scores.items()}, "->", follow_up)

    confidence, cap, threshold, band_lower = fit_confidence(
        examples, lambda e: engine_of[id(e)], AnswerModel(ranker, placeholder, 0.5, follow_up))

    # 7. the passage model
    passage = fit_passage_model(examples, lambda e: engine_of[id(e)],
                                AnswerModel(ranker, confidence, threshold, follow_up, cap))

    data = {
        "about": "Fitted by eval/train.py on eval/splits/fit/*.jsonl and eval/sets/dev.jsonl; do not edit by hand.",
        "ranker": ranker.to_dict(),
        "confidence": confidence.to_dict(),
        "threshold": float(threshold),
        "follow_up_share": follow_up,
        "untyped_confidence": cap,
        "band_lower": band_lower,
        "passage": passage.to_dict(),
        "fitted_on": {name: len(read_questions(path)) for name, path in labelled_files(FIT).items()},
    }
    args.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    load_answer_model.cache_clear()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
