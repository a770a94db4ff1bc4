"""The index's storage: the folder layout, writing a build, the ``CURRENT`` swap, the lock.

Layout of the index folder::

    index/
      CURRENT                  name of the build in use (replaced atomically)
      ocr-cache/               pages of scanned PDFs already read by OCR (kept across builds)
      build-<time>-<id>/       one complete build
        manifest.json          format, model, settings, documents and their hashes, counts
        documents.json         cleaned text and page spans of each document
        chunks.npy             int64 rows: document, page, start, end, first sentence, stop sentence
        sentences.npy          int64 rows: document, page, start, end
        sentence_vectors.npy   float32, one unit vector per sentence (the only vectors)
        sentences.faiss        FAISS inner-product index over the sentence vectors
        bm25/                  bm25s index over the chunk texts (NumPy + JSON)

Chunks (the passages shown and cited) are not embedded: a passage's dense score
is that of its best sentence.

Nothing is pickled: arrays are read with ``allow_pickle=False``. A build is
written into a fresh folder and made current by replacing ``CURRENT`` in one
``os.replace``; a crash at any moment leaves the previous build in use.

Imports nothing of eucaqa but its version, the page type, the errors and the text analysis.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..documents import Page
from ..errors import IndexFormatError, IndexWriteError
from ..text import bm25_tokens
from ..version import __version__

logger = logging.getLogger(__name__)

#: 2: FAISS holds sentence vectors, no chunk vectors (1: chunk vectors).
FORMAT_VERSION = 2
CURRENT_FILE = "CURRENT"
#: Pages of scanned PDFs already read by OCR, by content hash (kept across builds).
OCR_CACHE_FOLDER = "ocr-cache"
LOCK_FILE = ".lock"
NO_PAGE = -1
VECTORS_FILE = "sentence_vectors.npy"
FAISS_FILE = "sentences.faiss"
#: From this many sentence vectors on, FAISS searches an HNSW graph instead of
#: every vector: flat search measured 1.1 ms at 10k vectors, 6.8 ms at 50k and
#: 16 ms at 100k on two cores. The graph stores each vector as 4-bit codes (an
#: eighth of the memory of floats); the hits it finds are re-scored with the float
#: vectors of ``sentence_vectors.npy``. Measured on the bench's 417,600 synthetic
#: vectors with the dev questions as queries: recall@10 against flat search 0.984
#: at 159 MB and 2.6 ms a query; M=16: 0.972 at 134 MB; 8-bit codes did no better
#: (the graph search limits recall, not the codes); PQ codes: 0.42.
HNSW_MIN_VECTORS = 20_000
HNSW_NEIGHBOURS = 24
HNSW_EF_CONSTRUCTION = 160
#: Candidates the HNSW search keeps (at least the hits asked for).
HNSW_EF_SEARCH = 1024
#: The HNSW search is asked for this many times the hits wanted, and at least
#: RESCORE_POOL, which are then re-scored exactly.
RESCORE_FACTOR = 2
RESCORE_POOL = 160


@dataclass
class IndexedDocument:
    """One document as the index keeps it."""

    source: str
    content_hash: str
    text: str
    pages: list[Page]
    chunks: np.ndarray  # rows of chunks.npy, sentence numbers local to this document
    sentences: np.ndarray  # rows of sentences.npy
    sentence_vectors: np.ndarray
    #: PDF pages without text, the file's size in bytes, when it was read (UTC, ISO 8601)
    empty_pages: list[int] = field(default_factory=list)
    size: int = 0
    indexed_at: str = ""


def current_build(index_dir: str | Path) -> Path | None:
    """Folder of the build in use, or None when none was ever completed."""
    pointer = Path(index_dir) / CURRENT_FILE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not name or "/" in name or name.startswith("."):
        raise IndexFormatError(f"{pointer} is damaged; rebuild with: eucaqa index --full")
    return Path(index_dir) / name


def read_manifest(build: Path) -> dict:
    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise IndexFormatError(f"index build {build} has no manifest; rebuild with: eucaqa index --full") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IndexFormatError(f"index manifest in {build} is damaged; rebuild with: eucaqa index --full") from error
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexFormatError(
            f"index in {build} has format version {found}, this eucaqa reads {FORMAT_VERSION}; "
            "rebuild with: eucaqa index --full"
        )
    return manifest


def make_faiss_index(vectors: np.ndarray):
    """Inner-product FAISS index of unit vectors: exact below HNSW_MIN_VECTORS, HNSW of
    4-bit codes above (search it with :func:`nearest_vectors`)."""
    import faiss

    dimension = vectors.shape[1]
    if len(vectors) < HNSW_MIN_VECTORS:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_4bit, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        index.train(vectors)
    index.add(vectors)
    return index


def nearest_vectors(faiss_index, vectors: np.ndarray, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the ``count`` vectors nearest ``query`` and their exact inner products, best first.

    A flat index answers exactly. An HNSW index of 4-bit codes is asked for
    RESCORE_FACTOR times as many (RESCORE_POOL at least), which are re-scored
    with the float ``vectors``.
    """
    count = min(count, faiss_index.ntotal)
    if count <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    if not hasattr(faiss_index, "hnsw"):
        scores, rows = faiss_index.search(query, count)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]
    wanted = min(faiss_index.ntotal, max(RESCORE_FACTOR * count, RESCORE_POOL))
    _, rows = faiss_index.search(query, wanted)
    rows = np.sort(rows[0][rows[0] >= 0])  # ascending: the memory-mapped rows are read in file order
    exact = np.asarray(vectors[rows], dtype=np.float32) @ query[0]
    best = np.argsort(-exact, kind="stable")[:count]
    return rows[best].astype(np.int64), exact[best]


