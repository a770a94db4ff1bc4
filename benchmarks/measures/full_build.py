"""Full build: build_index(full=True) / the bare encode() of exactly the texts it embeds,
and the amplification (characters fed to the model / characters of the corpus)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from eucaqa.embedding import shared_embedder
from eucaqa.index import build_index, load_index

from .common import RecordingEmbedder, median_time


def measure(corpus: Path, index_dir: Path, repeats: int) -> dict:
    embedder = RecordingEmbedder(shared_embedder().model_path)
    _ = embedder.model  # loaded outside the timings
    build_times, stats = [], None
    for _ in range(repeats):
        embedder.texts = []
        started = time.perf_counter()
        stats = build_index(corpus, index_dir, full=True, embedder=embedder)
        build_times.append(time.perf_counter() - started)
    texts = list(embedder.texts)
    model = embedder.model
    encode_time = median_time(
        lambda: model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False),
        repeats,
    )
    corpus_chars = sum(len(t) for t in load_index(index_dir).texts)
    return {
        "documents": stats.documents,
        "chunks": stats.chunks,
        "texts_embedded": len(texts),
        "build_seconds": round(statistics.median(build_times), 2),
        "bare_encode_seconds": round(encode_time, 2),
        "ratio": round(statistics.median(build_times) / encode_time, 3),
        "target": 1.15,
        "amplification": round(sum(len(t) for t in texts) / corpus_chars, 3),
        "skipped": stats.skipped,
    }

