"""Reading files for a build in a separate process, with a time limit per file.

Loading (pypdf) and sentence splitting run in one worker process. A file that
takes longer than the limit, or that crashes the worker, is skipped with its
reason; the worker is replaced and the build goes on, so one hostile file
cannot stall or kill it. The worker never imports torch: counting word pieces
needs only the model's ``tokenizer.json``.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .chunking import ChunkedDocument, chunk_document
from .documents import Document, load_document
from .errors import DocumentError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkingOptions:
    model_path: str
    max_tokens: int
    overlap: int


@lru_cache(maxsize=2)
def _token_counter(model_path: str):
    from .embedding import Embedder

    return Embedder(model_path).count_tokens


def read_and_chunk(path: str, source: str, options: ChunkingOptions) -> tuple[Document, ChunkedDocument]:
    """Load, clean and chunk one file (runs in the worker)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    document = load_document(path, source)
    chunked = chunk_document(document, _token_counter(options.model_path), options.max_tokens, options.overlap)
    return document, chunked


class FileReader:
    """Reads files one at a time in a worker process; use as a context manager."""

    def __init__(self, options: ChunkingOptions, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self.options = options
        self.timeout_seconds = timeout_seconds
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop()

    def read(self, path: Path, source: str) -> tuple[Document, ChunkedDocument]:
        """The file's document and chunks.

        Raises:
            DocumentError: the file is bad, too slow to read, or crashed the reader.
        """
        if self._pool is None:
            # spawn, not fork: the parent may hold torch's threads.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        future = self._pool.submit(read_and_chunk, str(path), source, self.options)
        try:
            return future.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            self._stop(kill=True)
            raise DocumentError(
                f"took longer than {self.timeout_seconds:g} s to read (the time limit per file)"
            ) from None
        except BrokenProcessPool:
            self._stop(kill=True)
            raise DocumentError("the reader crashed on this file") from None
        except DocumentError:
            raise
        except Exception as error:  # anything a library raises on a hostile file
            raise DocumentError(f"cannot read ({type(error).__name__}: {error})") from None

    def _stop(self, kill: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=not kill, cancel_futures=True)
