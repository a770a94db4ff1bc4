"""Stage 4 — index: build, update and load the search index in ``index/``.

Layout of the index folder::

    index/
      CURRENT                  name of the build in use (replaced atomically)
      build-<time>-<id>/       one complete build
        manifest.json          format, model, settings, documents and their hashes, counts
        documents.json         cleaned text and page spans of each document
        chunks.npy             int64 rows: document, page, start, end, first sentence, stop sentence
        sentences.npy          int64 rows: document, page, start, end
        chunk_vectors.npy      float32, one unit vector per chunk
        sentence_vectors.npy   float32, one unit vector per sentence
        chunks.faiss           FAISS inner-product index over the chunk vectors
        bm25/                  bm25s index over the chunk texts (NumPy + JSON)

Nothing is pickled: arrays are read with ``allow_pickle=False``. A build is
written into a fresh folder and made current by replacing ``CURRENT`` in one
``os.replace``; a crash at any moment leaves the previous build in use.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

import numpy as np

from . import __version__
from .chunking import ChunkedDocument
from .documents import Document, Page, file_hash, list_document_files, source_name
from .embedding import Embedder, ProgressCallback
from .links import document_link
from .errors import DocumentError, DocumentsFolderError, IndexFormatError, IndexNotFoundError, IndexWriteError
from .reader import ChunkingOptions, FileReader
from .settings import Settings

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
#: Pages of scanned PDFs already read by OCR, by content hash (kept across builds).
OCR_CACHE_FOLDER = "ocr-cache"
LOCK_FILE = ".lock"
NO_PAGE = -1
#: From this many chunks on, FAISS searches an HNSW graph instead of every
#: vector: flat search measured 1.1 ms at 10k chunks, 6.8 ms at 50k and 16 ms
#: at 100k on two cores; HNSW stays near 2 ms (``make bench`` shows its recall).
HNSW_MIN_CHUNKS = 20_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
#: Candidates the HNSW search keeps; this high, recall@10 against flat search
#: stays above 0.98 even on synthetic vectors with many near-ties.
HNSW_EF_SEARCH = 2048
BM25_STOPWORDS = "en_plus"


@dataclass
class IndexStats:
    """What a build did. ``embedded`` and ``reused`` count chunks; ``removed`` counts documents."""

    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["skipped"] = [list(item) for item in self.skipped]
        return data

    def summary(self) -> str:
        """One line for a terminal or a status box."""
        return (
            f"{self.documents} documents, {self.chunks} chunks: embedded {self.embedded}, "
            f"reused {self.reused}, removed {self.removed} documents, "
            f"skipped {len(self.skipped)} files, {self.seconds:.1f} s"
        )


@dataclass
class IndexedDocument:
    """One document as the index keeps it."""

    source: str
    content_hash: str
    text: str
    pages: list[Page]
    chunks: np.ndarray  # rows of chunks.npy, sentence numbers local to this document
    sentences: np.ndarray  # rows of sentences.npy
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    #: PDF pages without text, the file's size in bytes, when it was read (UTC, ISO 8601)
    empty_pages: list[int] = field(default_factory=list)
    size: int = 0
    indexed_at: str = ""


# ------------------------------------------------------------------------ loading


@dataclass
class LoadedIndex:
    """A build read back from disk, ready for questions."""

    path: Path
    manifest: dict
    sources: list[str]
    texts: list[str]
    pages: list[list[Page]]
    chunks: np.ndarray
    sentences: np.ndarray
    sentence_vectors: np.ndarray
    faiss_index: object
    bm25: object

    @property
    def build_id(self) -> str:
        return self.path.name

    @cached_property
    def ocr_pages(self) -> list[frozenset[int]]:
        """Numbers of each document's pages that were read by OCR (spans lie within one page)."""
        return [frozenset(p.number for p in pages if p.ocr) for pages in self.pages]

    def span(self, doc: int, page: int, start: int, end: int) -> dict:
        """Text, source, page and offsets of ``texts[doc][start:end]``: the fields of a CitedText."""
        return {
            "ocr": page in self.ocr_pages[doc],
            "text": self.texts[doc][start:end],
            "source": self.sources[doc],
            "page": page_number(page),
            "start": start,
            "end": end,
            "link": document_link(self.sources[doc], page_number(page), start, end),
        }

    def chunk_text(self, row: int) -> str:
        doc, _, start, end = (int(x) for x in self.chunks[row, :4])
        return self.texts[doc][start:end]

    def sentence_text(self, row: int) -> str:
        doc, _, start, end = (int(x) for x in self.sentences[row])
        return self.texts[doc][start:end]

    def documents_table(self) -> list[dict]:
        """File, pages, pages without text, chunks, size and time indexed of each document."""
        return [
            {
                "source": entry["source"],
                "pages": entry["pages"],
                "empty_pages": entry.get("empty_pages", []),
                "chunks": entry["chunks"],
                "sentences": entry["sentences"],
                "bytes": entry.get("bytes"),
                "indexed_at": entry.get("indexed_at", self.manifest.get("built_at")),
            }
            for entry in self.manifest["documents"]
        ]

    def skipped_table(self) -> list[dict]:
        """The files the build could not read, with their reasons."""
        return [{"source": source, "reason": item[1]} for source, item in sorted(self.manifest.get("skipped", {}).items())]


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


