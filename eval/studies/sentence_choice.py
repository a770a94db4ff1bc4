"""Where the cited spans miss the answer on the encyclopedia articles, and why.

    .venv/bin/python eval/studies/sentence_choice.py [--per-article N]

Asks up to N answerable questions of each *fit* article (never the held-out or sealed ones) of
the encyclopedia index with the committed model, and sorts every question whose cited text lacks
an accepted answer into one cause:

- ``not retrieved``: no candidate passage (the 8 whose sentences are candidates) holds the answer;
- ``not described``: a retrieved passage holds it, but no candidate span does (the sentence was
  not shortlisted, or could not be cited on its own);
- ``ranked too low``: a candidate span holds it, but not among the spans cited; for these it
  prints where that span stood (its rank by the ranker's probability) and whether it is the
  sentence right before or after the best span.

It writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# the shared evaluation code, eval/common.py, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from common import ENCYCLOPEDIA_SEED, SHARED_DATA, corpus_indexes, read_articles, span_text  # noqa: E402

from eucaqa.answering import Engine  # noqa: E402
from eucaqa.choosing import decide  # noqa: E402
from eucaqa.evaluation import contains_any  # noqa: E402
from eucaqa.index import load_index  # noqa: E402


def fit_articles() -> list[dict]:
    import json

    from common import ENCYCLOPEDIA_MANIFEST

    titles = set(json.loads(ENCYCLOPEDIA_MANIFEST.read_text(encoding="utf-8"))["parts"]["fit"]["indexed_articles"])
    return [article for article in read_articles(SHARED_DATA) if article["title"] in titles]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-article", type=int, default=40)
    args = parser.parse_args()
    engine = Engine(load_index(corpus_indexes()["encyclopedia"]))
    rng = np.random.default_rng(ENCYCLOPEDIA_SEED + 1)
    causes: Counter = Counter()
    ranks: Counter = Counter()
    neighbour = 0
    asked = 0
    for article in fit_articles():
        questions = article["answerable"]
        chosen_questions = [questions[n] for n in sorted(rng.permutation(len(questions))[: args.per_article])]
        for qa in chosen_questions:
            accepted = list(dict.fromkeys(answer["text"] for answer in qa["answers"]))
            evidence = engine.gather(qa["question"])
            chosen, _ = decide(evidence, engine.model)
            asked += 1
            if chosen and contains_any(" ".join(span_text(engine, c) for c in chosen), accepted):
                causes["hit"] += 1
                continue
            passages = engine.retriever.search(evidence.question.vector, list(evidence.question.weights), 5, extra=3)
            if not any(contains_any(p.text, accepted) for p in passages):
                causes["not retrieved"] += 1
                continue
            ranked = sorted(evidence.candidates, key=lambda c: -c.probability)
            holding = [n for n, c in enumerate(ranked) if contains_any(span_text(engine, c), accepted)]
            if not holding:
                causes["not described"] += 1
                continue
            causes["ranked too low"] += 1
            ranks[min(holding[0], 10)] += 1
            best = chosen[0] if chosen else None
            if best is not None and abs(ranked[holding[0]].row - best.row) == 1:
                neighbour += 1
    print(f"{asked} answerable questions of the fit articles")
    for cause, count in causes.most_common():
        print(f"  {cause}: {count} ({count / asked:.3f})")
    print("rank of the best span holding the answer, when ranked too low (10 = 10 or more):", dict(sorted(ranks.items())))
    print(f"  of which the sentence right before or after the best span: {neighbour}")


if __name__ == "__main__":
    main()
