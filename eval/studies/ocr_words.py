"""How well the OCR path reads words: word error rate and run-together words on rendered pages.

    .venv/bin/python eval/studies/ocr_words.py          # the project's OCR path (Tesseract)
    .venv/bin/python eval/studies/ocr_words.py --more   # and the WER of 15 more pages
    .venv/bin/python eval/studies/ocr_words.py --turn 180   # each page as a scan fed in upside down
    .venv/bin/python eval/studies/ocr_words.py --turn 3     # each page as a scan 3 degrees crooked
    EUCAQA_OCR_REC_MODEL=.../ch_PP-OCRv4_rec_infer.onnx .venv/bin/python eval/studies/ocr_words.py
                                                        # the RapidOCR path, with its own model

Pages of text PDFs (``../shared/corpus/pdf/``, else ``tests/data/pdf/``) are read by the project's
own OCR path, :func:`eucaqa.ocr.read_page`, which renders each page at 200 dpi with pypdfium2 and
reads the image: the text layer plays no part in it. What it reads is compared with the page's
own text layer (pypdf, cleaned as the project cleans it), for each of three layouts: a one-column booklet (the US constitution), two
and three columns (a LaTeX paper, a Federal Register rule), and a form with tables (a bank's rate
sheet).

- **WER**: word error rate (``jiwer``) after normalising both sides the same way: the OCR text
  cleaned as the index cleans it (words broken by a hyphen at a line end joined), then case
  folded and punctuation dropped.
  The text layer's letter-spaced words ("c o n s t i t u t i o n", the constitution's running
  head) are mended first, as its ligature splits are: a run of three or more one-letter words is
  joined and split into words the page's text layer uses elsewhere (or left joined).
- **Paragraph-order WER**: the same WER with the OCR's paragraphs (Tesseract's blocks, split at
  blank lines) put in the text layer's order, each where its longest run of words matching the
  text layer starts. WER counts a word read in another place as wrong, and on a three-column page
  or a table the text layer's order is one of several (pypdf gives the Federal Register's
  footnotes first, Tesseract reads them under their column); this figure forgives the order of
  whole paragraphs only, not of the words inside one.
- **Order-free WER**: the share of words missing or extra whatever their place, the larger of the
  two over the reference's words (a bag-of-words error rate): misread words alone.
- **Run-together**: the share of OCR words that are no word of the page's text layer but split
  into two or more of its words ("congressshallassemble").
- **Seconds per page** of the OCR path.

It writes nothing; its figures are in docs/quality.md and docs/performance.md.
"""

from __future__ import annotations