def load_index(index_dir: str | Path = "index") -> LoadedIndex:
    """Read the current build of ``index_dir``, checking it is whole and consistent.

    Raises:
        IndexNotFoundError: no index was built there yet.
        IndexFormatError: the index is damaged or of another format.
    """
    import faiss

    build = current_build(index_dir)
    if build is None:
        raise IndexNotFoundError(f"no index in {index_dir}; build it with: eucaqa index")
    manifest = read_manifest(build)
    rebuild = "rebuild with: eucaqa index --full"
    try:
        documents = json.loads((build / "documents.json").read_text(encoding="utf-8"))
        chunks = np.load(build / "chunks.npy", allow_pickle=False)
        sentences = np.load(build / "sentences.npy", allow_pickle=False)
        # Memory-mapped: only the rows of the sentences being scored are read.
        sentence_vectors = np.load(build / "sentence_vectors.npy", allow_pickle=False, mmap_mode="r")
        faiss_index = faiss.read_index(str(build / "chunks.faiss"))
        if hasattr(faiss_index, "hnsw"):
            faiss_index.hnsw.efSearch = HNSW_EF_SEARCH
        bm25 = _load_bm25(build / "bm25")
    except FileNotFoundError as error:
        raise IndexFormatError(f"index in {build} is missing {Path(error.filename).name}; {rebuild}") from error
    except Exception as error:  # numpy, json and faiss each raise their own kinds
        raise IndexFormatError(f"index in {build} is damaged ({type(error).__name__}: {error}); {rebuild}") from error
    dimension = manifest["model"]["dimension"]
    problems = []
    if chunks.ndim != 2 or chunks.shape[1] != 6 or chunks.dtype != np.int64:
        problems.append("chunk table has the wrong shape")
    if sentences.ndim != 2 or sentences.shape[1] != 4 or sentences.dtype != np.int64:
        problems.append("sentence table has the wrong shape")
    if faiss_index.ntotal != len(chunks) or faiss_index.d != dimension:
        problems.append(f"FAISS holds {faiss_index.ntotal} vectors of {faiss_index.d} dims for {len(chunks)} chunks of {dimension}")
    if sentence_vectors.shape != (len(sentences), dimension):
        problems.append("sentence vectors do not match the sentences")
    if len(documents) != len(manifest["documents"]) or manifest["counts"]["chunks"] != len(chunks):
        problems.append("metadata does not match the manifest")
    if not problems:
        problems = _check_spans(documents, chunks, sentences)
    if problems:
        raise IndexFormatError(f"index in {build} is inconsistent: {problems[0]}; {rebuild}")
    return LoadedIndex(
        path=build,
        manifest=manifest,
        sources=[doc["source"] for doc in documents],
        texts=[doc["text"] for doc in documents],
        pages=[[Page(*page) for page in doc["pages"]] for doc in documents],
        chunks=chunks,
        sentences=sentences,
        sentence_vectors=sentence_vectors,
        faiss_index=faiss_index,
        bm25=bm25,
    )


