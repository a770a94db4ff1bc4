"""Reliability: many users at once, a rebuild under load, kills mid-build,
a read-only index, hostile files, hostile questions, tampered indexes.

Figures measured here are written to ``tests/artifacts/reliability.json`` (the
docs/reliability.md quotes them). Loops are bounded in count and time
and talk to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eucaqa import answer
from eucaqa.cli import main
from eucaqa.errors import DocumentError, IndexFormatError
from eucaqa.index import build_index, current_build, load_index
from eucaqa.file_worker import ChunkingOptions, FileReader

from conftest import PDF_DIR, SHIPPED_DOCUMENTS, TESTS_DEV_SET
from hostile import damaged_copies, make_slow_pdf
from server_helpers import free_port, wait_for

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
QUESTIONS = [json.loads(line)["question"] for line in TESTS_DEV_SET.read_text(encoding="utf-8").splitlines() if line]
CLIENTS = 32
QUESTIONS_PER_CLIENT = 10
NEW_DOCUMENT = (
    "The Ferghana Water Compact of 2032 was signed in Khujand by five Central Asian ministers.\n\n"
    "The compact created a shared flood warning network called the Syr Darya Sentinel."
)
NEW_QUESTION = "What is the name of the shared flood warning network created by the Ferghana Water Compact?"


def record(name: str, figures: dict) -> None:
    """Keep a test's measured figures for docs/reliability.md."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "reliability.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = figures
    path.write_text(json.dumps(data, indent=2) + "\n")


def without_seconds(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != "seconds"}


# ------------------------------------------------------------------ the server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`eucaqa serve` in its own process on a free loopback port."""
    import psutil
    from gradio_client import Client

    root = tmp_path_factory.mktemp("served")
    documents = root / "documents"
    shutil.copytree(SHIPPED_DOCUMENTS, documents)
    port = free_port()
    log = root / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eucaqa", "serve", "--port", str(port), "--documents", str(documents),
             "--index", str(root / "index")],
            stdout=out, stderr=subprocess.STDOUT,
            # 32 clients on one loopback address: the limit per client is set for that load
            env={**os.environ, "EUCAQA_RATE_LIMIT": "100000"},
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: "eucaqa chat on" in log.read_text() or process.poll() is not None, timeout=300)
        assert process.poll() is None, log.read_text()
        wait_for(lambda: _try_client(Client, url), timeout=60)
        yield {"url": url, "process": psutil.Process(process.pid), "documents": documents, "log": log}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _try_client(client_class, url):
    try:
        return client_class(url, verbose=False)
    except Exception:
        return None


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def test_32_clients_10_questions_each(served):
    url, server = served["url"], served["process"]
    single = {q: without_seconds(_client(url).predict(q, api_name="/answer")) for q in QUESTIONS}
    rss_warm = server.memory_info().rss
    failures, mismatches, latencies = [], [], []
    lock = threading.Lock()
    deadline = time.monotonic() + 600

    def run_client(number: int) -> None:
        client = _client(url)
        for step in range(QUESTIONS_PER_CLIENT):
            if time.monotonic() > deadline:
                with lock:
                    failures.append("time budget exceeded")
                return
            question = QUESTIONS[(number * 7 + step) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                data = client.predict(question, api_name="/answer")
            except Exception as error:  # counted, not raised: every failure is reported
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                if without_seconds(data) != single[question]:
                    mismatches.append(question)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(run_client, range(CLIENTS)))
    rss_after = server.memory_info().rss
    latencies.sort()
    figures = {
        "clients": CLIENTS,
        "questions_each": QUESTIONS_PER_CLIENT,
        "requests": CLIENTS * QUESTIONS_PER_CLIENT,
        "failed": len(failures),
        "different_from_single_user": len(mismatches),
        "p50_seconds": round(statistics.median(latencies), 3),
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "server_rss_mb_after_warmup": round(rss_warm / 2**20, 1),
        "server_rss_mb_after_load": round(rss_after / 2**20, 1),
        "rss_ratio": round(rss_after / rss_warm, 3),
    }
    record("load", figures)
    assert failures == [], failures[:3]
    assert mismatches == []
    assert len(latencies) == CLIENTS * QUESTIONS_PER_CLIENT
    assert rss_after <= 1.2 * rss_warm, figures


