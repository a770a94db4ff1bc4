"""Sentences and chunks: exact offsets, the model's window, overlap."""

from __future__ import annotations

import pytest

from eucaqa.chunking import SPECIAL_TOKENS, chunk_document
from eucaqa.text import sentence_spans
from eucaqa.documents import Document, Page, list_document_files, load_document

from conftest import PDF_DIR, SHIPPED_DOCUMENTS

MAX_TOKENS = 200


@pytest.fixture(scope="module")
def shipped_documents():
    return [load_document(path, path.name) for path in list_document_files(SHIPPED_DOCUMENTS)]


def test_every_chunk_and_sentence_of_the_shipped_corpus_matches_its_offsets(shipped_documents, embedder):
    total = 0
    for document in shipped_documents:
        chunked = chunk_document(document, embedder.count_tokens, max_tokens=MAX_TOKENS)
        assert chunked.chunks and chunked.sentences
        for item in [*chunked.chunks, *chunked.sentences]:
            assert document.text[item.start : item.end] == item.text
            assert item.text == item.text.strip() and item.text
            total += 1
        for chunk in chunked.chunks:
            inside = chunked.sentences[chunk.first_sentence : chunk.stop_sentence]
            assert inside[0].start == chunk.start and inside[-1].end == chunk.end
    assert total > 100


def test_chunks_fit_the_window_and_overlap_by_one_sentence(shipped_documents, embedder):
    document = shipped_documents[0]
    chunked = chunk_document(document, embedder.count_tokens, max_tokens=MAX_TOKENS, overlap=1)
    for chunk in chunked.chunks:
        assert embedder.count_tokens([chunk.text])[0] + SPECIAL_TOKENS <= MAX_TOKENS + 8
    for before, after in zip(chunked.chunks, chunked.chunks[1:]):
        assert after.first_sentence == before.stop_sentence - 1


def test_pdf_chunks_stay_on_their_page(embedder):
    document = load_document(PDF_DIR / "us_constitution.pdf")
    chunked = chunk_document(document, embedder.count_tokens, max_tokens=MAX_TOKENS)
    pages = {page.number: page for page in document.pages}
    for chunk in chunked.chunks:
        page = pages[chunk.page]
        assert page.start <= chunk.start < chunk.end <= page.end
        assert document.text[chunk.start : chunk.end] == chunk.text


def test_a_sentence_longer_than_the_window_is_split_at_words(embedder):
    words = " ".join(f"word{i}" for i in range(600))
    text = f"Short start. {words} end. Short end."
    document = Document(source="long.txt", text=text, pages=[Page(None, 0, len(text))])
    chunked = chunk_document(document, embedder.count_tokens, max_tokens=64, overlap=0)
    assert len(chunked.sentences) > 5
    for sentence in chunked.sentences:
        assert embedder.count_tokens([sentence.text])[0] <= 64 - SPECIAL_TOKENS
        assert text[sentence.start : sentence.end] == sentence.text
    covered = " ".join(s.text for s in chunked.sentences)
    assert covered.split() == text.split()


def test_sentences_do_not_cross_paragraphs():
    text = "Introduction\n\nCooperation between states has a long history. It grew."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "Introduction",
        "Cooperation between states has a long history.",
        "It grew.",
    ]


def test_bad_parameters_are_named(shipped_documents, embedder):
    with pytest.raises(ValueError, match="max_tokens must be >= 8, got 2"):
        chunk_document(shipped_documents[0], embedder.count_tokens, max_tokens=2)
    with pytest.raises(ValueError, match="overlap must be >= 0"):
        chunk_document(shipped_documents[0], embedder.count_tokens, overlap=-1)