def _check_spans(documents: list[dict], chunks: np.ndarray, sentences: np.ndarray) -> list[str]:
    lengths = np.array([len(doc["text"]) for doc in documents], dtype=np.int64)
    for name, rows in (("chunk", chunks), ("sentence", sentences)):
        if len(rows) == 0:
            continue
        doc, start, end = rows[:, 0], rows[:, 2], rows[:, 3]
        if doc.min() < 0 or doc.max() >= len(documents):
            return [f"a {name} points to a document that is not there"]
        if (np.diff(doc) < 0).any():
            return [f"the {name} rows are not in document order"]
        if (start < 0).any() or (end < start).any() or (end > lengths[doc]).any():
            return [f"a {name} span lies outside its document"]
    if len(chunks) and (chunks[:, 4].min() < 0 or chunks[:, 5].max() > len(sentences)):
        return ["a chunk points to sentences that are not there"]
    return []


def make_faiss_index(vectors: np.ndarray):
    """Inner-product FAISS index of unit vectors: exact below HNSW_MIN_CHUNKS, HNSW above."""
    import faiss

    dimension = vectors.shape[1]
    if len(vectors) < HNSW_MIN_CHUNKS:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(vectors)
    return index


def _load_bm25(folder: Path):
    import bm25s

    return bm25s.BM25.load(str(folder), load_corpus=False, mmap=False, allow_pickle=False)


# ----------------------------------------------------------------------- building


def build_index(
    documents_dir: str | Path = "documents",
    index_dir: str | Path = "index",
    full: bool = False,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    on_progress: ProgressCallback | None = None,
    on_file: Callable[[str], None] | None = None,
) -> IndexStats:
    """Bring the index in ``index_dir`` up to date with the files in ``documents_dir``.

    Unchanged documents (same content hash, same model and settings) keep their
    vectors; new and changed ones are embedded; removed ones are dropped. With
    ``full=True`` everything is embedded again. Bad files are skipped with their
    reason in ``IndexStats.skipped``.

    Raises:
        DocumentsFolderError: the documents folder is missing or empty (the
            existing index is left as it was).
        IndexWriteError: the index folder cannot be written.
    """
    started = time.perf_counter()
    settings = settings or Settings()
    documents_dir, index_dir = Path(documents_dir), Path(index_dir)
    files = list_document_files(documents_dir)
    embedder = embedder or Embedder(settings.model_path, batch_size=settings.embed_batch_size)
    config = build_config(settings, embedder)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IndexWriteError(f"cannot create index folder {index_dir}: {error.strerror or error}") from error
    with _build_lock(index_dir):
        previous = None if full else _previous_build(index_dir, config)
        stats = IndexStats()
        kept: list[IndexedDocument] = []
        fresh: list[tuple[str, str, Document, ChunkedDocument]] = []
        skipped_hashes: dict[str, tuple[str, str]] = {}
        sizes: dict[str, int] = {}
        options = ChunkingOptions(
            model_path=str(embedder.model_path),
            max_tokens=min(settings.chunk_max_tokens, embedder.max_tokens),
            overlap=settings.chunk_overlap_sentences,
            ocr_cache=str(index_dir / OCR_CACHE_FOLDER),
        )
        logger.debug("phase: reading documents")
        with FileReader(options, settings.load_timeout_seconds) as reader:
            for path in files:
                source = source_name(path, documents_dir)
                if on_file:
                    on_file(source)
                content_hash = file_hash(path)
                if previous and source in previous.documents and previous.documents[source].content_hash == content_hash:
                    kept.append(previous.documents[source])
                    continue
                if previous and previous.skipped.get(source, (None,))[0] == content_hash:
                    reason = previous.skipped[source][1]
                else:
                    try:
                        document, chunked = reader.read(
                            path, source,
                            on_ocr_page=(lambda page, pages, source=source: on_file(f"{source} (OCR, page {page} of {pages})"))
                            if on_file else None,
                        )
                        fresh.append((source, content_hash, document, chunked))
                        sizes[source] = path.stat().st_size
                        continue
                    except DocumentError as error:
                        reason = str(error)
                logger.warning("skipped %s: %s", source, reason)
                stats.skipped.append((source, reason))
                skipped_hashes[source] = (content_hash, reason)

        current_sources = {source_name(path, documents_dir) for path in files}
        if previous:
            stats.removed = sum(1 for source in previous.documents if source not in current_sources)
        unchanged = (
            previous is not None
            and not fresh
            and stats.removed == 0
            and len(kept) == len(previous.documents)
            and previous.skipped == skipped_hashes
        )
        if not kept and not fresh:
            raise DocumentsFolderError(
                f"none of the {len(files)} files in {documents_dir} could be read; the index is left as it was"
            )
        logger.debug("phase: embedding %d documents", len(fresh))
        new_documents = _embed(fresh, embedder, on_progress)
        read_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for document in new_documents:
            document.size, document.indexed_at = sizes.get(document.source, 0), read_at
        by_source = {doc.source: doc for doc in kept + new_documents}
        ordered = [by_source[s] for s in sorted(by_source)]
        stats.documents = len(ordered)
        stats.chunks = sum(len(doc.chunks) for doc in ordered)
        stats.embedded = sum(len(doc.chunks) for doc in new_documents)
        stats.reused = sum(len(doc.chunks) for doc in kept)
        if not unchanged:
            write_build(index_dir, ordered, config, skipped_hashes)
        stats.seconds = time.perf_counter() - started
        return stats


