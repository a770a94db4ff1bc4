"""Reading files for a build in a separate process, with a time limit per file.

Loading (pypdf) and sentence splitting run in a worker process started as
``python -m eucaqa.file_worker``; requests and replies are JSON lines on its stdin
and stdout (nothing is pickled). A file that takes longer than the limit, or
that crashes the worker, is skipped with its reason; the worker is replaced
and the build goes on, so one hostile file cannot stall or kill a build. The
worker never imports torch: counting word pieces needs only the model's
``tokenizer.json``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from .chunking import Chunk, ChunkedDocument, Sentence, chunk_document
from .documents import Document, Page, load_document
from .errors import DocumentError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkingOptions:
    model_path: str
    max_tokens: int
    overlap: int
    #: folder of the OCR cache (pages of scanned PDFs already read), or None
    ocr_cache: str | None = None


@lru_cache(maxsize=2)
def _token_counter(model_path: str):
    from .embedding import Embedder

    return Embedder(model_path).count_tokens


def read_and_chunk(
    path: str, source: str, options: ChunkingOptions, on_ocr_page=None
) -> tuple[Document, ChunkedDocument]:
    """Load, clean and chunk one file."""
    document = load_document(path, source, ocr_cache=options.ocr_cache, on_ocr_page=on_ocr_page)
    chunked = chunk_document(document, _token_counter(options.model_path), options.max_tokens, options.overlap)
    return document, chunked


# -------------------------------------------------------------- wire format


def _encode_reply(document: Document, chunked: ChunkedDocument) -> dict:
    return {
        "ok": True,
        "source": document.source,
        "text": document.text,
        "pages": [asdict(page) for page in document.pages],
        "empty_pages": document.empty_pages,
        "sentences": [[s.page, s.start, s.end] for s in chunked.sentences],
        "chunks": [[c.page, c.start, c.end, c.first_sentence, c.stop_sentence] for c in chunked.chunks],
    }


def _decode_reply(reply: dict) -> tuple[Document, ChunkedDocument]:
    source, text = reply["source"], reply["text"]
    document = Document(source=source, text=text, pages=[Page(**page) for page in reply["pages"]],
                        empty_pages=[int(number) for number in reply.get("empty_pages", [])])
    sentences = [Sentence(source, page, start, end, text[start:end]) for page, start, end in reply["sentences"]]
    chunks = [Chunk(source, page, start, end, text[start:end], first, stop)
              for page, start, end, first, stop in reply["chunks"]]
    return document, ChunkedDocument(sentences=sentences, chunks=chunks)


def _serve_requests() -> None:
    """The worker: one JSON request a line in, one JSON reply a line out."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # nothing a library prints can corrupt the replies
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    def progress(done: int, total: int) -> None:
        # A line before each OCR page: the client shows it and restarts the page's time limit.
        out.write(json.dumps({"progress": {"ocr_page": done + 1, "of": total}}) + "\n")
        out.flush()

    for line in sys.stdin:
        request = json.loads(line)
        try:
            options = ChunkingOptions(**request["options"])
            reply = _encode_reply(*read_and_chunk(request["path"], request["source"], options, progress))
        except DocumentError as error:
            reply = {"ok": False, "error": str(error)}
        except Exception as error:  # anything a library raises on a hostile file
            reply = {"ok": False, "error": f"cannot read ({type(error).__name__}: {error})"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


# ------------------------------------------------------------------ client


class FileReader:
    """Reads files one at a time in a worker process; use as a context manager."""

    def __init__(self, options: ChunkingOptions, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self.options = options
        self.timeout_seconds = timeout_seconds
        self._worker: subprocess.Popen | None = None

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop()

    def read(
        self, path: Path, source: str, on_ocr_page: Callable[[int, int], None] | None = None
    ) -> tuple[Document, ChunkedDocument]:
        """The file's document and chunks. Pages read by OCR each get the time limit
        anew, and ``on_ocr_page(page, pages)`` is called before each.

        Raises:
            DocumentError: the file is bad, too slow to read, or crashed the file worker.
        """
        worker = self._start()
        request = {"path": str(path), "source": source, "options": asdict(self.options)}
        try:
            worker.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            worker.stdin.flush()
            while True:
                line = self._read_line(worker, time.monotonic() + self.timeout_seconds)
                progress = json.loads(line).get("progress")
                if progress is None:
                    break
                if on_ocr_page:
                    on_ocr_page(progress["ocr_page"], progress["of"])
        except TimeoutError:
            self._stop()
            raise DocumentError(
                f"took longer than {self.timeout_seconds:g} s to read (the time limit per file, and per page read by OCR)"
            ) from None
        except (BrokenPipeError, EOFError):
            self._stop()
            raise DocumentError("the file worker crashed on this file") from None
        reply = json.loads(line)
        if not reply["ok"]:
            raise DocumentError(reply["error"])
        return _decode_reply(reply)

    def _start(self) -> subprocess.Popen:
        if self._worker is None or self._worker.poll() is not None:
            self._buffer = b""
            self._worker = subprocess.Popen(
                [sys.executable, "-m", "eucaqa.file_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_package_root(), os.environ.get("PYTHONPATH")]))},
            )
        return self._worker

    def _read_line(self, worker: subprocess.Popen, deadline: float) -> bytes:
        descriptor = worker.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([descriptor], [], [], remaining)
            if ready:
                data = os.read(descriptor, 1 << 20)
                if not data:
                    raise EOFError
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.poll() is None:
            worker.kill()
        worker.wait()
        for stream in (worker.stdin, worker.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _package_root() -> str:
    """The folder holding the ``eucaqa`` package, so the worker imports this very copy."""
    return str(Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    _serve_requests()