import difflib
import re
import tempfile
import time
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_PDFS = ROOT.parent / "shared" / "corpus" / "pdf"
TEST_PDFS = ROOT / "tests" / "data" / "pdf"
#: layout -> (file, 1-based pages): at least 10 pages over three layouts
PAGES = {
    "one column (constitution)": ("us_constitution.pdf", (2, 3, 4, 5)),
    "two columns (LaTeX paper)": ("multicolumn.pdf", (1, 2)),
    "three columns (Federal Register)": ("federal-register-2020-17221.pdf", (2, 3)),
    "form and tables (rate sheet)": ("pr-138-example.pdf", (1, 2)),
}
#: with ``--more``: other pages, their WER and order-free WER, to see that a change made for one
#: layout reads the rest as before (pages whose text lies in pictures are left out). Among them
#: the pages where img2table finds a table: the LaTeX paper's (p. 3), the Federal Register's cost
#: tables (pp. 5, 6) and two constitution pages of two columns (pp. 11, 14) that are no table.
MORE_PAGES = {
    "multicolumn.pdf": (3,),
    "2023-06-20-PV.pdf": (1, 2),
    "federal-register-2020-17221.pdf": (1, 4, 5, 6, 14),
    "us_constitution.pdf": (7, 10, 11, 13, 14, 16, 19),
}
_NOT_WORD = re.compile(r"[^\w]+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def normalise(text: str) -> list[str]:
    """Lower-case words of a cleaned text, punctuation dropped (words broken at a line end were
    joined by the cleaning, :func:`eucaqa.documents.clean_text`)."""
    text = text.lower().replace("_", " ")
    return [word for word in _NOT_WORD.sub(" ", text).split() if word]


def mend_letter_spacing(words: list[str]) -> list[str]:
    """Join runs of three or more one-letter words ("c o n s t i t u t i o n o f t h e") and
    split the run into the fewest words the rest of ``words`` uses, if it splits, else keep it
    whole: letter-spaced headings, a fault of the text layer, read as the words they spell."""
    vocabulary = frozenset(word for word in words if len(word) > 1) | {"a"}
    mended, run = [], []

    def flush() -> None:
        if len(run) >= 3:
            mended.extend(split_into(("".join(run)), vocabulary))
        else:
            mended.extend(run)
        run.clear()

    for word in words:
        if len(word) == 1 and word.isalpha():
            run.append(word)
        else:
            flush()
            mended.append(word)
    flush()
    return mended


def split_into(text: str, vocabulary: frozenset[str]) -> list[str]:
    """``text`` as the fewest words of ``vocabulary`` that spell it, or ``[text]``."""
    best: list[list[str] | None] = [[]] + [None] * len(text)
    for end in range(1, len(text) + 1):
        for start in range(end):
            if best[start] is not None and text[start:end] in vocabulary:
                candidate = best[start] + [text[start:end]]
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    return best[-1] or [text]


def in_reference_order(paragraphs: list[list[str]], reference: list[str]) -> list[str]:
    """The words of ``paragraphs`` with the paragraphs sorted by where each stands in
    ``reference``: where its longest run of matching words starts, less that run's offset
    in the paragraph (a paragraph matching nothing goes last, in its own order)."""
    placed = []
    for number, paragraph in enumerate(paragraphs):
        matcher = difflib.SequenceMatcher(None, reference, paragraph, autojunk=False)
        run = max(matcher.get_matching_blocks(), key=lambda block: block.size)
        placed.append((run.a - run.b if run.size else len(reference), number, paragraph))
    return [word for _, _, paragraph in sorted(placed) for word in paragraph]


def order_free_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Words missing or extra, wherever they stand: the larger of the two counts."""
    wanted, read = Counter(reference), Counter(hypothesis)
    return max(sum((wanted - read).values()), sum((read - wanted).values()))


def run_together(word: str, vocabulary: frozenset[str]) -> bool:
    """Whether ``word`` is no word of ``vocabulary`` but splits into two or more of its words."""
    if word in vocabulary or len(word) < 4:
        return False

    @cache
    def pieces(start: int) -> int:
        """Most words ``word[start:]`` splits into (0: it does not split)."""
        if start == len(word):
            return 0
        best = -1
        for end in range(start + 1, len(word) + 1):
            if word[start:end] in vocabulary:
                rest = pieces(end)
                if rest >= 0:
                    best = max(best, rest + 1)
        return best

    return pieces(0) >= 2


@lru_cache(maxsize=8)
def _document(path: Path):
    from eucaqa.documents import load_document

    return load_document(path)


def text_layer(path: Path, number: int) -> str:
    """The page's text layer as the project reads it (pypdf, then cleaned: words split after a
    ligature and words broken at line ends mended), so that the text layer's own faults do not
    count against the OCR."""
    document = _document(path)
    page = next(page for page in document.pages if page.number == number)
    return document.text[page.start:page.end]


def reference_words(path: Path, number: int) -> list[str]:
    """The words of the page's text layer that the OCR is compared with."""
    return mend_letter_spacing(normalise(text_layer(path, number)))


def turned_scan(path: Path, number: int, turn: float, folder: Path) -> Path:
    """Page ``number`` of ``path`` as a one-page picture PDF, turned ``turn`` degrees
    counter-clockwise (a scan fed in sideways, upside down or crooked; the corners it uncovers
    white), rendered as the OCR path does."""
    import pypdfium2 as pdfium
    from PIL import Image

    from eucaqa.ocr import OCR_DPI

    pdf = pdfium.PdfDocument(str(path))
    try:
        image = pdf[number - 1].render(scale=OCR_DPI / 72).to_pil().convert("L").rotate(turn, resample=Image.BICUBIC, expand=True, fillcolor=255)
    finally:
        pdf.close()
    target = folder / "turned.pdf"
    image.save(target, "PDF", resolution=OCR_DPI)
    return target