@dataclass
class _PreviousBuild:
    documents: dict[str, IndexedDocument]
    skipped: dict[str, tuple[str, str]]


def build_config(settings: Settings, embedder: Embedder) -> dict:
    """What must match for stored vectors to be reused."""
    return {
        "format_version": FORMAT_VERSION,
        "model": {
            "name": embedder.name,
            "fingerprint": embedder.fingerprint(),
            "max_tokens": embedder.max_tokens,
        },
        "chunking": {
            "max_tokens": settings.chunk_max_tokens,
            "overlap_sentences": settings.chunk_overlap_sentences,
            "sentences": "blingfire",
            "bm25_stopwords": BM25_STOPWORDS,
        },
    }


def _previous_build(index_dir: Path, config: dict) -> _PreviousBuild | None:
    """The current build's documents when their vectors can be reused, else None."""
    try:
        build = current_build(index_dir)
        if build is None:
            return None
        manifest = read_manifest(build)
    except IndexFormatError as error:
        logger.warning("previous index not reusable, embedding everything: %s", error)
        return None
    model = {key: manifest["model"].get(key) for key in config["model"]}
    if model != config["model"] or manifest.get("chunking") != config["chunking"]:
        logger.warning("model or chunking settings changed since the last build: embedding everything")
        return None
    try:
        loaded = load_index(index_dir)
        chunk_vectors = np.load(build / "chunk_vectors.npy", allow_pickle=False, mmap_mode="r")
    except Exception as error:
        logger.warning("previous index not reusable, embedding everything: %s", error)
        return None
    # Rows are grouped by document, in document order: find each group's bounds once.
    numbers = np.arange(len(manifest["documents"]) + 1)
    chunk_bounds = np.searchsorted(loaded.chunks[:, 0], numbers)
    sentence_bounds = np.searchsorted(loaded.sentences[:, 0], numbers)
    documents: dict[str, IndexedDocument] = {}
    for number, entry in enumerate(manifest["documents"]):
        chunk_rows = slice(chunk_bounds[number], chunk_bounds[number + 1])
        sentence_rows = slice(sentence_bounds[number], sentence_bounds[number + 1])
        chunks = loaded.chunks[chunk_rows].copy()
        chunks[:, 4:6] -= sentence_bounds[number]
        documents[entry["source"]] = IndexedDocument(
            source=entry["source"],
            content_hash=entry["content_hash"],
            text=loaded.texts[number],
            pages=loaded.pages[number],
            chunks=chunks,
            sentences=loaded.sentences[sentence_rows].copy(),
            chunk_vectors=np.array(chunk_vectors[chunk_rows]),
            sentence_vectors=np.array(loaded.sentence_vectors[sentence_rows]),
            empty_pages=[int(number) for number in entry.get("empty_pages", [])],
            size=int(entry.get("bytes") or 0),
            indexed_at=str(entry.get("indexed_at") or manifest.get("built_at", "")),
        )
    skipped = {source: (item[0], item[1]) for source, item in manifest.get("skipped", {}).items()}
    return _PreviousBuild(documents=documents, skipped=skipped)


