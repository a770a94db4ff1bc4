"""Retrieval before and after sentence vectors: hit@1 and hit@5 of passages on every
labelled set with answers, searching sentence vectors (a passage scores its best
sentence; what eucaqa does) and, as before, one vector per chunk.

A hit is a returned passage that holds an accepted answer. Both use the same
BM25 ranking, fusion and passages; only the dense ranking differs. The chunk
vectors are embedded here, once per index, and searched exactly (flat).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from eucaqa.answering import Engine
from eucaqa.evaluation import contains_any, read_questions
from eucaqa.index import build_index, load_index
from eucaqa.retrieval import Retriever

from .common import DEV, ROOT, TEST_PDFS, WORK

TOP_K = 5
#: labelled file -> the corpus its questions are asked of
LABELLED = {
    "dev": (DEV, "eu"),
    "inscope": (ROOT / "eval" / "sets" / "inscope.jsonl", "eu"),
    "constitution": (ROOT / "eval" / "sets" / "constitution.jsonl", "constitution"),
}


class ChunkVectorRetriever(Retriever):
    """The retrieval of FORMAT_VERSION 1: dense ranking by one vector per chunk."""

    def __init__(self, index, embedder) -> None:
        import faiss

        super().__init__(index)
        vectors = embedder.encode([index.chunk_text(row) for row in range(len(index.chunks))])
        self.chunk_index = faiss.IndexFlatIP(vectors.shape[1])
        self.chunk_index.add(vectors)

    def dense_ranking(self, question_vector: np.ndarray, wanted: int) -> tuple[list[int], dict[int, float]]:
        cosines, rows = self.chunk_index.search(question_vector.reshape(1, -1), wanted)
        ranking = [int(row) for row in rows[0] if row >= 0]
        return ranking, {row: float(c) for row, c in zip(ranking, cosines[0])}


def corpus_indexes(shipped_index: Path) -> dict[str, Path]:
    documents = WORK / "documents-constitution"
    documents.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_PDFS / "us_constitution.pdf", documents / "us_constitution.pdf")
    build_index(documents, WORK / "index-constitution")
    return {"eu": shipped_index, "constitution": WORK / "index-constitution"}


def hits(engine: Engine, retriever: Retriever, path: Path) -> tuple[int, float, float]:
    first = any_of_k = count = 0
    for item in read_questions(path):
        if not item.get("answers"):
            continue
        question = engine._parse(item["question"])
        passages = retriever.search(question.vector, list(question.weights), TOP_K)
        found = [contains_any(p.text, item["answers"]) for p in passages]
        count += 1
        first += bool(found and found[0])
        any_of_k += any(found)
    return count, round(first / count, 3), round(any_of_k / count, 3)


def measure(shipped_index: Path) -> dict:
    indexes = corpus_indexes(shipped_index)
    engines = {name: Engine(load_index(folder)) for name, folder in indexes.items()}
    before = {name: ChunkVectorRetriever(engine.index, engine.embedder) for name, engine in engines.items()}
    results = {}
    for name, (path, corpus) in LABELLED.items():
        engine = engines[corpus]
        count, hit1, hit5 = hits(engine, engine.retriever, path)
        _, old1, old5 = hits(engine, before[corpus], path)
        results[name] = {"questions": count, "hit_at_1": hit1, "hit_at_5": hit5,
                         "chunk_vectors_hit_at_1": old1, "chunk_vectors_hit_at_5": old5}
    return results
