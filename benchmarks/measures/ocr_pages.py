"""OCR: pages per second, and an incremental build after adding one scanned file / a full
build, the first time and again once its pages are cached."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from eucaqa.embedding import shared_embedder
from eucaqa.index import build_index

from .common import TEST_PDFS, WORK


def measure(corpus: Path, index_dir: Path, full_seconds: float) -> dict:
    """OCR speed, and the cost of adding one scanned file to a built index."""
    import pypdfium2 as pdfium

    from eucaqa import ocr

    scans = WORK / "scans"
    scans.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_PDFS / "linn.pdf", scans / "linn.pdf")
    pdf = pdfium.PdfDocument(str(TEST_PDFS / "us_constitution.pdf"))
    images = [pdf[n].render(scale=300 / 72).to_pil().convert("L") for n in (1, 2)]
    pdf.close()
    images[0].save(scans / "constitution-scan.pdf", "PDF", resolution=300, save_all=True, append_images=images[1:])
    ocr.read_page(scans / "linn.pdf", 1)  # the engine loads outside the timing
    pages = [(scans / "linn.pdf", 1), (scans / "constitution-scan.pdf", 1), (scans / "constitution-scan.pdf", 2)]
    started = time.perf_counter()
    for path, number in pages:
        ocr.read_page(path, number)
    ocr_seconds = time.perf_counter() - started
    added = corpus / "linn-scan.pdf"
    shutil.copyfile(scans / "linn.pdf", added)
    cache = index_dir / "ocr-cache"
    shutil.rmtree(cache, ignore_errors=True)
    embedder = shared_embedder()
    timings = []
    for _ in range(2):  # first with OCR, then with its pages cached
        started = time.perf_counter()
        build_index(corpus, index_dir, embedder=embedder)
        timings.append(time.perf_counter() - started)
        added.unlink()
        build_index(corpus, index_dir, embedder=embedder)
        shutil.copyfile(scans / "linn.pdf", added)
    added.unlink()
    return {
        "pages": len(pages),
        "ocr_seconds": round(ocr_seconds, 2),
        "pages_per_second": round(len(pages) / ocr_seconds, 3),
        "incremental_with_ocr_seconds": round(timings[0], 2),
        "incremental_with_ocr_share_of_full_build": round(timings[0] / full_seconds, 3),
        "incremental_cached_seconds": round(timings[1], 2),
        "incremental_cached_share_of_full_build": round(timings[1] / full_seconds, 3),
    }

