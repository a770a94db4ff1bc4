"""Scale: an index of >= 100,000 chunks (several hundred thousand sentence vectors).
Warm answer() there / on the shipped corpus, index load time, resident memory /
(vectors + text) and per chunk. Measured in a fresh process."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from eucaqa.answering import get_engine
from eucaqa.embedding import shared_embedder
from eucaqa.index import load_index

from .common import SCALE_CHUNKS, SEED, median_time, questions

#: resident KB per chunk of a loaded 100,080-chunk index of format 1 (chunk vectors in an HNSW
#: of floats): 387.2 MB by this measure on 2026-11-24, the last run before sentence vectors
FORMAT_1_KB_PER_CHUNK = 3.96


def build(corpus_index: Path, index_dir: Path) -> dict:
    """>= 100,000 chunks of real corpus text, repeated, with synthetic vectors written
    through the index's own writer (no model involved)."""
    from eucaqa.index import IndexedDocument, write_build

    corpus = load_index(corpus_index)
    rng = np.random.default_rng(SEED)
    config = {key: corpus.manifest[key] for key in ("format_version", "model", "chunking")}
    dimension = corpus.manifest["model"]["dimension"]
    base = []
    for number, source in enumerate(corpus.sources):
        chunk_rows = np.flatnonzero(corpus.chunks[:, 0] == number)
        sentence_rows = np.flatnonzero(corpus.sentences[:, 0] == number)
        chunks = corpus.chunks[chunk_rows].copy()
        chunks[:, 4:6] -= sentence_rows[0]
        base.append((source, corpus.texts[number], corpus.pages[number], chunks, corpus.sentences[sentence_rows].copy()))
    real = np.asarray(corpus.sentence_vectors, dtype=np.float32)
    documents, total, copy = [], 0, 0
    while total < SCALE_CHUNKS:
        for source, text, pages, chunks, sentences in base:
            documents.append(IndexedDocument(
                source=f"copy{copy:04d}/{source}", content_hash=f"synthetic-{copy}-{source}", text=text, pages=pages,
                chunks=chunks, sentences=sentences,
                sentence_vectors=_synthetic_vectors(rng, real, len(sentences)),
            ))
            total += len(chunks)
        copy += 1
    if index_dir.exists():
        shutil.rmtree(index_dir)
    index_dir.mkdir(parents=True)
    started = time.perf_counter()
    write_build(index_dir, documents, config, {})
    sentences = sum(len(d.sentences) for d in documents)
    return {"chunks": total, "sentences": sentences, "documents": len(documents), "copies_of_corpus": copy,
            "dimension": dimension,
            "write_seconds": round(time.perf_counter() - started, 1),
            "vectors": "synthetic: unit-normalised mixtures of two real sentence vectors of the bench corpus "
                       "plus seeded Gaussian noise (sigma 0.03 per dimension); text is the bench corpus repeated"}


def _synthetic_vectors(rng, real: np.ndarray, count: int) -> np.ndarray:
    if count == 0:
        return np.zeros((0, real.shape[1]), dtype=np.float32)
    i, j = rng.integers(0, len(real), count), rng.integers(0, len(real), count)
    weight = rng.random((count, 1), dtype=np.float32)
    vectors = weight * real[i] + (1 - weight) * real[j] + 0.03 * rng.standard_normal((count, real.shape[1]), dtype=np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def measure(index_dir: Path, shipped_index: Path, repeats: int) -> dict:
    """Run in a fresh process: load time, resident memory of the loaded index, warm answers."""
    import psutil

    from eucaqa import answer
    from eucaqa.index import current_build

    process = psutil.Process()
    embedder = shared_embedder()
    _ = embedder.model
    get_engine(shipped_index)
    qs = questions()
    for q in qs:
        answer(q, index_dir=shipped_index)
    shipped = statistics.median([median_time(lambda: answer(q, index_dir=shipped_index), repeats) for q in qs])
    rss_before = process.memory_info().rss
    load_times = []
    for _ in range(repeats):
        started = time.perf_counter()
        loaded = load_index(index_dir)
        load_times.append(time.perf_counter() - started)
        del loaded
    started = time.perf_counter()
    engine = get_engine(index_dir)
    engine_seconds = time.perf_counter() - started
    rss_after = process.memory_info().rss
    for q in qs:
        answer(q, index_dir=index_dir)
    at_scale = statistics.median([median_time(lambda: answer(q, index_dir=index_dir), repeats) for q in qs])
    build = current_build(index_dir)
    vector_bytes = (build / "sentence_vectors.npy").stat().st_size
    text_bytes = sum(len(t.encode("utf-8")) for t in engine.index.texts)
    return {
        "faiss_index": type(engine.index.faiss_index).__name__,
        "answer_median_ms_shipped": round(1000 * shipped, 2),
        "answer_median_ms_at_scale": round(1000 * at_scale, 2),
        "answer_ratio": round(at_scale / shipped, 3),
        "answer_target": 2.0,
        "load_seconds": round(statistics.median(load_times), 3),
        "engine_load_seconds": round(engine_seconds, 3),
        "load_target_seconds": 2.0,
        "resident_mb": round((rss_after - rss_before) / 2**20, 1),
        "vectors_plus_text_mb": round((vector_bytes + text_bytes) / 2**20, 1),
        "memory_ratio": round((rss_after - rss_before) / (vector_bytes + text_bytes), 3),
        "memory_target": 1.5,
        "resident_kb_per_chunk": round((rss_after - rss_before) / 1024 / len(engine.index.chunks), 2),
        #: the same figure measured for the chunk-vector format (FORMAT_VERSION 1, HNSW of float chunk vectors)
        "resident_kb_per_chunk_format_1": FORMAT_1_KB_PER_CHUNK,
    }

