"""eucaqa's benchmark: every figure is a ratio of two things measured in this run.

Run with ``make bench``. Prints a table and writes ``benchmarks/results.json``.

1. warm question   answer() / bare SentenceTransformer.encode([question])
2. cold start      `eucaqa ask` process / a process that imports
                   sentence-transformers, loads the model and encodes one string
3. full build      build_index(full=True) / bare encode() of exactly the texts it embeds
4. incremental     rebuild after adding one ~2,000-character document / full build
5. scale           an index of >= 100,000 chunks: warm answer() there / on the
                   shipped corpus, index load time, resident memory / (vectors + text),
                   HNSW recall@10 against flat search
6. OCR             pages per second read by OCR (scans of linn.pdf and of two
                   constitution pages); incremental build after adding one scanned
                   file / full build, the first time and again once its pages are cached
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import logging  # noqa: E402

import numpy as np  # noqa: E402

logging.getLogger("pypdf").setLevel(logging.ERROR)  # font-encoding notes, not errors

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / "work"
RESULTS = BENCH / "results.json"
SHIPPED = ROOT / "documents"
DEV = ROOT / "tests" / "data" / "dev.jsonl"
SHARED_PDFS = ROOT.parent / "shared" / "corpus" / "pdf"
TEST_PDFS = ROOT / "tests" / "data" / "pdf"
MIN_DOCUMENTS = 200
PIECE_CHARS = 1200
SCALE_CHUNKS = 100_000
SEED = 20261123

sys.path.insert(0, str(ROOT / "src"))

from eucaqa.answering import get_engine  # noqa: E402
from eucaqa.documents import load_document  # noqa: E402
from eucaqa.embedding import Embedder, shared_embedder  # noqa: E402
from eucaqa.errors import DocumentError  # noqa: E402
from eucaqa.index import build_index, load_index  # noqa: E402


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------ bench corpus


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


# ------------------------------------------------------------------------- parts


def bench_warm(index_dir: Path, repeats: int) -> dict:
    engine = get_engine(index_dir)
    model = engine.embedder.model
    from eucaqa import answer

    ratios, answer_times, encode_times = [], [], []
    for question in questions():
        answer(question, index_dir=index_dir)  # warm caches
        a = median_time(lambda: answer(question, index_dir=index_dir), repeats)
        e = median_time(lambda: model.encode([question], normalize_embeddings=True, show_progress_bar=False), repeats)
        answer_times.append(a)
        encode_times.append(e)
        ratios.append(a / e)
    return {
        "answer_median_ms": round(1000 * statistics.median(answer_times), 2),
        "encode_median_ms": round(1000 * statistics.median(encode_times), 2),
        "ratio": round(statistics.median(ratios), 3),
        "target": 1.5,
    }


def bench_cold(index_dir: Path, repeats: int) -> dict:
    model_path = shared_embedder().model_path
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    ask = [sys.executable, "-m", "eucaqa", "ask", "When did the partnership agreement with Tajikistan come into force?",
           "--index", str(index_dir)]
    bare = [sys.executable, "-c",
            "from sentence_transformers import SentenceTransformer; "
            f"m = SentenceTransformer({str(model_path)!r}, device='cpu'); m.encode(['warm up'])"]
    ours, theirs = [], []
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both
        for command, sink in ((ask, ours), (bare, theirs)):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
            sink.append(time.perf_counter() - started)
    return {
        "ask_seconds": round(statistics.median(ours), 2),
        "bare_seconds": round(statistics.median(theirs), 2),
        "ratio": round(statistics.median(ours) / statistics.median(theirs), 3),
        "target": 1.3,
    }


def bench_full_build(corpus: Path, index_dir: Path, repeats: int) -> dict:
    embedder = RecordingEmbedder(shared_embedder().model_path)
    _ = embedder.model  # loaded outside the timings
    build_times, stats = [], None
    for _ in range(repeats):
        embedder.texts = []
        started = time.perf_counter()
        stats = build_index(corpus, index_dir, full=True, embedder=embedder)
        build_times.append(time.perf_counter() - started)
    texts = list(embedder.texts)
    model = embedder.model
    encode_time = median_time(
        lambda: model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False),
        repeats,
    )
    corpus_chars = sum(len(t) for t in load_index(index_dir).texts)
    return {
        "documents": stats.documents,
        "chunks": stats.chunks,
        "texts_embedded": len(texts),
        "build_seconds": round(statistics.median(build_times), 2),
        "bare_encode_seconds": round(encode_time, 2),
        "ratio": round(statistics.median(build_times) / encode_time, 3),
        "target": 1.2,
        "amplification": round(sum(len(t) for t in texts) / corpus_chars, 3),
        "skipped": stats.skipped,
    }


def bench_incremental(corpus: Path, index_dir: Path, full_seconds: float, repeats: int) -> dict:
    from eucaqa.chunking import sentence_spans

    embedder = shared_embedder()
    source_text = load_document(SHIPPED / "kazakhstan-motivator-of-eu-central-asia-relations.txt").text
    end = next(b for _, b in sentence_spans(source_text) if b >= 2000)
    extra = corpus / "added-document.txt"
    times, embedded, expected = [], [], []
    for round_number in range(repeats):
        extra.write_text(f"Added document, round {round_number}.\n\n{source_text[:end]}\n", encoding="utf-8")
        started = time.perf_counter()
        stats = build_index(corpus, index_dir, embedder=embedder)
        times.append(time.perf_counter() - started)
        embedded.append(stats.embedded)
        entry = {d["source"]: d for d in load_index(index_dir).manifest["documents"]}[extra.name]
        expected.append(entry["chunks"])
        extra.unlink()
        build_index(corpus, index_dir, embedder=embedder)  # back to the corpus alone
    return {
        "added_characters": end,
        "rebuild_seconds": round(statistics.median(times), 3),
        "share_of_full_build": round(statistics.median(times) / full_seconds, 4),
        "target": 0.10,
        "chunks_embedded": embedded,
        "chunks_of_added_document": expected,
        "only_that_document": embedded == expected,
    }


def bench_ocr(corpus: Path, index_dir: Path, full_seconds: float) -> dict:
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


def build_scale_index(corpus_index: Path, index_dir: Path) -> dict:
    """>= 100,000 chunks of real corpus text, repeated, with synthetic vectors written
    through the index's own writer (no model involved)."""
    from eucaqa.index import IndexedDocument, write_build

    corpus = load_index(corpus_index)
    rng = np.random.default_rng(SEED)
    config = {key: corpus.manifest[key] for key in ("format_version", "model", "chunking")}
    dimension = corpus.manifest["model"]["dimension"]
    base = []
    for number, source in enumerate(corpus.sources):
        chunk_rows = np.flatnonzero(corpus.chunks[:, 0] == number)
        sentence_rows = np.flatnonzero(corpus.sentences[:, 0] == number)
        chunks = corpus.chunks[chunk_rows].copy()
        chunks[:, 4:6] -= sentence_rows[0]
        base.append((source, corpus.texts[number], corpus.pages[number], chunks, corpus.sentences[sentence_rows].copy()))
    real = np.asarray(corpus.sentence_vectors, dtype=np.float32)
    documents, total, copy = [], 0, 0
    while total < SCALE_CHUNKS:
        for source, text, pages, chunks, sentences in base:
            documents.append(IndexedDocument(
                source=f"copy{copy:04d}/{source}", content_hash=f"synthetic-{copy}-{source}", text=text, pages=pages,
                chunks=chunks, sentences=sentences,
                chunk_vectors=_synthetic_vectors(rng, real, len(chunks)),
                sentence_vectors=_synthetic_vectors(rng, real, len(sentences)),
            ))
            total += len(chunks)
        copy += 1
    if index_dir.exists():
        shutil.rmtree(index_dir)
    index_dir.mkdir(parents=True)
    started = time.perf_counter()
    write_build(index_dir, documents, config, {})
    return {"chunks": total, "documents": len(documents), "copies_of_corpus": copy, "dimension": dimension,
            "write_seconds": round(time.perf_counter() - started, 1),
            "vectors": "synthetic: unit-normalised mixtures of two real sentence vectors of the bench corpus "
                       "plus seeded Gaussian noise (sigma 0.03 per dimension); text is the bench corpus repeated"}


