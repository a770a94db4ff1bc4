"""Incremental build: a rebuild after adding one ~2,000-character document / a full build."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from eucaqa.documents import load_document
from eucaqa.embedding import shared_embedder
from eucaqa.index import build_index, load_index

from .common import SHIPPED


def measure(corpus: Path, index_dir: Path, full_seconds: float, repeats: int) -> dict:
    from eucaqa.chunking import sentence_spans

    embedder = shared_embedder()
    source_text = load_document(SHIPPED / "kazakhstan-motivator-of-eu-central-asia-relations.txt").text
    end = next(b for _, b in sentence_spans(source_text) if b >= 2000)
    extra = corpus / "added-document.txt"
    times, embedded, expected = [], [], []
    for round_number in range(repeats):
        extra.write_text(f"Added document, round {round_number}.\n\n{source_text[:end]}\n", encoding="utf-8")
        started = time.perf_counter()
        stats = build_index(corpus, index_dir, embedder=embedder)
        times.append(time.perf_counter() - started)
        embedded.append(stats.embedded)
        entry = {d["source"]: d for d in load_index(index_dir).manifest["documents"]}[extra.name]
        expected.append(entry["chunks"])
        extra.unlink()
        build_index(corpus, index_dir, embedder=embedder)  # back to the corpus alone
    return {
        "added_characters": end,
        "rebuild_seconds": round(statistics.median(times), 3),
        "share_of_full_build": round(statistics.median(times) / full_seconds, 4),
        "target": 0.10,
        "chunks_embedded": embedded,
        "chunks_of_added_document": expected,
        "only_that_document": embedded == expected,
    }

