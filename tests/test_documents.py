"""Loading and cleaning: de-hyphenation, whitespace, PDFs page by page, bad files."""

from __future__ import annotations

import logging

import pytest

from eucaqa.documents import clean_text, join_split_ligatures, list_document_files, load_document
from eucaqa.errors import DocumentError, DocumentsFolderError

from conftest import PDF_DIR


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the Kazakh-\nstan delegation", "the Kazakhstan delegation"),
        ("ratification of the PCA, gov-\nerned by", "ratification of the PCA, governed by"),
        ("broken across a page multi-dimen-\n\nsional policy", "broken across a page multi-dimensional policy"),
        ("in the EU-\nCentral Asia relations", "in the EU-Central Asia relations"),
        ("the period of 2013-\n2017 saw", "the period of 2013-2017 saw"),
        ("a real hyphen: EU-Central and 2013-2017", "a real hyphen: EU-Central and 2013-2017"),
        ("lines of one\nparagraph   are\tjoined", "lines of one paragraph are joined"),
        ("first paragraph\n\n\n  second paragraph", "first paragraph\n\nsecond paragraph"),
        ("ﬁlled with oﬃcial text", "filled with official text"),
        ("of\ue020the\ue020United", "of the United"),
        ("  \n \n ", ""),
        # a margin's line numbering is dropped; a short run or numbers among words are not
        ("Would manga\n“PIRACY” 27\n1\n2\n3\n4\n5\n6\nS7\nR8\n4TH PASS", "Would manga “PIRACY” 27 4TH PASS"),
        ("steps\n1\n2\n3\n4\nend", "steps 1 2 3 4 end"),
        ("Rank\n1\nChina\n2\nIndia\n3\nUSA", "Rank 1 China 2 India 3 USA"),
        ("in\n1991\n1992\n1993\n1994\n1995 alone", "in 1991 1992 1993 1994 1995 alone"),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_a_hyphen_the_document_uses_elsewhere_is_kept():
    raw = "a multi-dimensional policy.\nKazakhstan runs a multi-\ndimensional foreign policy."
    assert clean_text(raw) == "a multi-dimensional policy. Kazakhstan runs a multi-dimensional foreign policy."


def test_a_word_the_document_spells_whole_is_joined():
    raw = "a multidimensional policy. Kazakhstan runs a multi-\ndimensional foreign policy."
    assert "runs a multidimensional foreign" in clean_text(raw)


def test_words_split_after_a_ligature_are_mended_unless_the_rest_is_a_word():
    pages = [(1, "the fi rst Monday, Offi cers and infl icted"), (2, "a chief of staff of the Office")]
    assert join_split_ligatures(pages) == [
        (1, "the first Monday, Officers and inflicted"),
        (2, "a chief of staff of the Office"),
    ]


def test_a_pdf_with_split_ligatures_reads_whole_words():
    text = load_document(PDF_DIR / "us_constitution.pdf").text
    assert "twenty five Years" in text and "Ratified" in text
    assert "fi ve" not in text and "Ratifi ed" not in text


def test_real_multipage_pdf_keeps_page_numbers():
    document = load_document(PDF_DIR / "us_constitution.pdf")
    numbers = [page.number for page in document.pages]
    assert numbers == list(range(1, 20))
    by_number = {page.number: document.text[page.start : page.end] for page in document.pages}
    assert "We the People of the United States" in by_number[2]
    assert "Senate" in by_number[2] and "Sen-" not in by_number[2]
    assert "NATIONAL CONSTITUTION CENTER" in by_number[1]
    assert "\ue020" not in document.text


def test_empty_password_pdf_opens():
    document = load_document(PDF_DIR / "pr-138-example.pdf")
    assert [page.number for page in document.pages] == [1, 2]
    assert "Commonwealth Bank of Australia" in document.text


def test_ligatures_and_hyphens_of_a_two_column_pdf():
    document = load_document(PDF_DIR / "multicolumn.pdf")
    assert "\ufb01" not in document.text
    assert "adipiscing" in document.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("crazyones-encrypted-256.pdf", "password"),
        ("bad7.pdf", "unreadable PDF"),
        ("missing_xref_trailer_dict.pdf", "unreadable PDF"),
        ("missing_endobj_keyword.pdf", "unreadable PDF"),
    ],
)
def test_bad_pdfs_raise_document_error_with_reason(name, reason):
    with pytest.raises(DocumentError, match=reason):
        load_document(PDF_DIR / name)


def test_a_scan_without_ocr_has_no_extractable_text(monkeypatch):
    monkeypatch.setenv("EUCAQA_OCR", "0")
    with pytest.raises(DocumentError, match="no extractable text .*OCR is turned off"):
        load_document(PDF_DIR / "linn.pdf")


def test_truncated_pdf_is_refused(tmp_path):
    data = (PDF_DIR / "us_constitution.pdf").read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentError):
        load_document(truncated)


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(DocumentError, match="empty file"):
        load_document(tmp_path / "empty.txt")


def test_binary_junk_named_txt(tmp_path):
    import random

    junk = tmp_path / "junk.txt"
    junk.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(DocumentError, match="binary"):
        load_document(junk)


def test_unsupported_extension(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DocumentError, match="unsupported file type '.docx'"):
        load_document(tmp_path / "notes.docx")


def test_undecodable_bytes_are_replaced_with_a_warning(tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\xe9 in Almaty. The EU met Kazakhstan.".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="eucaqa"):
        document = load_document(path)
    assert "\ufffd" in document.text and "Almaty" in document.text
    assert any("latin1.txt" in record.getMessage() for record in caplog.records)


def test_text_files_have_no_page_number(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# Title\n\nSome text.", encoding="utf-8")
    document = load_document(path)
    assert [page.number for page in document.pages] == [None]


def test_missing_and_empty_documents_folder(tmp_path):
    with pytest.raises(DocumentsFolderError, match="not found"):
        list_document_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentsFolderError, match="empty"):
        list_document_files(tmp_path / "empty")
