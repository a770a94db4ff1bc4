"""How far the confidence can go with what the model gives within the speed budget.

    .venv/bin/python eval/studies/ceiling.py

The confidence tells answers right from questions the documents cannot answer with an AUROC of
about 0.89 (EU), 0.93 (constitution) and 0.91 (Federal Register), cross-validated. This script
measures whether more could be had from the same model, and what reading the question and the
passage together would cost:

1. **More of the model's own reading**, for the best span's sentence, from one forward pass of the
   question and one of the sentence: the cosine of their word pieces outside their names (what they
   say about the things named), of their names' word pieces, and late interaction (each word piece
   of the question matched with its most similar word piece of the sentence, as ColBERT does; over
   all of them, and over the names' alone, mean and least). Such vectors could be kept in the index,
   so they would cost no forward pass per question.
2. **A more flexible model** over the signals the engine has: every pairwise product added to the
   logistic model, and gradient-boosted trees.
3. **The operating point the issue asks for**: with 95% of the answerable questions answered, how
   many unanswerable ones are abstained on.
4. **What reading together would cost**: one forward pass over the question and a sentence together
   (what a cross-encoder or a reader does), against the bare encode of the question that
   ``make bench`` holds warm ``answer()`` to (at most 1.5 times).

Every question of ``eval/splits/fit/``, ``eval/splits/heldout/`` and the dev set is asked of its corpus's index
with the committed model; the confidence model is re-fitted in 5 folds (seeds 1 to 6) with and
without each signal. The ranker is the committed one (fitted on the fit halves), so the spans of
the fit halves are chosen in-sample; every comparison shares that.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

# the shared evaluation code, eval/common.py, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import CORPUS_OF, FIT, HELDOUT, auroc, corpus_indexes, labelled_files, span_text  # noqa: E402

from eucaqa.answering import Engine  # noqa: E402
from eucaqa.choosing import decide  # noqa: E402
from eucaqa.evaluation import contains_any, read_questions  # noqa: E402
from eucaqa.features import answer_features  # noqa: E402
from eucaqa.index import load_index  # noqa: E402
from eucaqa.names import name_word_spans  # noqa: E402

SEEDS = (1, 2, 3, 4, 5, 6)
FOLDS = 5
CORPORA = ("eu", "constitution", "federal_register")


def word_pieces(model, text: str) -> tuple[np.ndarray, list[bool]]:
    """The unit-length vectors of a text's word pieces from one forward pass, and whether each
    lies inside one of the words that name something (:func:`name_word_spans`)."""
    import torch

    features = model.tokenizer([text], truncation=True, max_length=model.max_seq_length, return_tensors="pt",
                               return_offsets_mapping=True)
    offsets = features.pop("offset_mapping")[0].tolist()
    with torch.inference_mode():
        tokens = model.forward(dict(features))["token_embeddings"][0].numpy()
    keep = [n for n, (start, end) in enumerate(offsets) if end > start]  # not [CLS], [SEP]
    spans = name_word_spans(text)
    named = [any(offsets[n][0] >= a and offsets[n][1] <= b for a, b in spans) for n in keep]
    vectors = tokens[keep]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), named


def unit_mean(vectors: np.ndarray) -> np.ndarray | None:
    if not len(vectors):
        return None
    mean = vectors.mean(axis=0)
    return mean / np.linalg.norm(mean)


def reading_signals(model, question: str, sentence: str) -> dict[str, float]:
    """The signals of step 1 for a question and the best span's sentence."""
    q, q_named = word_pieces(model, question)
    s, s_named = word_pieces(model, sentence)
    q_named, s_named = np.array(q_named), np.array(s_named)
    signals = {}
    for label, q_part, s_part in (("other words", ~q_named, ~s_named), ("names", q_named, s_named)):
        a, b = unit_mean(q[q_part]), unit_mean(s[s_part])
        signals[f"cosine of their {label}"] = float(a @ b) if a is not None and b is not None else 0.0
    best = (q @ s.T).max(axis=1)  # each question word piece's most similar sentence word piece
    signals["late interaction, all word pieces"] = float(best.mean())
    signals["late interaction, names (mean)"] = float(best[q_named].mean()) if q_named.any() else 1.0
    signals["late interaction, names (least)"] = float(best[q_named].min()) if q_named.any() else 1.0
    return signals


def out_of_fold(x: np.ndarray, y: np.ndarray, seed: int, make) -> np.ndarray:
    """Each row's probability from a model fitted on the other folds (features standardised)."""
    fold = np.random.default_rng(seed).permutation(len(x)) % FOLDS
    probabilities = np.empty(len(x))
    for k in range(FOLDS):
        train = fold != k
        mean, spread = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
        model = make().fit((x[train] - mean) / spread, y[train])
        probabilities[~train] = model.predict_proba((x[~train] - mean) / spread)[:, 1]
    return probabilities


