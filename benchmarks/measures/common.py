"""What the measures share: paths, the bench corpus, timing, the dev questions."""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
logging.getLogger("pypdf").setLevel(logging.ERROR)  # font-encoding notes, not errors

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
WORK = BENCH / "work"
RESULTS = BENCH / "results.json"
SHIPPED = ROOT / "documents"
DEV = ROOT / "eval" / "sets" / "dev.jsonl"
SHARED_PDFS = ROOT.parent / "shared" / "corpus" / "pdf"
TEST_PDFS = ROOT / "tests" / "data" / "pdf"
MIN_DOCUMENTS = 200
PIECE_CHARS = 1200
SCALE_CHUNKS = 100_000
SEED = 20261123

sys.path.insert(0, str(ROOT / "src"))

from eucaqa.documents import load_document  # noqa: E402
from eucaqa.embedding import Embedder  # noqa: E402
from eucaqa.errors import DocumentError  # noqa: E402


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_bench_corpus(folder: Path) -> dict:
    """The shipped documents plus the text-bearing corpus PDFs, whole, and cut into
    ~1,200-character .txt pieces at sentence ends until there are >= 200 files."""
    from eucaqa.chunking import sentence_spans

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    pdf_dir = SHARED_PDFS if SHARED_PDFS.is_dir() else TEST_PDFS
    sources = sorted(SHIPPED.iterdir()) + sorted(pdf_dir.glob("*.pdf"))
    texts: list[tuple[str, str]] = []
    os.environ["EUCAQA_OCR"] = "0"  # scans are measured apart (bench_ocr)
    for path in sources:
        try:
            document = load_document(path)
        except DocumentError:
            continue  # encrypted, image-only, broken: not text-bearing
        shutil.copy(path, folder / path.name)
        texts.append((path.stem, document.text))
    # Pieces small enough that the whole and the pieces make >= MIN_DOCUMENTS files.
    piece_chars = min(PIECE_CHARS, int(0.7 * sum(len(t) for _, t in texts) / (MIN_DOCUMENTS - len(texts))))
    pieces = 0
    for stem, text in texts:
        start = 0
        spans = sentence_spans(text)
        for _, end in spans:
            if end - start >= piece_chars or end == spans[-1][1]:
                (folder / f"{stem}-part{pieces:04d}.txt").write_text(text[start:end].strip() + "\n", encoding="utf-8")
                pieces += 1
                start = end
    os.environ.pop("EUCAQA_OCR")
    files = len(list(folder.iterdir()))
    characters = sum(len(load_document(p).text) for p in folder.iterdir())
    assert files >= MIN_DOCUMENTS, f"bench corpus has {files} files, fewer than {MIN_DOCUMENTS}"
    return {"files": files, "whole_documents": len(texts), "pieces": pieces, "piece_characters": piece_chars,
            "characters": characters,
            "pdf_source": str(pdf_dir.relative_to(ROOT.parent)) if pdf_dir.is_relative_to(ROOT.parent) else str(pdf_dir)}


class RecordingEmbedder(Embedder):
    """The real embedder, remembering every text it was asked to embed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.texts: list[str] = []

    def encode(self, texts, on_progress=None):
        self.texts.extend(texts)
        return super().encode(texts, on_progress=on_progress)