def _synthetic_vectors(rng, real: np.ndarray, count: int) -> np.ndarray:
    if count == 0:
        return np.zeros((0, real.shape[1]), dtype=np.float32)
    i, j = rng.integers(0, len(real), count), rng.integers(0, len(real), count)
    weight = rng.random((count, 1), dtype=np.float32)
    vectors = weight * real[i] + (1 - weight) * real[j] + 0.03 * rng.standard_normal((count, real.shape[1]), dtype=np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def measure_scale_process(index_dir: Path, shipped_index: Path, repeats: int) -> dict:
    """Run in a fresh process: load time, resident memory of the loaded index, warm answers."""
    import psutil

    from eucaqa import answer
    from eucaqa.index import current_build

    process = psutil.Process()
    embedder = shared_embedder()
    _ = embedder.model
    get_engine(shipped_index)
    qs = questions()
    for q in qs:
        answer(q, index_dir=shipped_index)
    shipped = statistics.median([median_time(lambda: answer(q, index_dir=shipped_index), repeats) for q in qs])
    rss_before = process.memory_info().rss
    load_times = []
    for _ in range(repeats):
        started = time.perf_counter()
        loaded = load_index(index_dir)
        load_times.append(time.perf_counter() - started)
        del loaded
    started = time.perf_counter()
    engine = get_engine(index_dir)
    engine_seconds = time.perf_counter() - started
    rss_after = process.memory_info().rss
    for q in qs:
        answer(q, index_dir=index_dir)
    at_scale = statistics.median([median_time(lambda: answer(q, index_dir=index_dir), repeats) for q in qs])
    build = current_build(index_dir)
    vector_bytes = (build / "chunk_vectors.npy").stat().st_size + (build / "sentence_vectors.npy").stat().st_size
    text_bytes = sum(len(t.encode("utf-8")) for t in engine.index.texts)
    return {
        "faiss_index": type(engine.index.faiss_index).__name__,
        "answer_median_ms_shipped": round(1000 * shipped, 2),
        "answer_median_ms_at_scale": round(1000 * at_scale, 2),
        "answer_ratio": round(at_scale / shipped, 3),
        "answer_target": 2.0,
        "load_seconds": round(statistics.median(load_times), 3),
        "engine_load_seconds": round(engine_seconds, 3),
        "load_target_seconds": 2.0,
        "resident_mb": round((rss_after - rss_before) / 2**20, 1),
        "vectors_plus_text_mb": round((vector_bytes + text_bytes) / 2**20, 1),
        "memory_ratio": round((rss_after - rss_before) / (vector_bytes + text_bytes), 3),
        "memory_target": 1.5,
    }


def bench_recall(index_dir: Path) -> dict:
    """HNSW against exact search over the same vectors, on the dev questions and on sentence vectors."""
    import faiss

    from eucaqa.index import current_build

    build = current_build(index_dir)
    hnsw = faiss.read_index(str(build / "chunks.faiss"))
    from eucaqa.index import HNSW_EF_SEARCH

    if not hasattr(hnsw, "hnsw"):
        return {"faiss_index": type(hnsw).__name__, "recall_at_10": 1.0}
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    vectors = np.load(build / "chunk_vectors.npy")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    embedder = shared_embedder()
    queries = np.vstack([embedder.encode_query(q) for q in questions()])
    sentences = np.load(build / "sentence_vectors.npy", mmap_mode="r")
    rng = np.random.default_rng(SEED)
    queries = np.vstack([queries, np.asarray(sentences[rng.integers(0, len(sentences), 75)])]).astype(np.float32)
    _, exact = flat.search(queries, 10)
    started = time.perf_counter()
    _, approximate = hnsw.search(queries, 10)
    hnsw_ms = 1000 * (time.perf_counter() - started) / len(queries)
    started = time.perf_counter()
    flat.search(queries, 10)
    flat_ms = 1000 * (time.perf_counter() - started) / len(queries)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approximate)]))
    return {"faiss_index": type(hnsw).__name__, "queries": len(queries), "recall_at_10": round(recall, 4),
            "target": 0.98, "hnsw_ms_per_query": round(hnsw_ms, 2), "flat_ms_per_query": round(flat_ms, 2)}