def page_code(number: int | None) -> int:
    """A page as stored in the tables: its number, or NO_PAGE for a file without pages."""
    return NO_PAGE if number is None else number


def page_number(value: int) -> int | None:
    """A page as stored in the tables, back to ``int | None``."""
    return None if value == NO_PAGE else int(value)


def write_build(
    index_dir: Path,
    documents: list[IndexedDocument],
    config: dict,
    skipped: dict[str, tuple[str, str]],
) -> Path:
    """Write a complete build beside the current one, then switch ``CURRENT`` to it."""
    import bm25s
    import faiss

    name = f"build-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = index_dir / f".tmp-{name}"
    try:
        logger.debug("phase: writing arrays")
        staging.mkdir()
        chunks, sentences, sentence_vectors = _stack(documents)
        dimension = sentence_vectors.shape[1]
        np.save(staging / "chunks.npy", chunks, allow_pickle=False)
        np.save(staging / "sentences.npy", sentences, allow_pickle=False)
        np.save(staging / VECTORS_FILE, sentence_vectors, allow_pickle=False)
        logger.debug("phase: writing faiss")
        faiss_index = make_faiss_index(sentence_vectors)
        faiss.write_index(faiss_index, str(staging / FAISS_FILE))
        logger.debug("phase: writing bm25")
        chunk_texts = [documents[d].text[s:e] for d, _, s, e, _, _ in chunks.tolist()]
        tokens = bm25_tokens(chunk_texts)
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        bm25.save(str(staging / "bm25"), allow_pickle=False)
        logger.debug("phase: writing metadata")
        _write_json(
            staging / "documents.json",
            [
                {"source": doc.source, "text": doc.text, "pages": [[p.number, p.start, p.end, int(p.ocr)] for p in doc.pages]}
                for doc in documents
            ],
        )
        manifest = {
            **config,
            "model": {**config["model"], "dimension": dimension},
            "package_version": __version__,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "counts": {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)},
            "documents": [
                {
                    "source": doc.source,
                    "content_hash": doc.content_hash,
                    "pages": len(doc.pages),
                    "chunks": len(doc.chunks),
                    "sentences": len(doc.sentences),
                    "empty_pages": doc.empty_pages,
                    "bytes": doc.size,
                    "indexed_at": doc.indexed_at,
                }
                for doc in documents
            ],
            "skipped": {source: list(item) for source, item in skipped.items()},
        }
        _write_json(staging / "manifest.json", manifest)
        logger.debug("phase: syncing")
        _fsync_tree(staging)
        final = index_dir / name
        os.replace(staging, final)
        logger.debug("phase: switching current build")
        pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        _fsync_file(pointer_tmp)
        os.replace(pointer_tmp, index_dir / CURRENT_FILE)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise IndexWriteError(
            f"cannot write the index in {index_dir}: {error.strerror or error}; the previous index is kept"
        ) from error
    logger.debug("phase: removing old builds")
    remove_old_builds(index_dir)
    return final


def _stack(documents: list[IndexedDocument]):
    """Concatenate per-document tables, renumbering documents and sentences."""
    chunk_tables, sentence_tables = [], []
    sentence_offset = 0
    for number, doc in enumerate(documents):
        chunks = doc.chunks.copy()
        chunks[:, 0] = number
        chunks[:, 4:6] += sentence_offset
        sentences = doc.sentences.copy()
        sentences[:, 0] = number
        chunk_tables.append(chunks)
        sentence_tables.append(sentences)
        sentence_offset += len(sentences)
    dimension = documents[0].sentence_vectors.shape[1]

    def concat(arrays, width, dtype):
        arrays = [a for a in arrays if len(a)]
        return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros((0, width), dtype=dtype)
    return (
        concat(chunk_tables, 6, np.int64),
        concat(sentence_tables, 4, np.int64),
        np.ascontiguousarray(concat([d.sentence_vectors for d in documents], dimension, np.float32)),
    )


def _write_json(path: Path, data) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_file(path)


def remove_old_builds(index_dir: Path) -> None:
    """Drop builds other than the current one and the newest before it (readers may hold it).

    Runs after each build and when a build starts, so builds left by a killed
    indexer do not pile up.
    """
    try:
        current = current_build(index_dir)
    except IndexFormatError:
        return  # never delete anything when it is unclear which build is in use
    if current is None:
        return
    others = sorted(
        (path for path in index_dir.iterdir() if path.is_dir() and path.name.startswith("build-") and path != current),
        key=lambda path: path.name,
    )
    for path in others[:-1]:
        shutil.rmtree(path, ignore_errors=True)


class BuildLock:
    """One build at a time per index folder; stale staging folders are cleared under it."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.handle = None

    def __enter__(self):
        try:
            self.handle = open(self.index_dir / LOCK_FILE, "a+")
        except OSError as error:
            raise IndexWriteError(
                f"cannot write in index folder {self.index_dir}: {error.strerror or error}; the previous index is kept"
            ) from error
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise IndexWriteError(f"another build of {self.index_dir} is running; try again when it ends") from None
        for path in self.index_dir.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        for path in self.index_dir.glob(f".{CURRENT_FILE}.*"):
            path.unlink(missing_ok=True)
        remove_old_builds(self.index_dir)
        return self

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()

