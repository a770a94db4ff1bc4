"""What scanning costs the answers: the labelled questions asked of a scanned copy of their PDF.

    .venv/bin/python eval/studies/scanned_answers.py

The constitution and the Federal Register rule are rendered to pictures at 300 dpi (grey, as a
scanner gives them, the way ``tests/test_ocr.py`` makes its scans) and saved as PDFs with no text
layer, under ``eval/work/scanned/``, each with the name of the PDF it copies. The product's own
``build_index`` reads them (by OCR, in its file worker) into an index of each; the OCR cache in
the index folder keeps a second run quick until the OCR path changes. Each corpus's labelled
questions, fit and held-out halves apart, are then asked of that index and of the index of the
PDF itself (``eval/work/index-*``), with the committed model and its threshold.

It writes only under ``eval/work/``; its figures are in docs/quality.md ("Scanned pages").
"""

from __future__ import annotations

import sys
from pathlib import Path

# the shared evaluation code, eval/common.py, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import CORPUS_PDFS, FIT, HELDOUT, WORK, corpus_indexes  # noqa: E402

from eucaqa.evaluation import evaluate_file  # noqa: E402
from eucaqa.index import build_index  # noqa: E402

SCAN_DPI = 300
SCANNED = WORK / "scanned"


def scanned_copy(pdf: Path, target: Path) -> None:
    """``pdf`` as pictures of its pages (grey, ``SCAN_DPI``) in a PDF with no text layer."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        images = [page.render(scale=SCAN_DPI / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(target, "PDF", resolution=SCAN_DPI, save_all=True, append_images=images[1:])


def figures(path: Path, index: Path) -> str:
    report = evaluate_file(path, index_dir=index)
    abstained = f"{report.abstained_out_of_scope}/{report.out_of_scope}" if report.out_of_scope else "–"
    return f"{report.answer_hit:.3f} | {report.answered_in_scope}/{report.in_scope} | {abstained}"


def main() -> None:
    text_indexes = corpus_indexes()
    print("| corpus | half | text layer: answer_hit | answered | abstained | scanned: answer_hit | answered | abstained |")
    print("|---|---|---|---|---|---|---|---|")
    for name, pdf in CORPUS_PDFS.items():
        folder = name.replace("_", "-")
        scan = SCANNED / f"documents-{folder}" / pdf.name
        if not scan.is_file():
            scanned_copy(pdf, scan)
        stats = build_index(scan.parent, SCANNED / f"index-{folder}")
        if stats.skipped:
            raise SystemExit(f"the scan of {pdf.name} was not read: {stats.skipped}")
        for half, labelled in (("fit", FIT), ("held out", HELDOUT)):
            questions = labelled / f"{name}.jsonl"
            print(f"| {name} | {half} | {figures(questions, text_indexes[name])} | "
                  f"{figures(questions, SCANNED / f'index-{folder}')} |")


if __name__ == "__main__":
    main()
