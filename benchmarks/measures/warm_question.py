"""Warm question: answer() / the bare SentenceTransformer.encode([question]), median over the dev questions.

Warm means the model is loaded and the question was asked once before: the sentences it
touches are in the engine's sentence cache. The ratio with that cache emptied before each
answer (a question whose passages no earlier question touched) is reported beside it."""

from __future__ import annotations

import statistics
from pathlib import Path

from .common import median_time, questions


def measure(index_dir: Path, repeats: int) -> dict:
    from eucaqa.answering import get_engine

    engine = get_engine(index_dir)
    model = engine.embedder.model
    from eucaqa import answer

    def answer_uncached(question: str) -> None:
        engine.sentence_cache.clear()
        answer(question, index_dir=index_dir)

    ratios, uncached_ratios, answer_times, encode_times = [], [], [], []
    for question in questions():
        answer(question, index_dir=index_dir)  # warm caches
        a = median_time(lambda: answer(question, index_dir=index_dir), repeats)
        u = median_time(lambda: answer_uncached(question), repeats)
        e = median_time(lambda: model.encode([question], normalize_embeddings=True, show_progress_bar=False), repeats)
        answer_times.append(a)
        encode_times.append(e)
        ratios.append(a / e)
        uncached_ratios.append(u / e)
    return {
        "uncached_ratio": round(statistics.median(uncached_ratios), 3),
        "answer_median_ms": round(1000 * statistics.median(answer_times), 2),
        "encode_median_ms": round(1000 * statistics.median(encode_times), 2),
        "ratio": round(statistics.median(ratios), 3),
        "target": 1.5,
    }

