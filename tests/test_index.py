"""The index on disk: incremental builds, atomic writes, bad input, no pickle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eucaqa.documents import list_document_files, load_document
from eucaqa.errors import DocumentsFolderError, IndexFormatError, IndexNotFoundError
from eucaqa.index import FORMAT_VERSION, build_index, current_build, load_index
from eucaqa.settings import Settings

from conftest import PDF_DIR

NEW_DOCUMENT = (
    "The Samarkand Connectivity Forum of 2031 gathered ministers from the five Central Asian states.\n\n"
    "Delegates agreed to build a solar power line named the Steppe Sun Link across the Caspian Sea."
)


def build(documents, index_dir, embedder, **kwargs):
    return build_index(documents, index_dir, embedder=embedder, **kwargs)


def snapshot(index_dir: Path) -> dict:
    loaded = load_index(index_dir)
    return {
        "build": loaded.build_id,
        "sources": loaded.sources,
        "chunks": loaded.chunks.tolist(),
        "texts": loaded.texts,
    }


def test_build_then_rebuild_embeds_nothing(docs_copy, tmp_path, embedder):
    index_dir = tmp_path / "index"
    first = build(docs_copy, index_dir, embedder)
    assert first.documents == 2 and first.chunks > 10
    assert first.embedded == first.chunks and first.reused == 0 and first.skipped == []
    before = snapshot(index_dir)
    second = build(docs_copy, index_dir, embedder)
    assert (second.embedded, second.reused, second.removed) == (0, first.chunks, 0)
    assert snapshot(index_dir) == before  # nothing changed: the same build stays current


def test_every_indexed_chunk_matches_its_document(shipped_index):
    loaded = load_index(shipped_index)
    for row in range(len(loaded.chunks)):
        doc, _, start, end = (int(x) for x in loaded.chunks[row, :4])
        fresh = load_document(Path("documents") / loaded.sources[doc], loaded.sources[doc])
        assert fresh.text[start:end] == loaded.chunk_text(row)
    first, stop = loaded.chunks[:, 4], loaded.chunks[:, 5]
    assert (first < stop).all()


def test_add_change_and_remove_embed_only_that_document(docs_copy, tmp_path, embedder):
    index_dir = tmp_path / "index"
    base = build(docs_copy, index_dir, embedder)

    (docs_copy / "new-forum.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    added = build(docs_copy, index_dir, embedder)
    new_chunks = {d["source"]: d for d in load_index(index_dir).manifest["documents"]}["new-forum.txt"]["chunks"]
    assert added.documents == 3 and added.embedded == new_chunks and added.reused == base.chunks

    changed_doc = docs_copy / "trend-2025-02-14-kazakhstan-eu-middle-corridor-talks.txt"
    changed_doc.write_text(changed_doc.read_text(encoding="utf-8") + "\n\nOne more line.", encoding="utf-8")
    changed = build(docs_copy, index_dir, embedder)
    entry = {d["source"]: d for d in load_index(index_dir).manifest["documents"]}[changed_doc.name]
    assert changed.embedded == entry["chunks"] and changed.reused == changed.chunks - entry["chunks"]

    (docs_copy / "new-forum.txt").unlink()
    removed = build(docs_copy, index_dir, embedder)
    assert (removed.removed, removed.embedded, removed.documents) == (1, 0, 2)
    assert "new-forum.txt" not in load_index(index_dir).sources


def test_reused_vectors_equal_fresh_ones(docs_copy, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(docs_copy, index_dir, embedder)
    (docs_copy / "new-forum.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    build(docs_copy, index_dir, embedder)
    incremental = np.load(current_build(index_dir) / "sentence_vectors.npy")
    build(docs_copy, index_dir, embedder, full=True)
    full = np.load(current_build(index_dir) / "sentence_vectors.npy")
    assert np.allclose(incremental, full, atol=1e-5)


def test_full_rebuild_and_changed_settings_embed_everything(docs_copy, tmp_path, embedder):
    index_dir = tmp_path / "index"
    first = build(docs_copy, index_dir, embedder)
    assert build(docs_copy, index_dir, embedder, full=True).embedded == first.chunks
    smaller = Settings(chunk_max_tokens=120)
    again = build(docs_copy, index_dir, embedder, settings=smaller)
    assert again.reused == 0 and again.embedded == again.chunks > first.chunks


def test_a_changed_text_cleaning_embeds_everything(docs_copy, tmp_path, embedder, monkeypatch):
    import eucaqa.index.build as build_module

    index_dir = tmp_path / "index"
    first = build(docs_copy, index_dir, embedder)
    assert build(docs_copy, index_dir, embedder).reused == first.chunks
    monkeypatch.setattr(build_module, "TEXT_CLEANING_VERSION", build_module.TEXT_CLEANING_VERSION + 1)
    again = build(docs_copy, index_dir, embedder)
    assert again.reused == 0 and again.embedded == again.chunks


def test_another_model_forces_a_full_rebuild(docs_copy, tmp_path, embedder):
    from eucaqa.embedding import Embedder

    index_dir = tmp_path / "index"
    build(docs_copy, index_dir, embedder)
    other_model = tmp_path / "other-model"
    shutil.copytree(embedder.model_path, other_model)
    config = other_model / "config_sentence_transformers.json"
    config.write_text(config.read_text() + "\n")
    stats = build(docs_copy, index_dir, Embedder(other_model))
    assert stats.reused == 0 and stats.embedded == stats.chunks


def test_failure_mid_build_keeps_the_previous_index(docs_copy, tmp_path, embedder, monkeypatch):
    import faiss

    index_dir = tmp_path / "index"
    build(docs_copy, index_dir, embedder)
    before = snapshot(index_dir)
    (docs_copy / "new-forum.txt").write_text(NEW_DOCUMENT, encoding="utf-8")

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build(docs_copy, index_dir, embedder)
    monkeypatch.undo()
    assert snapshot(index_dir) == before
    stats = build(docs_copy, index_dir, embedder)
    assert stats.documents == 3 and not list(index_dir.glob(".tmp-*"))


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_indexed(docs_copy, tmp_path, embedder):
    import random

    for name in ("crazyones-encrypted-256.pdf", "bad7.pdf", "missing_endobj_keyword.pdf",
                 "missing_xref_trailer_dict.pdf", "us_constitution.pdf"):
        shutil.copy(PDF_DIR / name, docs_copy / name)
    data = (PDF_DIR / "multicolumn.pdf").read_bytes()
    (docs_copy / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (docs_copy / "empty.txt").write_bytes(b"")
    (docs_copy / "junk.txt").write_bytes(random.Random(3).randbytes(2048))
    (docs_copy / "slides.pptx").write_bytes(b"PK\x03\x04")
    index_dir = tmp_path / "index"
    stats = build(docs_copy, index_dir, embedder)
    reasons = dict(stats.skipped)
    assert set(reasons) == {
        "crazyones-encrypted-256.pdf", "bad7.pdf", "missing_endobj_keyword.pdf",
        "missing_xref_trailer_dict.pdf", "truncated.pdf", "empty.txt", "junk.txt", "slides.pptx",
    }
    assert "password" in reasons["crazyones-encrypted-256.pdf"]
    assert "empty file" in reasons["empty.txt"]
    assert "binary" in reasons["junk.txt"]
    assert "unsupported" in reasons["slides.pptx"]
    assert stats.documents == 3
    assert "us_constitution.pdf" in load_index(index_dir).sources
    # The same bad files are reported again, not re-parsed into a new build.
    again = build(docs_copy, index_dir, embedder)
    assert dict(again.skipped) == reasons and again.embedded == 0


def test_missing_or_empty_documents_folder_leaves_the_index_untouched(docs_copy, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(docs_copy, index_dir, embedder)
    before = snapshot(index_dir)
    with pytest.raises(DocumentsFolderError, match="not found"):
        build(tmp_path / "missing", index_dir, embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentsFolderError, match="empty"):
        build(tmp_path / "empty", index_dir, embedder)
    (tmp_path / "only-bad").mkdir()
    (tmp_path / "only-bad" / "empty.txt").write_bytes(b"")
    with pytest.raises(DocumentsFolderError, match="could be read"):
        build(tmp_path / "only-bad", index_dir, embedder)
    assert snapshot(index_dir) == before


def test_no_pickle_in_the_index(shipped_index):
    build_dir = current_build(shipped_index)
    files = [path for path in build_dir.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert path.suffix in {".npy", ".json", ".faiss"}, path
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            assert array.dtype != object
        data = path.read_bytes()
        if path.suffix == ".json":
            json.loads(data)
    manifest = json.loads((build_dir / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION == 2 and manifest["model"]["dimension"] == 384
    assert {"content_hash", "chunks"} <= set(manifest["documents"][0])


def test_loading_without_an_index(tmp_path):
    with pytest.raises(IndexNotFoundError, match="eucaqa index"):
        load_index(tmp_path / "nothing")


def test_a_tampered_manifest_is_reported(shipped_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(shipped_index, copy)
    manifest_path = current_build(copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format version 99.*eucaqa index --full"):
        load_index(copy)


def test_an_index_of_the_chunk_vector_format_asks_for_a_rebuild_and_an_update_rebuilds_it(
    shipped_index, docs_copy, tmp_path, embedder
):
    copy = tmp_path / "index"
    shutil.copytree(shipped_index, copy)
    build = current_build(copy)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["format_version"] = 1  # format 1 kept chunk vectors in chunks.faiss
    (build / "manifest.json").write_text(json.dumps(manifest))
    (build / "sentences.faiss").rename(build / "chunks.faiss")
    with pytest.raises(IndexFormatError, match="format version 1, this eucaqa reads 2; rebuild with: eucaqa index --full"):
        load_index(copy)
    stats = build_index(docs_copy, copy, embedder=embedder)
    assert stats.embedded == stats.chunks > 0 and stats.reused == 0
    assert load_index(copy).faiss_index.ntotal == len(load_index(copy).sentences)


def test_shipped_documents_all_load():
    assert len(list_document_files(Path("documents"))) >= 2


def test_small_indexes_are_exact_and_large_ones_hnsw_with_high_recall(monkeypatch):
    import faiss

    from eucaqa.index import store as index_store
    from eucaqa.index import make_faiss_index, nearest_vectors

    rng = np.random.default_rng(11)
    centres = rng.standard_normal((60, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 60, 4000)] + 0.4 * rng.standard_normal((4000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert isinstance(make_faiss_index(vectors), faiss.IndexFlatIP)
    monkeypatch.setattr(index_store, "HNSW_MIN_VECTORS", 1000)
    approximate = make_faiss_index(vectors)
    assert hasattr(approximate, "hnsw")
    exact = faiss.IndexFlatIP(384)
    exact.add(vectors)
    queries = vectors[rng.integers(0, 4000, 50)] + 0.2 * rng.standard_normal((50, 384)).astype(np.float32)
    _, truth = exact.search(queries, 10)
    found = [nearest_vectors(approximate, vectors, query, 10)[0] for query in queries]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)])
    assert recall >= 0.98


def test_documents_table_lists_pages_without_text_size_time_and_skipped_files(tmp_path, embedder, monkeypatch):
    import shutil as _shutil

    from pypdf import PdfReader, PdfWriter

    from conftest import PDF_DIR
    from eucaqa.index import load_index

    monkeypatch.setenv("EUCAQA_OCR", "0")
    documents = tmp_path / "documents"
    documents.mkdir()
    _shutil.copyfile(PDF_DIR / "us_constitution.pdf", documents / "us_constitution.pdf")
    _shutil.copyfile(PDF_DIR / "linn.pdf", documents / "linn.pdf")
    writer = PdfWriter()
    writer.add_page(PdfReader(PDF_DIR / "us_constitution.pdf").pages[1])
    writer.add_blank_page()
    with open(documents / "with-blank-page.pdf", "wb") as handle:
        writer.write(handle)
    (documents / "note.txt").write_text("The Aral Basin Fund was set up in 2030.", encoding="utf-8")
    build_index(documents, tmp_path / "index", embedder=embedder)
    loaded = load_index(tmp_path / "index")
    rows = {row["source"]: row for row in loaded.documents_table()}
    assert rows["us_constitution.pdf"]["pages"] == 19 and rows["us_constitution.pdf"]["empty_pages"] == []
    assert rows["us_constitution.pdf"]["bytes"] == (documents / "us_constitution.pdf").stat().st_size
    assert rows["note.txt"]["indexed_at"].endswith("+00:00")
    assert rows["with-blank-page.pdf"]["pages"] == 1 and rows["with-blank-page.pdf"]["empty_pages"] == [2]
    assert [item["source"] for item in loaded.skipped_table()] == ["linn.pdf"]
    # an unchanged document keeps what was recorded when it was read
    (documents / "other.txt").write_text("Another note on the Syr Darya.", encoding="utf-8")
    build_index(documents, tmp_path / "index", embedder=embedder)
    again = {row["source"]: row for row in load_index(tmp_path / "index").documents_table()}
    assert again["note.txt"]["indexed_at"] == rows["note.txt"]["indexed_at"]
    assert again["us_constitution.pdf"]["bytes"] == rows["us_constitution.pdf"]["bytes"]


def test_a_document_mentions_exactly_the_terms_its_passages_hold(shipped_index):
    from eucaqa.retrieval import Retriever
    from eucaqa.text import lexical_terms

    index = load_index(shipped_index)
    retriever = Retriever(index)
    documents = sorted({int(doc) for doc in index.chunks[:, 0]})
    assert len(documents) >= 2
    held = {doc: set() for doc in documents}
    for row in range(len(index.chunks)):
        held[int(index.chunks[row, 0])].update(lexical_terms(index.chunk_text(row)))
    terms = sorted(retriever.vocabulary)[::7] + ["kazakhst", "nosuchword"]

    def expected(doc: int, term: str) -> bool:
        return term in held[doc] or (len(term) >= 5 and any(stem.startswith(term[:-1]) for stem in held[doc]))

    in_order = {(doc, term): retriever.mentions(doc, term) for doc in documents for term in terms}
    assert in_order == {(doc, term): expected(doc, term) for doc in documents for term in terms}
    assert any(in_order.values()) and not all(in_order.values())
    retriever._documents_in_order = False  # the path for an index whose chunks are not grouped by document
    assert {(doc, term): retriever.mentions(doc, term) for doc in documents for term in terms} == in_order