def scored(rows: list[dict], corpus: str) -> list[int]:
    """The rows of ``corpus``'s own questions (not those asked of it about other documents)."""
    return [n for n, row in enumerate(rows) if row["corpus"] == corpus and not row["file"].startswith("unindexed")]


def auroc_by_corpus(rows: list[dict], probabilities: np.ndarray) -> dict[str, float]:
    """Per corpus, the AUROC of ``probabilities``: answers right against questions it cannot answer."""
    figures = {}
    for corpus in CORPORA:
        own = scored(rows, corpus)
        figures[corpus] = auroc([probabilities[n] for n in own if rows[n]["hit"]],
                                [probabilities[n] for n in own if not rows[n]["answerable"]])
    return figures


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    indexes = corpus_indexes()
    engines = {name: Engine(load_index(folder)) for name, folder in indexes.items()}
    model = engines["eu"].embedder.model
    files = {**labelled_files(FIT), **{f"heldout/{k}": v for k, v in labelled_files(HELDOUT).items()}}
    rows = []
    for name, path in files.items():
        file = name.removeprefix("heldout/")
        engine = engines[CORPUS_OF[file]]
        for item in read_questions(path):
            evidence = engine.gather(item["question"])
            chosen, _ = decide(evidence, engine.model)
            best = chosen[0]
            cited = " ".join(span_text(engine, c) for c in chosen)
            answers = item.get("answers") or []
            rows.append({
                "corpus": CORPUS_OF[file], "file": file,
                "answerable": bool(answers), "hit": bool(answers) and contains_any(cited, answers),
                "features": answer_features(evidence.candidates, best),
                **reading_signals(model, evidence.question.text, engine.index.sentence_text(best.row)),
            })
    x = np.vstack([row["features"] for row in rows])
    y = np.array([row["hit"] for row in rows], dtype=int)
    print(f"{len(rows)} questions; out-of-fold AUROC, answers right vs unanswerable, mean of seeds {SEEDS}:")
    print("| confidence model | EU | constitution | Federal Register |\n|---|---|---|---|")

    def report(label: str, features: np.ndarray, make) -> np.ndarray:
        runs = [out_of_fold(features, y, seed, make) for seed in SEEDS]
        figures = [auroc_by_corpus(rows, p) for p in runs]
        print(f"| {label} | " + " | ".join(f"{np.mean([f[c] for f in figures]):.3f}" for c in CORPORA) + " |")
        return runs[0]

    logistic = lambda c=1.0: LogisticRegression(C=c, max_iter=5000)  # noqa: E731
    first = report("the engine's signals (logistic)", x, logistic)
    for signal in [key for key in rows[0] if key.startswith(("cosine", "late"))]:
        report(f"+ {signal}", np.hstack([x, np.array([[row[signal]] for row in rows])]), logistic)
    pairs = np.column_stack([x[:, i] * x[:, j] for i in range(x.shape[1]) for j in range(i, x.shape[1])])
    report("+ every pairwise product (L2 C = 0.1)", np.hstack([x, pairs]), lambda: logistic(0.1))
    report("gradient-boosted trees (depth 3, 200 rounds)", x, lambda: HistGradientBoostingClassifier(
        max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0, random_state=0))

    print("\nWith 95% of the answerable questions answered (seed 1, the engine's signals):")
    for corpus in CORPORA:
        own = scored(rows, corpus)
        answerable = np.array([first[n] for n in own if rows[n]["answerable"]])
        threshold = float(np.quantile(answerable, 0.05))
        unanswerable = np.array([first[n] for n in own if not rows[n]["answerable"]])
        right = sum(first[n] >= threshold for n in own if rows[n]["hit"])
        print(f"- {corpus}: unanswerable abstained on {np.mean(unanswerable < threshold):.3f}, "
              f"answer_hit {right / len(answerable):.3f} (threshold {threshold:.2f})")

    engine = engines["eu"]
    question = "When did the EU's Interim Agreement on trade with Tajikistan enter into force?"
    sentence = engine.answer(question, min_confidence=0.0).sentences[0].text  # the span it would cite

    def milliseconds(call, repeats: int = 50) -> float:
        for _ in range(5):
            call()
        started = time.perf_counter()
        for _ in range(repeats):
            call()
        return (time.perf_counter() - started) / repeats * 1000

    def together(count: int) -> None:
        import torch

        features = model.tokenizer([question] * count, [sentence] * count, truncation=True, padding=True,
                                   max_length=model.max_seq_length, return_tensors="pt")
        with torch.inference_mode():
            model[0].auto_model(**features)

    bare = milliseconds(lambda: engine.embedder.encode_query(question))
    warm = milliseconds(lambda: engine.answer(question)) / bare
    one, five = milliseconds(lambda: together(1)) / bare, milliseconds(lambda: together(5)) / bare
    print(f"\nTimes, as ratios to the bare encode of the question ({bare:.1f} ms this run): warm answer() {warm:.2f}; "
          f"one forward pass over the question and a span together {one:.2f}; over five {five:.2f}")


if __name__ == "__main__":
    main()
