"""Starting a real eucaqa chat server on a free loopback port for tests."""

from __future__ import annotations

import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(documents_dir: Path, index_dir: Path):
    """Build the index, launch the app in this process; returns (app, url)."""
    from eucaqa.app import build_app, launch
    from eucaqa.index import build_index

    build_index(documents_dir, index_dir)
    app, url = launch(build_app(documents_dir, index_dir), host="127.0.0.1", port=free_port(), block=False)
    return app, url


def wait_for(condition, timeout: float = 60.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


@contextmanager
def shipped_corpus_server(root: Path):
    """A chat server over a private copy of the shipped documents; yields (url, documents folder)."""
    from conftest import SHIPPED_DOCUMENTS

    documents = root / "documents"
    shutil.copytree(SHIPPED_DOCUMENTS, documents)
    app, url = start_server(documents, root / "index")
    try:
        yield url, documents
    finally:
        app.close()
