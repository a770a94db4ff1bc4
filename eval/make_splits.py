"""Cut each labelled set into a fit half and a held-out half (seeded, reproducible).

    python eval/make_splits.py

Writes ``eval/fit/*.jsonl`` and ``eval/heldout/*.jsonl``. Answerable and
unanswerable questions are split separately, so each half keeps the set's mix.
Three more files per half ask the questions of one corpus against *another*
corpus's index, where nothing answers them (``unindexed_*``): questions about
documents that are not indexed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20261125
SETS = {
    "inscope": "inscope.jsonl",
    "near_topic": "near_topic.jsonl",
    "constitution": "constitution.jsonl",
    "federal_register": "federal_register.jsonl",
}
#: Questions written later for a set: split on their own and added to that set's halves,
#: so that the questions already split keep their half.
EXTRA = {"inscope": "inscope_extra.jsonl", "near_topic": "near_topic_extra.jsonl"}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(path: Path, items: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")


def split(items: list[dict], rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    fit, heldout = [], []
    for group in ([i for i in items if i["answers"]], [i for i in items if not i["answers"]]):
        order = rng.permutation(len(group))
        half = (len(group) + 1) // 2
        fit += [group[n] for n in sorted(order[:half])]
        heldout += [group[n] for n in sorted(order[half:])]
    return fit, heldout


def unanswerable(items: list[dict], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{i['id']}", "question": i["question"], "answers": [], "document": None}
            for i in items if i["answers"]]


def main() -> None:
    rng = np.random.default_rng(SEED)
    halves: dict[str, dict[str, list[dict]]] = {"fit": {}, "heldout": {}}
    for name, file in SETS.items():
        fit, heldout = split(read(HERE / file), rng)
        halves["fit"][name], halves["heldout"][name] = fit, heldout
    for name, file in EXTRA.items():
        fit, heldout = split(read(HERE / file), rng)
        halves["fit"][name] += fit
        halves["heldout"][name] += heldout
    for half, sets in halves.items():
        for name, items in sets.items():
            write(HERE / half / f"{name}.jsonl", items)
        # Asked of the EU index: constitution questions; of the constitution index: EU questions.
        write(HERE / half / "unindexed_eu.jsonl", unanswerable(sets["constitution"], "x"))
        write(HERE / half / "unindexed_constitution.jsonl", unanswerable(sets["inscope"], "x"))
        # Asked of the Federal Register index: the EU and constitution questions.
        write(HERE / half / "unindexed_federal_register.jsonl",
              unanswerable(sets["inscope"], "x") + unanswerable(sets["constitution"], "x"))
        print(half, {name: len(items) for name, items in sets.items()})


if __name__ == "__main__":
    main()