def main() -> None:
    import argparse

    import jiwer

    from eucaqa.documents import clean_text
    from eucaqa.ocr import OCR_DPI, engine_id, read_page

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--more", action="store_true", help="also the order-free WER of each of MORE_PAGES")
    parser.add_argument("--turn", type=float, default=0.0,
                        help="read each page as a scan turned by so many degrees counter-clockwise "
                             "(90, 180, 270: fed in sideways or upside down; a few: crooked)")
    arguments = parser.parse_args()
    more, turn = arguments.more, arguments.turn
    folder = SHARED_PDFS if SHARED_PDFS.is_dir() else TEST_PDFS
    print(f"pages rendered at {OCR_DPI} dpi from {folder}, read by eucaqa.ocr.read_page ({engine_id()})"
          + (f", as scans turned {turn:g} degrees" if turn else "") + "\n")
    print("| layout | pages | WER | paragraph-order WER | order-free WER | run-together | OCR words | OCR paragraphs "
          "| seconds per page |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals = {"errors": 0.0, "reordered": 0.0, "unordered": 0, "words": 0, "joined": 0, "ocr_words": 0,
              "paragraphs": 0, "seconds": 0.0, "pages": 0}
    for layout, (name, numbers) in PAGES.items():
        references, hypotheses, reordered, joined, ocr_words, seconds, unordered = [], [], [], 0, 0, 0.0, 0
        paragraphs = 0
        for number in numbers:
            reference = reference_words(folder / name, number)
            with tempfile.TemporaryDirectory() as scratch:
                path, page = (turned_scan(folder / name, number, turn, Path(scratch)), 1) if turn else (folder / name, number)
                started = time.perf_counter()
                read = read_page(path, page)
                seconds += time.perf_counter() - started
            hypothesis = normalise(clean_text(read))
            blocks = [block for block in (normalise(clean_text(part)) for part in _PARAGRAPH_BREAK.split(read)) if block]
            paragraphs += len(blocks)
            reordered.append(" ".join(in_reference_order(blocks, reference)))
            vocabulary = frozenset(reference)
            joined += sum(run_together(word, vocabulary) for word in hypothesis)
            ocr_words += len(hypothesis)
            unordered += order_free_errors(reference, hypothesis)
            references.append(" ".join(reference))
            hypotheses.append(" ".join(hypothesis))
        wer = jiwer.wer(references, hypotheses)
        paragraph_wer = jiwer.wer(references, reordered)
        words = sum(len(r.split()) for r in references)
        print(f"| {layout}: `{name}` | {', '.join(map(str, numbers))} | {wer:.3f} | {paragraph_wer:.3f} | {unordered / words:.3f} "
              f"| {joined / max(ocr_words, 1):.3f} | {ocr_words} | {paragraphs} | {seconds / len(numbers):.1f} |")
        totals["errors"] += wer * words
        totals["reordered"] += paragraph_wer * words
        totals["paragraphs"] += paragraphs
        totals["words"] += words
        totals["unordered"] += unordered
        totals["joined"] += joined
        totals["ocr_words"] += ocr_words
        totals["seconds"] += seconds
        totals["pages"] += len(numbers)
    print(f"| all | {totals['pages']} | {totals['errors'] / totals['words']:.3f} | {totals['reordered'] / totals['words']:.3f} "
          f"| {totals['unordered'] / totals['words']:.3f} "
          f"| {totals['joined'] / totals['ocr_words']:.3f} | {totals['ocr_words']} | {totals['paragraphs']} "
          f"| {totals['seconds'] / totals['pages']:.1f} |")
    if more and folder == SHARED_PDFS:
        print("\n| page | WER | order-free WER | words |\n|---|---|---|---|")
        for name, numbers in MORE_PAGES.items():
            for number in numbers:
                reference = reference_words(folder / name, number)
                hypothesis = normalise(clean_text(read_page(folder / name, number)))
                print(f"| `{name}` p. {number} | {jiwer.wer(' '.join(reference), ' '.join(hypothesis)):.3f} "
                      f"| {order_free_errors(reference, hypothesis) / len(reference):.3f} | {len(reference)} |")


if __name__ == "__main__":
    main()
