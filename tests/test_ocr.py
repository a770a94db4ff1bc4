"""Scanned PDFs: pages without a text layer are read by OCR (Tesseract with its English model, real)."""

from __future__ import annotations

import shutil

import pytest

from pypdf import PdfReader

from eucaqa import answer
from eucaqa.documents import load_document
from eucaqa.evaluation import contains_any
from eucaqa.index import OCR_CACHE_FOLDER, build_index, load_index

from conftest import PDF_DIR

SCAN_DPI = 300


def image_only_pdf(source, pages: list[int], target, turns: list[int] | None = None) -> None:
    """Render ``pages`` of ``source`` to pictures and save them as a PDF with no text layer; with
    ``turns``, each picture turned by so many degrees counter-clockwise (a scan fed in sideways,
    upside down or crooked)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(source))
    try:
        images = [pdf[number - 1].render(scale=SCAN_DPI / 72).to_pil().convert("L") for number in pages]
        images = [image.rotate(turn, expand=True, fillcolor=255) for image, turn in zip(images, turns or [0] * len(images))]
    finally:
        pdf.close()
    images[0].save(target, "PDF", resolution=SCAN_DPI, save_all=True, append_images=images[1:])


def stamp(source, target, text: str, picture_share: float | None = None) -> None:
    """Write ``text`` in small type at the foot of each page of ``source`` (a stamp, as a scanner's
    software or a records office puts on a scan); with ``picture_share``, first draw each page anew:
    a blank page with a grey picture covering that share of it, instead of the scan."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from PIL import Image

    pdf = pdfium.PdfDocument(str(source))
    for number in range(len(pdf)):
        page = pdf[number]
        if picture_share is not None:
            width, height = page.get_size()
            pdf.del_page(number)
            page = pdf.new_page(width, height, index=number)
            picture = pdfium.PdfImage.new(pdf)
            picture.set_bitmap(pdfium.PdfBitmap.from_pil(Image.new("RGB", (100, 100), (128, 128, 128))))
            side = (picture_share * width * height) ** 0.5
            picture.set_matrix(pdfium.PdfMatrix().scale(side, side).translate(50, height - 50 - side))
            page.insert_obj(picture)
        wide = (text + "\0").encode("utf-16-le")
        stamped = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", 9.0)
        assert pdfium_c.FPDFText_SetText(stamped, (ctypes.c_ushort * (len(wide) // 2)).from_buffer_copy(wide))
        pdfium_c.FPDFPageObj_Transform(stamped, 1, 0, 0, 1, 400, 20)
        pdfium_c.FPDFPage_InsertObject(page.raw, stamped)
        assert pdfium_c.FPDFPage_GenerateContent(page.raw)
    pdf.save(str(target))
    pdf.close()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, embedder):
    """An index of linn.pdf (a 300 dpi scan) and two constitution pages rendered to pictures."""
    root = tmp_path_factory.mktemp("ocr")
    documents = root / "documents"
    documents.mkdir()
    shutil.copyfile(PDF_DIR / "linn.pdf", documents / "linn.pdf")
    image_only_pdf(PDF_DIR / "us_constitution.pdf", [2, 3], documents / "constitution-scan.pdf")
    messages: list[str] = []
    stats = build_index(documents, root / "index", embedder=embedder, on_file=messages.append)
    return root, documents, stats, messages


def test_the_scans_have_no_text_layer(scanned):
    from pypdf import PdfReader

    _, documents, _, _ = scanned
    for name in ("linn.pdf", "constitution-scan.pdf"):
        assert all(not (page.extract_text() or "").strip() for page in PdfReader(documents / name).pages)


def test_a_scanned_brochure_is_indexed_and_answers(scanned):
    root, _, stats, messages = scanned
    assert stats.skipped == [] and stats.documents == 2
    assert any("linn.pdf (OCR, page 1 of 1)" in message for message in messages)
    result = answer("How many notes does one disk hold?", index_dir=root / "index")
    assert result.found and contains_any(result.text, ["110,000"])
    holding = [s for s in result.sentences if "110,000" in s.text]
    assert holding[0].source == "linn.pdf" and holding[0].page == 1
    assert holding[0].ocr and holding[0].citation == "linn.pdf, p. 1 (OCR)"
    assert holding[0].to_dict()["ocr"] is True


def test_a_rendered_constitution_page_answers_with_its_page_number(scanned):
    root, _, _, _ = scanned
    result = answer("How old must a person be to serve as a senator?", index_dir=root / "index")
    assert result.found
    holding = [s for s in result.sentences if "thirty" in s.text]
    assert holding and holding[0].source == "constitution-scan.pdf" and holding[0].page == 2 and holding[0].ocr
    pages = {p.number: p for p in load_index(root / "index").pages[load_index(root / "index").sources.index("constitution-scan.pdf")]}
    assert sorted(pages) == [1, 2] and all(page.ocr for page in pages.values())


def test_ocr_results_are_cached_by_content(scanned, embedder):
    root, documents, _, _ = scanned
    assert len(list((root / "index" / OCR_CACHE_FOLDER).glob("*.json"))) == 3
    messages: list[str] = []
    build_index(documents, root / "index", full=True, embedder=embedder, on_file=messages.append)
    assert not any("(OCR" in message for message in messages)
    assert contains_any(answer("How many notes does one disk hold?", index_dir=root / "index").text, ["110,000"])


def test_pages_with_text_are_not_read_by_ocr(tmp_path, embedder):
    documents = tmp_path / "documents"
    documents.mkdir()
    shutil.copyfile(PDF_DIR / "us_constitution.pdf", documents / "us_constitution.pdf")
    messages: list[str] = []
    build_index(documents, tmp_path / "index", embedder=embedder, on_file=messages.append)
    assert not any("(OCR" in message for message in messages)
    assert not any(page.ocr for page in load_index(tmp_path / "index").pages[0])


def test_a_scan_with_a_stamp_on_it_is_read_by_ocr(tmp_path):
    image_only_pdf(PDF_DIR / "us_constitution.pdf", [2], tmp_path / "scan.pdf")
    stamp(tmp_path / "scan.pdf", tmp_path / "stamped.pdf", "Received 4 December 2026, page 1")
    assert PdfReader(tmp_path / "stamped.pdf").pages[0].extract_text().strip() == "Received 4 December 2026, page 1"
    document = load_document(tmp_path / "stamped.pdf")
    assert document.pages[0].ocr
    assert "We the People of the United States" in document.text and "Received 4 December 2026" in document.text


def test_a_short_page_with_a_small_picture_keeps_its_text_layer(tmp_path):
    image_only_pdf(PDF_DIR / "us_constitution.pdf", [2], tmp_path / "scan.pdf")
    stamp(tmp_path / "scan.pdf", tmp_path / "figure.pdf", "Figure 1: the Senate chamber", picture_share=0.3)
    document = load_document(tmp_path / "figure.pdf")
    assert not document.pages[0].ocr and document.text.strip() == "Figure 1: the Senate chamber"
    stamp(tmp_path / "scan.pdf", tmp_path / "plate.pdf", "Plate 1: the Senate chamber", picture_share=0.7)
    assert load_document(tmp_path / "plate.pdf").pages[0].ocr


def test_pages_scanned_sideways_or_upside_down_are_read_upright(tmp_path):
    image_only_pdf(PDF_DIR / "us_constitution.pdf", [2, 3], tmp_path / "turned.pdf", turns=[90, 180])
    document = load_document(tmp_path / "turned.pdf")
    assert [page.ocr for page in document.pages] == [True, True]
    first, second = (document.text[page.start:page.end] for page in document.pages)
    assert "We the People of the United States" in first and "Age of thirty Years" in second
    # turned the other way Tesseract reads the words, but finds the table only once it is upright
    image_only_pdf(PDF_DIR / "pr-138-example.pdf", [1], tmp_path / "rates-turned.pdf", turns=[270])
    rates = " ".join(load_document(tmp_path / "rates-turned.pdf").text.split())
    assert "2 Year Fixed Interest Only Rate 4.44% 5.34% 4.29% 5.15%" in rates


def test_a_crooked_scan_is_set_level_before_it_is_read(tmp_path):
    image_only_pdf(PDF_DIR / "us_constitution.pdf", [3], tmp_path / "crooked.pdf", turns=[-6])
    text = " ".join(load_document(tmp_path / "crooked.pdf").text.split())
    for phrase in ("No Person shall be a Senator who shall not have attained to the Age of thirty Years",
                   "The Vice President of the United States shall be President of the Senate"):
        assert phrase in text, phrase


def test_with_ocr_off_a_scan_is_skipped_with_its_reason(tmp_path, embedder, monkeypatch):
    monkeypatch.setenv("EUCAQA_OCR", "0")
    documents = tmp_path / "documents"
    documents.mkdir()
    shutil.copyfile(PDF_DIR / "linn.pdf", documents / "linn.pdf")
    (documents / "note.txt").write_text("The Aral Basin Fund was set up in 2030.", encoding="utf-8")
    stats = build_index(documents, tmp_path / "index", embedder=embedder)
    assert stats.skipped == [("linn.pdf", "no extractable text (a scanned or image-only PDF?); OCR is turned off (EUCAQA_OCR=0)")]
    # OCR turned on again: the next build, not a full one, reads the scan and keeps the rest
    monkeypatch.delenv("EUCAQA_OCR")
    stats = build_index(documents, tmp_path / "index", embedder=embedder)
    assert stats.skipped == [] and stats.documents == 2 and stats.reused == 1 and stats.embedded >= 1
    assert load_index(tmp_path / "index").pages[0][0].ocr


#: The issue's examples of words a scan once gave run together ("Ageofthirty Years",
#: "Congressshallassembleatleastonceinevery Year"), and questions a reader of the scan asks about them.
def test_a_sentence_tesseract_read_as_two_paragraphs_is_one_sentence(scanned):
    """Tesseract puts the last line of many of the constitution's paragraphs in a paragraph of its
    own, and the index never lets a sentence run across a paragraph break."""
    root, _, _, _ = scanned
    index = load_index(root / "index")
    sentences = {" ".join(index.sentence_text(row).split()) for row in range(len(index.sentences))}
    for phrase in ("and who shall not, when elected, be an Inhabitant of that State in which he shall be chosen.",
                   "in such Manner, and under such Penalties as each House may provide.",
                   "at the Desire of one fifth of those Present, be entered on the Journal."):
        assert any(phrase in sentence for sentence in sentences), phrase


def test_only_paragraphs_broken_inside_a_sentence_are_joined():
    from eucaqa.ocr import join_broken_paragraphs

    assert join_broken_paragraphs("shall be convicted without the Concurrence of two\n\nthirds of the Members present.\n\n"
                                  "CONSTITUTION OF THE UNITED STATES\n\nwithin three Years") == (
        "shall be convicted without the Concurrence of two\nthirds of the Members present.\n\n"
        "CONSTITUTION OF THE UNITED STATES\n\nwithin three Years")  # a running head stands apart
    for kept in ("The Senate met.\n\nthen it rose", "Cost of the\n\nThe Senate", "4.14% 4.73%\n\nrate"):
        assert join_broken_paragraphs(kept) == kept


RUN_TOGETHER_BEFORE = [
    ("How old must a person be to be a Senator?", "Age of thirty Years", ["thirty"]),
    ("How often must Congress assemble?", "assemble at least once in every Year", ["at least once in every Year"]),
    ("Who is the President of the Senate?", "Vice President of the United States shall be President of the Senate",
     ["Vice President"]),
]


def test_scanned_text_keeps_the_spaces_between_its_words(scanned):
    root, _, _, _ = scanned
    index = load_index(root / "index")
    text = " ".join(index.texts[index.sources.index("constitution-scan.pdf")].split())
    for _, phrase, _ in RUN_TOGETHER_BEFORE:
        assert phrase in text, phrase


@pytest.mark.parametrize(("question", "phrase", "answers"), RUN_TOGETHER_BEFORE, ids=["senator", "assemble", "president"])
def test_questions_on_words_once_run_together_are_answered_from_the_right_page(scanned, question, phrase, answers):
    root, _, _, _ = scanned
    result = answer(question, index_dir=root / "index")
    assert result.found and contains_any(result.text, answers), result.text
    holding = [s for s in result.sentences if contains_any(s.text, answers)]
    assert holding[0].source == "constitution-scan.pdf" and holding[0].page == 2 and holding[0].ocr


@pytest.fixture(scope="module")
def scanned_tables(tmp_path_factory, embedder):
    """An index of three pages rendered to pictures: the LaTeX paper's table of countries,
    the bank's rate sheet (shaded rows, no rules) and a constitution page of two columns, a
    list of names beside running text, which img2table takes for a table."""
    root = tmp_path_factory.mktemp("ocr-tables")
    documents = root / "documents"
    documents.mkdir()
    image_only_pdf(PDF_DIR / "multicolumn.pdf", [3], documents / "countries-scan.pdf")
    image_only_pdf(PDF_DIR / "pr-138-example.pdf", [1], documents / "rates-scan.pdf")
    image_only_pdf(PDF_DIR / "us_constitution.pdf", [11], documents / "signatures-scan.pdf")
    build_index(documents, root / "index", embedder=embedder)
    index = load_index(root / "index")
    texts = {source: " ".join(text.split()) for source, text in zip(index.sources, index.texts)}
    return root, texts


def test_a_scanned_table_is_read_a_row_at_a_time(scanned_tables):
    _, texts = scanned_tables
    assert "Belgium 11.5 30,689 Brussels Dutch, French, German" in texts["countries-scan.pdf"]
    for row in ("1 Year Fixed Rate 1 Year Fixed Rate 4.04% 5.38% 3.89% 5.18% 1 Year Fixed Interest Only Rate",
                "2 Year Fixed Interest Only Rate 4.44% 5.34% 4.29% 5.15%"):
        assert row in texts["rates-scan.pdf"], row


def test_two_columns_of_running_text_are_not_read_as_a_table(scanned_tables):
    _, texts = scanned_tables
    for phrase in ("That the preceeding Constitution be laid before the United States in Congress assembled",
                   "DELAWARE Geo: Read Gunning Bedford jun John Dickinson"):
        assert phrase in texts["signatures-scan.pdf"], phrase


def test_figures_read_apart_from_their_labels_join_their_rows(scanned_tables):
    """The rate sheet's "Extra" rows have no rules and are not found as a table: Tesseract reads
    their labels, then each column of figures as paragraphs at the end of the page."""
    _, texts = scanned_tables
    for row in ("Extra Home Loan (4 Year Introductory Rate)* 3.84% 4.29% 4.46% 4.55%",
                "Extra Home Loan (Loan to Valuation Ratio <=70%) 3.79% 3.80% 4.41% 4.04%"):
        assert row in texts["rates-scan.pdf"], row


def _word(text: str, left: int, top: int, line: int, paragraph: int):
    from eucaqa.scanned_tables import Word

    return Word(text, (left, top, left + 15 * len(text), top + 20), line, paragraph)


def test_only_lines_of_figures_beside_a_label_are_moved():
    from eucaqa.scanned_tables import TableCell, figures_beside_labels, text_with_tables

    words = [
        _word("Gold", 0, 0, 0, 0), _word("Silver", 0, 40, 1, 0),  # labels, a row a line
        _word("Tin", 0, 80, 2, 1), _word("alloy", 0, 110, 3, 1),  # a label over two lines
        _word("The", 400, 150, 4, 2), _word("rate", 460, 150, 4, 2),  # prose with a line of a figure
        _word("2019.", 400, 180, 5, 2),
        _word("7", 0, 180, 6, 3),  # a figure with nothing left of it
        _word("5.1%", 300, 0, 7, 4), _word("4.0%", 300, 40, 8, 4),  # the figures, read last
        _word("3.2%", 300, 85, 9, 5), _word("-", 380, 85, 9, 5),
    ]
    text = text_with_tables(words, [], figures_beside_labels(words, set()))
    assert text == "Gold 5.1%\nSilver 4.0%\n\nTin\nalloy 3.2% -\n\nThe rate\n2019.\n\n7"
    assert figures_beside_labels(words, {0, 1, 2, 3}) == {}  # labels in a table found are not labels
    # a label line whose last word lies in a table found: its figures follow its last word outside it
    words.append(_word("bar", 100, 40, 1, 0))
    table = [[TableCell(0, [len(words) - 1])]]
    text = text_with_tables(words, [table], figures_beside_labels(words, {len(words) - 1}))
    assert text.startswith("Gold 5.1%\nSilver 4.0%\n\nTin") and text.endswith("7\n\nbar"), text


@pytest.mark.parametrize(("question", "row"), [
    ("What are the official languages of Finland?", "Finland 5.5 338,424 Helsinki Finnish, Swedish"),
    ("What is the comparison rate of the 2 Year Fixed Interest Only Rate?", "2 Year Fixed Interest Only Rate 4.44% 5.34%"),
    ("What is the comparison rate of the Extra Home Loan with a Loan to Valuation Ratio of 70% or less?",
     "Extra Home Loan (Loan to Valuation Ratio <=70%) 3.79% 3.80%"),
], ids=["countries", "rates", "rates-without-rules"])
def test_a_question_on_a_scanned_table_cites_its_row(scanned_tables, question, row):
    root, _ = scanned_tables
    result = answer(question, index_dir=root / "index")
    holding = [sentence for sentence in result.sentences if row in " ".join(sentence.text.split())]
    assert result.found and holding, result.text
    assert holding[0].ocr and holding[0].page == 1


def test_a_page_whose_tables_cannot_be_read_keeps_tesseracts_text(tmp_path, monkeypatch, caplog):
    from eucaqa import ocr

    def broken(image):
        raise RuntimeError("no table module")

    image_only_pdf(PDF_DIR / "multicolumn.pdf", [3], tmp_path / "countries-scan.pdf")
    monkeypatch.setattr(ocr, "find_tables", broken)
    text = " ".join(ocr.read_page(tmp_path / "countries-scan.pdf", 1).split())
    assert "Belgium" in text and "Helsinki" in text
    assert "Belgium 11.5 30,689 Brussels" not in text  # Tesseract alone reads the table a column at a time
    assert "tables not read on this page: no table module" in caplog.text