# -------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (median taken)")
    parser.add_argument("--skip-scale", action="store_true", help="skip the 100,000-chunk part")
    parser.add_argument("--scale-child", nargs=2, metavar=("SCALE_INDEX", "SHIPPED_INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_child:
        print(json.dumps(measure_scale_process(Path(args.scale_child[0]), Path(args.scale_child[1]), args.repeats)))
        return 0

    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {"repeats": args.repeats, "cpu_count": os.cpu_count()}
    corpus = WORK / "corpus"
    results["bench_corpus"] = make_bench_corpus(corpus)
    shipped_index = WORK / "index-shipped"
    build_index(SHIPPED, shipped_index, full=True)
    print("warm question ...", flush=True)
    results["warm_question"] = bench_warm(shipped_index, args.repeats)
    print("cold start ...", flush=True)
    results["cold_start"] = bench_cold(shipped_index, max(3, args.repeats // 2 + 1))
    corpus_index = WORK / "index-corpus"
    print(f"full build of {results['bench_corpus']['files']} files ...", flush=True)
    results["full_build"] = bench_full_build(corpus, corpus_index, max(3, args.repeats // 2))
    print("incremental build ...", flush=True)
    results["incremental_build"] = bench_incremental(
        corpus, corpus_index, results["full_build"]["build_seconds"], max(3, args.repeats // 2))
    print("OCR ...", flush=True)
    results["ocr"] = bench_ocr(corpus, corpus_index, results["full_build"]["build_seconds"])
    if not args.skip_scale:
        scale_index = WORK / "index-scale"
        print(f"scale: writing an index of >= {SCALE_CHUNKS} chunks ...", flush=True)
        results["scale"] = build_scale_index(corpus_index, scale_index)
        child = subprocess.run(
            [sys.executable, __file__, "--repeats", str(args.repeats), "--scale-child", str(scale_index), str(shipped_index)],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )
        results["scale"].update(json.loads(child.stdout.strip().splitlines()[-1]))
        results["scale"]["recall"] = bench_recall(scale_index)
        shutil.rmtree(scale_index, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    return 0


def print_table(results: dict) -> None:
    rows = []
    warm, cold, full, inc = (results[k] for k in ("warm_question", "cold_start", "full_build", "incremental_build"))
    rows.append(("warm answer() / encode([q])", f"{warm['ratio']:.2f}", "<= 1.5", warm["ratio"] <= 1.5,
                 f"{warm['answer_median_ms']} ms / {warm['encode_median_ms']} ms"))
    rows.append(("cold `eucaqa ask` / bare load+encode", f"{cold['ratio']:.2f}", "<= 1.3", cold["ratio"] <= 1.3,
                 f"{cold['ask_seconds']} s / {cold['bare_seconds']} s"))
    rows.append(("full build / bare encode", f"{full['ratio']:.2f}", "<= 1.2", full["ratio"] <= 1.2,
                 f"{full['build_seconds']} s / {full['bare_encode_seconds']} s, {full['documents']} docs, {full['chunks']} chunks"))
    rows.append(("amplification (chars embedded / corpus)", f"{full['amplification']:.2f}", "(report)", True,
                 "chunks + per-sentence vectors + 1-sentence overlap"))
    rows.append(("incremental (+1 doc) / full build", f"{inc['share_of_full_build']:.3f}", "<= 0.10",
                 inc["share_of_full_build"] <= 0.10 and inc["only_that_document"],
                 f"{inc['rebuild_seconds']} s; embedded {inc['chunks_embedded']} = its chunks {inc['chunks_of_added_document']}"))
    if "ocr" in results:
        ocr = results["ocr"]
        rows.append(("OCR pages per second (2 cores)", f"{ocr['pages_per_second']:.2f}", "(report)", True,
                     f"{ocr['pages']} scanned pages in {ocr['ocr_seconds']} s"))
        rows.append(("incremental (+1 scanned page) / full build", f"{ocr['incremental_with_ocr_share_of_full_build']:.3f}",
                     "(report)", True, f"{ocr['incremental_with_ocr_seconds']} s; again with its page cached: "
                     f"{ocr['incremental_cached_seconds']} s ({ocr['incremental_cached_share_of_full_build']:.3f})"))
    if "scale" in results:
        scale = results["scale"]
        rows.append((f"answer() at {scale['chunks']} chunks / shipped", f"{scale['answer_ratio']:.2f}", "<= 2.0",
                     scale["answer_ratio"] <= 2.0,
                     f"{scale['answer_median_ms_at_scale']} ms / {scale['answer_median_ms_shipped']} ms ({scale['faiss_index']})"))
        rows.append(("index load (s)", f"{scale['load_seconds']:.2f}", "<= 2.0", scale["load_seconds"] <= 2.0, ""))
        rows.append(("loaded index RSS / (vectors + text)", f"{scale['memory_ratio']:.2f}", "<= 1.5",
                     scale["memory_ratio"] <= 1.5, f"{scale['resident_mb']} MB / {scale['vectors_plus_text_mb']} MB"))
        recall = scale["recall"]
        rows.append(("HNSW recall@10 vs flat", f"{recall['recall_at_10']:.3f}", ">= 0.98", recall["recall_at_10"] >= 0.98,
                     f"{recall.get('hnsw_ms_per_query')} ms vs {recall.get('flat_ms_per_query')} ms per query"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'value':>7}  {'target':>8}  met  detail")
    for name, value, target, met, detail in rows:
        print(f"{name:<{width}}  {value:>7}  {target:>8}  {'yes' if met else 'NO ':>3}  {detail}")
    if "scale" in results:
        print(f"\nscale index: {results['scale']['vectors']}")
    print(f"\nwritten {RESULTS.relative_to(ROOT)} in {results['seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
