"""HNSW recall@10 against exact search over the same vectors of the scale index."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from eucaqa.embedding import shared_embedder

from .common import SEED, questions



def measure(index_dir: Path) -> dict:
    """HNSW against exact search over the same vectors, on the dev questions and on sentence vectors."""
    import faiss

    from eucaqa.index import current_build

    build = current_build(index_dir)
    hnsw = faiss.read_index(str(build / "chunks.faiss"))
    from eucaqa.index import HNSW_EF_SEARCH

    if not hasattr(hnsw, "hnsw"):
        return {"faiss_index": type(hnsw).__name__, "recall_at_10": 1.0}
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    vectors = np.load(build / "chunk_vectors.npy")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    embedder = shared_embedder()
    queries = np.vstack([embedder.encode_query(q) for q in questions()])
    sentences = np.load(build / "sentence_vectors.npy", mmap_mode="r")
    rng = np.random.default_rng(SEED)
    queries = np.vstack([queries, np.asarray(sentences[rng.integers(0, len(sentences), 75)])]).astype(np.float32)
    _, exact = flat.search(queries, 10)
    started = time.perf_counter()
    _, approximate = hnsw.search(queries, 10)
    hnsw_ms = 1000 * (time.perf_counter() - started) / len(queries)
    started = time.perf_counter()
    flat.search(queries, 10)
    flat_ms = 1000 * (time.perf_counter() - started) / len(queries)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approximate)]))
    return {"faiss_index": type(hnsw).__name__, "queries": len(queries), "recall_at_10": round(recall, 4),
            "target": 0.98, "hnsw_ms_per_query": round(hnsw_ms, 2), "flat_ms_per_query": round(flat_ms, 2)}

