"""eucaqa's benchmark: every figure is a ratio of two things measured in this run.

Run with ``make bench``. Prints a table and writes ``benchmarks/results.json``. Each
measure is one module of ``benchmarks/measures/``; this file runs them in order.

1. warm question   answer() / bare SentenceTransformer.encode([question]); a follow-up
                   answered with its history / its first question alone
2. retrieval       passage hit@1 and hit@5 on the labelled sets: sentence vectors
                   (eucaqa) against one vector per chunk (before)
3. cold start      `eucaqa ask` process / a process that imports
                   sentence-transformers, loads the model and encodes one string
4. full build      build_index(full=True) / bare encode() of exactly the texts it
                   embeds (the corpus's sentences); amplification = characters
                   embedded / characters of the corpus
5. incremental     rebuild after adding one ~2,000-character document / full build
6. OCR             pages per second read by OCR (scans of linn.pdf and of two
                   constitution pages); incremental build after adding one scanned
                   file / full build, the first time and again once its pages are cached
7. scale           an index of >= 100,000 chunks: warm answer() there / on the
                   shipped corpus, index load time, resident memory / (vectors + text)
                   and per chunk, HNSW recall@10 against flat search
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from measures import (
    cold_start,
    follow_up,
    full_build,
    hnsw_recall,
    incremental_build,
    ocr_pages,
    retrieval_hits,
    scale,
    warm_question,
)
from measures.common import RESULTS, ROOT, SCALE_CHUNKS, SHIPPED, WORK, make_bench_corpus

from eucaqa.index import build_index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (median taken)")
    parser.add_argument("--skip-scale", action="store_true", help="skip the 100,000-chunk part")
    parser.add_argument("--scale-child", nargs=2, metavar=("SCALE_INDEX", "SHIPPED_INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_child:
        print(json.dumps(scale.measure(Path(args.scale_child[0]), Path(args.scale_child[1]), args.repeats)))
        return 0

    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {"repeats": args.repeats, "cpu_count": os.cpu_count()}
    corpus = WORK / "corpus"
    results["bench_corpus"] = make_bench_corpus(corpus)
    shipped_index = WORK / "index-shipped"
    build_index(SHIPPED, shipped_index, full=True)
    print("warm question ...", flush=True)
    results["warm_question"] = warm_question.measure(shipped_index, args.repeats)
    print("follow-up questions ...", flush=True)
    results["follow_up"] = follow_up.measure(shipped_index, args.repeats)
    print("retrieval on the labelled sets, sentence and chunk vectors ...", flush=True)
    results["retrieval"] = retrieval_hits.measure(shipped_index)
    print("cold start ...", flush=True)
    results["cold_start"] = cold_start.measure(shipped_index, max(3, args.repeats // 2 + 1))
    corpus_index = WORK / "index-corpus"
    print(f"full build of {results['bench_corpus']['files']} files ...", flush=True)
    results["full_build"] = full_build.measure(corpus, corpus_index, max(3, args.repeats // 2))
    print("incremental build ...", flush=True)
    results["incremental_build"] = incremental_build.measure(
        corpus, corpus_index, results["full_build"]["build_seconds"], max(3, args.repeats // 2))
    print("OCR ...", flush=True)
    results["ocr"] = ocr_pages.measure(corpus, corpus_index, results["full_build"]["build_seconds"])
    if not args.skip_scale:
        scale_index = WORK / "index-scale"
        print(f"scale: writing an index of >= {SCALE_CHUNKS} chunks ...", flush=True)
        results["scale"] = scale.build(corpus_index, scale_index)
        child = subprocess.run(
            [sys.executable, __file__, "--repeats", str(args.repeats), "--scale-child", str(scale_index), str(shipped_index)],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )
        results["scale"].update(json.loads(child.stdout.strip().splitlines()[-1]))
        results["scale"]["recall"] = hnsw_recall.measure(scale_index)
        shutil.rmtree(scale_index, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    return 0


def print_table(results: dict) -> None:
    rows = []
    warm, cold, full, inc = (results[k] for k in ("warm_question", "cold_start", "full_build", "incremental_build"))
    rows.append(("warm answer() / encode([q])", f"{warm['ratio']:.2f}", f"<= {warm['target']}", warm["ratio"] <= warm["target"],
                 f"{warm['answer_median_ms']} ms / {warm['encode_median_ms']} ms; sentence cache emptied: {warm['uncached_ratio']:.2f}"))
    if "follow_up" in results:
        follow = results["follow_up"]
        rows.append(("warm follow-up with history / its first question", f"{follow['ratio']:.2f}", f"<= {follow['target']}",
                     follow["ratio"] <= follow["target"],
                     f"{follow['follow_up_median_ms']} ms / {follow['first_median_ms']} ms; "
                     f"{follow['completed']} of {follow['dialogues']} completed"))
    rows.append(("cold `eucaqa ask` / bare load+encode", f"{cold['ratio']:.2f}", f"<= {cold['target']}", cold["ratio"] <= cold["target"],
                 f"{cold['ask_seconds']} s / {cold['bare_seconds']} s"))
    rows.append(("full build / bare encode of its sentences", f"{full['ratio']:.2f}", f"<= {full['target']}", full["ratio"] <= full["target"],
                 f"{full['build_seconds']} s / {full['bare_encode_seconds']} s, {full['documents']} docs, {full['chunks']} chunks"))
    rows.append(("amplification (chars embedded / corpus)", f"{full['amplification']:.2f}", "<= 1.15",
                 full["amplification"] <= 1.15, f"{full['texts_embedded']} sentences, no chunk embedded"))
    for name, hits in results.get("retrieval", {}).items():
        rows.append((f"passage hit@5, {name} ({hits['questions']} q.)", f"{hits['hit_at_5']:.3f}", ">= before",
                     hits["hit_at_5"] >= hits["chunk_vectors_hit_at_5"],
                     f"before (chunk vectors) {hits['chunk_vectors_hit_at_5']:.3f}; hit@1 {hits['hit_at_1']:.3f}"
                     f" (before {hits['chunk_vectors_hit_at_1']:.3f})"))
    rows.append(("incremental (+1 doc) / full build", f"{inc['share_of_full_build']:.3f}", f"<= {inc['target']:.2f}",
                 inc["share_of_full_build"] <= inc["target"] and inc["only_that_document"],
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
        rows.append((f"answer() at {scale['chunks']} chunks, {scale['sentences']} sentences / shipped", f"{scale['answer_ratio']:.2f}", "<= 2.0",
                     scale["answer_ratio"] <= 2.0,
                     f"{scale['answer_median_ms_at_scale']} ms / {scale['answer_median_ms_shipped']} ms ({scale['faiss_index']})"))
        rows.append(("index load (s)", f"{scale['load_seconds']:.2f}", "<= 2.0", scale["load_seconds"] <= 2.0, ""))
        rows.append(("loaded index RSS / (vectors + text)", f"{scale['memory_ratio']:.2f}", "<= 1.5",
                     scale["memory_ratio"] <= 1.5, f"{scale['resident_mb']} MB / {scale['vectors_plus_text_mb']} MB"))
        rows.append(("loaded index RSS per chunk (KB)", f"{scale['resident_kb_per_chunk']:.2f}",
                     f"<= {scale['resident_kb_per_chunk_format_1']}",
                     scale["resident_kb_per_chunk"] <= scale["resident_kb_per_chunk_format_1"],
                     f"format 1 (chunk vectors): {scale['resident_kb_per_chunk_format_1']} KB"))
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
