"""How large an ECE the held-out sets show by chance alone, even for a perfectly calibrated model.

    .venv/bin/python eval/studies/calibration_noise.py

For each held-out set (and each corpus, its sets pooled) it answers every question as
``eval/report.py`` does and takes the confidences of the answered ones. It then draws, 1,000
times (seeded), whether each answer is right with exactly its confidence as the chance (what a
perfectly calibrated model would give) and prints the mean and the 95th percentile of the ECE
(5 bins, as ``eucaqa eval`` computes it) of those draws, next to the ECE measured. With 20 or so
answered questions a set, a perfectly calibrated model shows an ECE of about 0.13.

It writes nothing; its figures are in docs/quality.md ("Calibration on small sets").
"""

from __future__ import annotations

import sys
from pathlib import Path

# the shared evaluation code, eval/common.py, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from common import CORPUS_OF, DEV, HELDOUT, corpus_indexes, encyclopedia_files  # noqa: E402

from eucaqa.evaluation import evaluate_file, expected_calibration_error  # noqa: E402

DRAWS = 1000
SEED = 0
SETS = ("inscope", "near_topic", "constitution", "federal_register")


def chance_ece(confidences: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Mean and 95th percentile of the ECE of answers right exactly as often as their confidence says."""
    draws = [expected_calibration_error(list(confidences), list(rng.random(len(confidences)) < confidences))
             for _ in range(DRAWS)]
    return float(np.mean(draws)), float(np.quantile(draws, 0.95))


def line(label: str, confidences: np.ndarray, right: np.ndarray, rng: np.random.Generator) -> str:
    mean, high = chance_ece(confidences, rng)
    measured = expected_calibration_error(list(confidences), list(right))
    return (f"| {label} | {len(confidences)} | {confidences.mean():.2f} | {right.mean():.2f} | {measured:.3f} "
            f"| {mean:.3f} | {high:.3f} |")


def main() -> None:
    indexes = corpus_indexes()
    files = {"dev": DEV, **{name: HELDOUT / f"{name}.jsonl" for name in SETS}, **encyclopedia_files("heldout")}
    rng = np.random.default_rng(SEED)
    print("| held out | answered | mean confidence | right | ECE | ECE of a calibrated model: mean | its 95th percentile |")
    print("|---|---|---|---|---|---|---|")
    by_corpus: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for name, path in files.items():
        rows = [row for row in evaluate_file(path, index_dir=indexes[CORPUS_OF[name]]).rows if row.found]
        confidences = np.array([row.confidence for row in rows])
        right = np.array([row.would_hit for row in rows], dtype=float)
        by_corpus.setdefault(CORPUS_OF[name], []).append((confidences, right))
        print(line(name, confidences, right, rng))
    for corpus, parts in by_corpus.items():
        print(line(f"corpus {corpus}, its sets pooled", np.concatenate([c for c, _ in parts]),
                   np.concatenate([r for _, r in parts]), rng))


if __name__ == "__main__":
    main()
