"""HNSW recall@10 against exact search over the same sentence vectors of the scale index,
as the question path searches it (8-bit codes, the hits re-scored with the float vectors)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from eucaqa.embedding import shared_embedder

from .common import SEED, questions


def measure(index_dir: Path) -> dict:
    """HNSW against exact search, on the dev questions and on sentence vectors of the index."""
    import faiss

    from eucaqa.index import load_index

    index = load_index(index_dir)
    if not hasattr(index.faiss_index, "hnsw"):
        return {"faiss_index": type(index.faiss_index).__name__, "recall_at_10": 1.0}
    vectors = np.ascontiguousarray(index.sentence_vectors, dtype=np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    embedder = shared_embedder()
    queries = np.vstack([embedder.encode_query(q) for q in questions()])
    rng = np.random.default_rng(SEED)
    queries = np.vstack([queries, vectors[rng.integers(0, len(vectors), 75)]]).astype(np.float32)
    _, exact = flat.search(queries, 10)
    started = time.perf_counter()
    approximate = [index.nearest_sentences(query, 10)[0] for query in queries]
    hnsw_ms = 1000 * (time.perf_counter() - started) / len(queries)
    started = time.perf_counter()
    for query in queries:
        flat.search(query.reshape(1, -1), 10)
    flat_ms = 1000 * (time.perf_counter() - started) / len(queries)
    recall = float(np.mean([len(set(a) & set(b.tolist())) / 10 for a, b in zip(exact, approximate)]))
    return {"faiss_index": type(index.faiss_index).__name__, "vectors": len(vectors), "queries": len(queries),
            "recall_at_10": round(recall, 4), "target": 0.98,
            "hnsw_ms_per_query": round(hnsw_ms, 2), "flat_ms_per_query": round(flat_ms, 2)}
