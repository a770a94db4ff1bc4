"""The index at question time: a build read back from disk and checked, ready for questions.

Imports the storage module, the page type, the errors and the link of a span; never writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..documents import Page
from ..errors import IndexFormatError, IndexNotFoundError
from ..links import document_link
from .store import FAISS_FILE, HNSW_EF_SEARCH, VECTORS_FILE, current_build, nearest_vectors, page_number, read_manifest


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

    def nearest_sentences(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``count`` sentences nearest a unit ``query`` vector and their cosines, best first."""
        return nearest_vectors(self.faiss_index, self.sentence_vectors, query, count)

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
        sentence_vectors = np.load(build / VECTORS_FILE, allow_pickle=False, mmap_mode="r")
        faiss_index = faiss.read_index(str(build / FAISS_FILE))
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
    if faiss_index.ntotal != len(sentences) or faiss_index.d != dimension:
        problems.append(
            f"FAISS holds {faiss_index.ntotal} vectors of {faiss_index.d} dims for {len(sentences)} sentences of {dimension}"
        )
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


def _load_bm25(folder: Path):
    import bm25s

    return bm25s.BM25.load(str(folder), load_corpus=False, mmap=False, allow_pickle=False)

