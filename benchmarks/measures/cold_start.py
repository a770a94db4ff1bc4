"""Cold start: an `eucaqa ask` process / a process that imports sentence-transformers,
loads the model and encodes one string."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from eucaqa.embedding import shared_embedder

from .common import ROOT


def measure(index_dir: Path, repeats: int) -> dict:
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

