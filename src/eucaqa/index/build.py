"""Building the index: plan what changed, read the new files, embed them, write a build.

Unchanged documents (same content hash, model and settings) keep their vectors
from the current build; only new and changed ones are read and embedded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..chunking import ChunkedDocument
from ..documents import TEXT_CLEANING_VERSION, Document, file_hash, list_document_files, source_name
from ..embedding import Embedder, ProgressCallback, shared_embedder
from ..errors import DocumentError, DocumentsFolderError, IndexFormatError, IndexWriteError
from ..file_worker import ChunkingOptions, FileReader
from ..ocr import ocr_state
from ..settings import Settings
from ..text import STOPWORDS_NAME
from .loaded import load_index
from .store import (
    FORMAT_VERSION,
    OCR_CACHE_FOLDER,
    BuildLock,
    IndexedDocument,
    current_build,
    page_code,
    read_manifest,
    write_build,
)

logger = logging.getLogger(__name__)


@dataclass
class IndexStats:
    """What a build did. ``embedded`` and ``reused`` count chunks: those of documents whose
    sentences were embedded, and of documents whose vectors were kept; ``removed`` counts documents."""

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
    embedder = embedder or shared_embedder(settings.model_path, batch_size=settings.embed_batch_size)
    config = build_config(settings, embedder)
    ocr = ocr_state()
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IndexWriteError(f"cannot create index folder {index_dir}: {error.strerror or error}") from error
    with BuildLock(index_dir):
        previous = None if full else _previous_build(index_dir, config)
        # OCR turned on or off, installed or upgraded since: scans are read again, skipped files retried
        ocr_changed = previous is not None and previous.ocr != ocr
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
                earlier = previous.documents.get(source) if previous else None
                if earlier and earlier.content_hash == content_hash and not (ocr_changed and _touched_by_ocr(earlier)):
                    kept.append(earlier)
                    continue
                if previous and previous.skipped.get(source, (None,))[0] == content_hash and not ocr_changed:
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
            write_build(index_dir, ordered, {**config, "ocr": ocr}, skipped_hashes)
        stats.seconds = time.perf_counter() - started
        return stats


@dataclass
class _PreviousBuild:
    documents: dict[str, IndexedDocument]
    skipped: dict[str, tuple[str, str]]
    #: the OCR engine that read its scans, or why there was none (:func:`~eucaqa.ocr.ocr_state`)
    ocr: str | None = None


def _touched_by_ocr(document: IndexedDocument) -> bool:
    """Whether OCR read some of the document's pages, or would have read its empty ones."""
    return bool(document.empty_pages) or any(page.ocr for page in document.pages)


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
            "bm25_stopwords": STOPWORDS_NAME,
            "bm25_abbreviations_joined": True,
            "text_cleaning": TEXT_CLEANING_VERSION,
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
        logger.warning("model, chunking or text cleaning changed since the last build: embedding everything")
        return None
    try:
        loaded = load_index(index_dir)
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
            sentence_vectors=np.array(loaded.sentence_vectors[sentence_rows]),
            empty_pages=[int(page) for page in entry.get("empty_pages", [])],
            size=int(entry.get("bytes") or 0),
            indexed_at=str(entry.get("indexed_at") or manifest.get("built_at", "")),
        )
    skipped = {source: (item[0], item[1]) for source, item in manifest.get("skipped", {}).items()}
    return _PreviousBuild(documents=documents, skipped=skipped, ocr=manifest.get("ocr"))


def _embed(
    fresh: list[tuple[str, str, Document, ChunkedDocument]],
    embedder: Embedder,
    on_progress: ProgressCallback | None,
) -> list[IndexedDocument]:
    """Embed the sentences of new or changed documents in one pass (chunks are not embedded:
    a passage is found by its best sentence)."""
    texts: list[str] = []
    for _, _, _, chunked in fresh:
        texts.extend(sentence.text for sentence in chunked.sentences)
    vectors = embedder.encode(texts, on_progress=on_progress) if texts else None
    result = []
    offset = 0
    for source, content_hash, document, chunked in fresh:
        n_sentences = len(chunked.sentences)
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
                        [0, page_code(c.page), c.start, c.end, c.first_sentence, c.stop_sentence]
                        for c in chunked.chunks
                    ],
                    dtype=np.int64,
                ).reshape(-1, 6),
                sentences=np.array(
                    [[0, page_code(s.page), s.start, s.end] for s in chunked.sentences], dtype=np.int64
                ).reshape(-1, 4),
                sentence_vectors=sentence_vectors,
                empty_pages=list(document.empty_pages),
            )
        )
    return result


def _empty(embedder: Embedder) -> np.ndarray:
    return np.zeros((0, embedder.dimension), dtype=np.float32)