def test_rebuild_under_load_swaps_atomically(served, tmp_path):
    from gradio_client import handle_file

    url = served["url"]
    before = without_seconds(_client(url).predict(NEW_QUESTION, api_name="/answer"))
    assert "Syr Darya Sentinel" not in before["text"]
    stop = threading.Event()
    failures: list[str] = []
    seen: list[list[tuple[float, float, str]]] = []
    lock = threading.Lock()

    def ask_in_a_loop() -> None:
        client = _client(url)
        mine: list[tuple[float, float, str]] = []
        for step in range(400):
            if stop.is_set():
                break
            question = NEW_QUESTION if step % 2 == 0 else QUESTIONS[step % len(QUESTIONS)]
            started = time.monotonic()
            try:
                data = client.predict(question, api_name="/answer")
            except Exception as error:
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            if question == NEW_QUESTION:
                mine.append((started, time.monotonic(), "new" if "Syr Darya Sentinel" in data["text"] else
                             ("old" if without_seconds(data) == before else "other")))
        with lock:
            seen.append(mine)

    threads = [threading.Thread(target=ask_in_a_loop) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    admin = _client(url + "admin/")
    path = tmp_path / "ferghana-compact.txt"
    path.write_text(NEW_DOCUMENT, encoding="utf-8")
    message, _ = admin.predict([handle_file(str(path))], api_name="/upload")
    assert "added" in message
    rebuild_started = time.monotonic()
    status, _ = admin.predict(api_name="/rebuild")
    rebuild_done = time.monotonic()
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    answers = [item for client_answers in seen for item in client_answers]
    record("rebuild_under_load", {
        "asking_clients": len(threads), "requests_for_new_document": len(answers), "failed": len(failures),
        "old_answers": sum(1 for *_, kind in answers if kind == "old"),
        "new_answers": sum(1 for *_, kind in answers if kind == "new"),
        "rebuild_seconds": round(rebuild_done - rebuild_started, 2), "status": status,
    })
    assert failures == [], failures[:3]
    assert "3 documents" in status
    assert all(kind in ("old", "new") for *_, kind in answers), answers
    for client_answers in seen:  # once a client sees the new index, it never sees the old one again
        kinds = [kind for *_, kind in client_answers]
        assert "old" not in kinds[kinds.index("new"):] if "new" in kinds else True
    assert all(kind == "old" for started, ended, kind in answers if ended < rebuild_started)
    assert all(kind == "new" for started, ended, kind in answers if started > rebuild_done)
    assert any(kind == "new" for *_, kind in answers)


def test_hostile_questions_in_the_chat(shipped_index):
    from eucaqa.app import chat_turn

    history, sources, turns = chat_turn("\x00\x01\x02", [], shipped_index)
    assert history[-1]["role"] == "assistant" and sources is not None and turns == []
    assert history[-1]["content"].startswith("Error: question has no words")
    history, sources, turns = chat_turn("   ", [], shipped_index, turns)
    assert history == [] and sources is None
    history, _, turns = chat_turn("x" * 100_000, [], shipped_index, turns)
    assert len(history) == 2 and len(history[0]["content"]) < 1000
    # A follow-up after them is still answered (the odd turns are history like any other).
    history, _, turns = chat_turn("And then?", history, shipped_index, turns)
    assert len(history) == 4 and len(turns) == 2


# --------------------------------------------------------------- crash safety


PHASES = ["reading documents", "embedding", "writing arrays", "writing faiss", "writing bm25",
          "writing metadata", "syncing", "switching current build", "removing old builds"]


def test_sigkill_at_every_phase_keeps_a_working_index(docs_copy, tmp_path):
    index_dir = tmp_path / "index"
    assert main(["index", "--documents", str(docs_copy), "--index", str(index_dir)]) == 0
    probes = QUESTIONS[:3] + QUESTIONS[-1:]
    baseline = {q: without_seconds(answer(q, index_dir=index_dir).to_dict()) for q in probes}
    killed_at = []
    env = {**os.environ, "EUCAQA_LOG_LEVEL": "DEBUG", "HF_HUB_OFFLINE": "1"}
    for phase in PHASES:
        process = subprocess.Popen(
            [sys.executable, "-m", "eucaqa", "index", "--full", "--documents", str(docs_copy), "--index", str(index_dir)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
        )
        deadline = time.monotonic() + 300
        for line in process.stderr:
            if f"phase: {phase}" in line or time.monotonic() > deadline:
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=60)
        killed_at.append((phase, process.returncode))
        loaded = load_index(index_dir)  # always loads: the old build or a complete new one
        assert loaded.manifest["counts"]["documents"] == 2
        for question, expected in baseline.items():
            assert without_seconds(answer(question, index_dir=index_dir).to_dict()) == expected
    assert sum(1 for _, code in killed_at if code == -signal.SIGKILL) >= 5, killed_at
    result = subprocess.run(
        [sys.executable, "-m", "eucaqa", "index", "--documents", str(docs_copy), "--index", str(index_dir)],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not list(index_dir.glob(".tmp-*"))
    assert len([p for p in index_dir.iterdir() if p.name.startswith("build-")]) <= 2
    record("sigkill", {"phases": [phase for phase, _ in killed_at], "kills": len(killed_at)})


def test_read_only_index_folder_is_a_clear_error_and_keeps_the_index(docs_copy, tmp_path):
    index_dir = tmp_path / "index"
    build_index(docs_copy, index_dir)
    before = current_build(index_dir)
    (docs_copy / "more.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    command = [sys.executable, "-m", "eucaqa", "index", "--documents", str(docs_copy), "--index", str(index_dir)]
    if os.geteuid() == 0 and shutil.which("unshare"):
        # root ignores file modes: make the folder read-only with a private read-only bind mount
        command = ["unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(index_dir), *command]
    else:
        index_dir.chmod(0o555)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"})
    finally:
        index_dir.chmod(0o755)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines[-1].startswith("eucaqa: error: ") and "index" in lines[-1] and "kept" in lines[-1]
    assert "Traceback" not in result.stderr
    assert current_build(index_dir) == before
    assert load_index(index_dir).manifest["counts"]["documents"] == 2


# --------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def reader(embedder):
    options = ChunkingOptions(model_path=str(embedder.model_path), max_tokens=200, overlap=1)
    with FileReader(options, timeout_seconds=20) as file_reader:
        yield file_reader


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096), suffix=st.sampled_from([".pdf", ".txt", ".md"]),
       pdf_header=st.booleans())
def test_random_bytes_are_read_or_refused_with_a_reason(reader, tmp_path_factory, data, suffix, pdf_header):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"random{suffix}"
    path.write_bytes((b"%PDF-1.4\n" if pdf_header and suffix == ".pdf" else b"") + data)
    try:
        document, chunked = reader.read(path, path.name)
    except DocumentError as error:
        assert str(error)
    else:
        for chunk in chunked.chunks:
            assert document.text[chunk.start : chunk.end] == chunk.text


@pytest.mark.parametrize("name", ["us_constitution.pdf", "multicolumn.pdf", "pr-138-example.pdf"])
def test_damaged_real_pdfs_are_read_or_refused(reader, tmp_path, name):
    outcomes = []
    for path in damaged_copies(PDF_DIR / name, tmp_path):
        try:
            document, chunked = reader.read(path, path.name)
            assert all(document.text[c.start : c.end] == c.text for c in chunked.chunks)
            outcomes.append("read")
        except DocumentError as error:
            outcomes.append(f"skipped: {error}")
    assert len(outcomes) == 7


def test_a_slow_pdf_hits_the_time_limit_and_the_build_goes_on(docs_copy, tmp_path, embedder):
    from eucaqa.settings import Settings

    make_slow_pdf(docs_copy / "slow.pdf")
    (docs_copy / "junk.md").write_bytes(os.urandom(3000))
    started = time.monotonic()
    stats = build_index(docs_copy, tmp_path / "index", embedder=embedder, settings=Settings(load_timeout_seconds=3))
    elapsed = time.monotonic() - started
    reasons = dict(stats.skipped)
    assert "time limit" in reasons["slow.pdf"]
    assert "junk.md" in reasons
    assert stats.documents == 2
    assert elapsed < 120
    record("slow_pdf", {"time_limit_seconds": 3, "build_seconds": round(elapsed, 1), "reason": reasons["slow.pdf"]})


# ------------------------------------------------------------ hostile questions


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(min_size=0, max_size=300))
def test_random_unicode_questions_answer_or_raise_value_error(shipped_index, question):
    try:
        result = answer(question, index_dir=shipped_index)
    except ValueError:
        assert not any(character.isalnum() for character in question)  # empty, or no word in it
        return
    assert isinstance(result.found, bool)
    json.dumps(result.to_dict())


@pytest.mark.parametrize(
    "question",
    [
        "\x00\x07\x1b[31m control \u202e characters \ufeff",
        "Когда была принята обновлённая стратегия ЕС для Центральной Азии?",
        "欧盟何时通过了新的中亚战略？",
        "When was the strategy adopted? " * 3500,
    ],
    ids=["control", "russian", "chinese", "100k-chars"],
)
def test_odd_questions_get_an_answer_object(shipped_index, question):
    result = answer(question, index_dir=shipped_index)
    assert isinstance(result.found, bool) and result.passages
    if not result.found:
        assert result.sentences == []


def test_a_question_of_punctuation_alone_is_refused(shipped_index):
    with pytest.raises(ValueError, match="question has no words"):
        answer("?!.,;:()[]{}-–—…", index_dir=shipped_index)


# -------------------------------------------------------------- tampered index


def _tamper(index_dir: Path, how: str) -> None:
    build = current_build(index_dir)
    manifest_path = build / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if how == "format":
        manifest["format_version"] = 999
        manifest_path.write_text(json.dumps(manifest))
    elif how == "model":
        manifest["model"]["fingerprint"] = "0" * 16
        manifest["model"]["name"] = "some-other-model"
        manifest_path.write_text(json.dumps(manifest))
    elif how == "dimension":
        manifest["model"]["dimension"] = 768
        manifest_path.write_text(json.dumps(manifest))
    elif how == "truncated-faiss":
        data = (build / "sentences.faiss").read_bytes()
        (build / "sentences.faiss").write_bytes(data[: len(data) // 3])
    elif how == "metadata-mismatch":
        chunks = np.load(build / "chunks.npy")
        np.save(build / "chunks.npy", chunks[:-3], allow_pickle=False)
    elif how == "spans-outside":
        chunks = np.load(build / "chunks.npy")
        chunks[0, 3] = 10**9
        np.save(build / "chunks.npy", chunks, allow_pickle=False)
    elif how == "pickled-array":
        marker = index_dir.parent / "pwned"
        np.save(build / "sentences.npy", np.array([_Exploit(str(marker))], dtype=object), allow_pickle=True)
    elif how == "json-garbage":
        (build / "documents.json").write_text("{not json")
    elif how == "current-escape":
        (index_dir / "CURRENT").write_text("../../etc\n")


class _Exploit:
    """Unpickling this would create a file: the index must never unpickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("how", ["format", "model", "dimension", "truncated-faiss", "metadata-mismatch",
                                 "spans-outside", "pickled-array", "json-garbage", "current-escape"])
def test_a_tampered_index_is_a_clear_error(shipped_index, tmp_path, how, capsys):
    index_dir = tmp_path / "index"
    shutil.copytree(shipped_index, index_dir)
    _tamper(index_dir, how)
    with pytest.raises(IndexFormatError, match="rebuild with: eucaqa index --full"):
        answer("When did the partnership agreement with Tajikistan come into force?", index_dir=index_dir)
    assert not (tmp_path / "pwned").exists()
    assert main(["ask", "What is TACIS?", "--index", str(index_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eucaqa: error: ")
    stats = build_index(SHIPPED_DOCUMENTS, index_dir, full=True)
    assert stats.documents == 2
    assert answer("What is TACIS?", index_dir=index_dir).passages
