"""Follow-up: a warm follow-up answered with the conversation / its first question asked alone.

Over the dialogues of the shipped documents (``eval/sets/dialogues.jsonl``) whose follow-up points
back or leaves its subject out: the first question is answered (warm), then the follow-up with
that turn as its history, ``answer(follow_up, history=[(first, first_answer)])``, against
``answer(first)`` again. A follow-up is completed with the last turn's words, searched and
scored with them: a longer question, one more encoder input of the same size class."""

from __future__ import annotations

import statistics
from pathlib import Path

from .common import ROOT, median_time

DIALOGUES = ROOT / "eval" / "sets" / "dialogues.jsonl"


def measure(index_dir: Path, repeats: int) -> dict:
    from eucaqa import answer
    from eucaqa.evaluation import read_questions

    items = [item for item in read_questions(DIALOGUES) if item["kind"] in ("points_back", "leaves_out")]
    ratios, first_times, follow_up_times, completed = [], [], [], 0
    for item in items:
        first = item["history"][0]
        earlier = answer(first, index_dir=index_dir)
        history = [(first, earlier)]
        completed += answer(item["question"], index_dir=index_dir, history=history).understood_as is not None
        f = median_time(lambda: answer(first, index_dir=index_dir), repeats)
        u = median_time(lambda: answer(item["question"], index_dir=index_dir, history=history), repeats)
        first_times.append(f)
        follow_up_times.append(u)
        ratios.append(u / f)
    return {
        "dialogues": len(items),
        "completed": completed,
        "first_median_ms": round(1000 * statistics.median(first_times), 2),
        "follow_up_median_ms": round(1000 * statistics.median(follow_up_times), 2),
        "ratio": round(statistics.median(ratios), 3),
        "target": 1.2,
    }