def _embed(
    fresh: list[tuple[str, str, Document, ChunkedDocument]],
    embedder: Embedder,
    on_progress: ProgressCallback | None,
) -> list[IndexedDocument]:
    """Embed the chunks and sentences of new or changed documents in one pass."""
    texts: list[str] = []
    for _, _, _, chunked in fresh:
        texts.extend(chunk.text for chunk in chunked.chunks)
        texts.extend(sentence.text for sentence in chunked.sentences)
    vectors = embedder.encode(texts, on_progress=on_progress) if texts else None
    result = []
    offset = 0
    for source, content_hash, document, chunked in fresh:
        n_chunks, n_sentences = len(chunked.chunks), len(chunked.sentences)
        chunk_vectors = vectors[offset : offset + n_chunks] if n_chunks else _empty(embedder)
        offset += n_chunks
        sentence_vectors = vectors[offset : offset + n_sentences] if n_sentences else _empty(embedder)
        offset += n_sentences
        result.append(
            IndexedDocument(
                source=source,
                content_hash=content_hash,
                text=document.text,
                pages=document.pages,
                chunks=np.array(
                    [
                        [0, _page(c.page), c.start, c.end, c.first_sentence, c.stop_sentence]
                        for c in chunked.chunks
                    ],
                    dtype=np.int64,
                ).reshape(-1, 6),
                sentences=np.array(
                    [[0, _page(s.page), s.start, s.end] for s in chunked.sentences], dtype=np.int64
                ).reshape(-1, 4),
                chunk_vectors=chunk_vectors,
                sentence_vectors=sentence_vectors,
                empty_pages=list(document.empty_pages),
            )
        )
    return result


def _empty(embedder: Embedder) -> np.ndarray:
    return np.zeros((0, embedder.dimension), dtype=np.float32)


def _page(number: int | None) -> int:
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
    import Stemmer

    name = f"build-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = index_dir / f".tmp-{name}"
    try:
        logger.debug("phase: writing arrays")
        staging.mkdir()
        chunks, sentences, chunk_vectors, sentence_vectors = _stack(documents, config)
        dimension = chunk_vectors.shape[1]
        np.save(staging / "chunks.npy", chunks, allow_pickle=False)
        np.save(staging / "sentences.npy", sentences, allow_pickle=False)
        np.save(staging / "chunk_vectors.npy", chunk_vectors, allow_pickle=False)
        np.save(staging / "sentence_vectors.npy", sentence_vectors, allow_pickle=False)
        logger.debug("phase: writing faiss")
        faiss_index = make_faiss_index(chunk_vectors)
        faiss.write_index(faiss_index, str(staging / "chunks.faiss"))
        logger.debug("phase: writing bm25")
        chunk_texts = [documents[d].text[s:e] for d, _, s, e, _, _ in chunks.tolist()]
        tokens = bm25s.tokenize(
            chunk_texts, stopwords=BM25_STOPWORDS, stemmer=Stemmer.Stemmer("english"), show_progress=False
        )
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
    _remove_old_builds(index_dir)
    return final


def _stack(documents: list[IndexedDocument], config: dict):
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
    dimension = documents[0].chunk_vectors.shape[1]

    def concat(arrays, width, dtype):
        arrays = [a for a in arrays if len(a)]
        return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros((0, width), dtype=dtype)
    return (
        concat(chunk_tables, 6, np.int64),
        concat(sentence_tables, 4, np.int64),
        np.ascontiguousarray(concat([d.chunk_vectors for d in documents], dimension, np.float32)),
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


def _remove_old_builds(index_dir: Path) -> None:
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


class _build_lock:
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
        _remove_old_builds(self.index_dir)
        return self

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
