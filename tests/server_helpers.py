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


def start_server(documents_dir: Path, index_dir: Path, **settings):
    """Build the index, serve it from this process on 127.0.0.1; returns (server, url).

    ``settings`` are fields of eucaqa.server.ServerSettings (admin_password, rate_limit...).
    """
    from eucaqa.index import build_index
    from eucaqa.server import ServerSettings, start

    build_index(documents_dir, index_dir)
    server = start(documents_dir, index_dir, ServerSettings(host="127.0.0.1", port=free_port(), **settings))
    return server, server.url


def wait_for(condition, timeout: float = 60.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


@contextmanager
def shipped_corpus_server(root: Path, **settings):
    """A chat server over a private copy of the shipped documents; yields (url, documents folder)."""
    from conftest import SHIPPED_DOCUMENTS

    documents = root / "documents"
    shutil.copytree(SHIPPED_DOCUMENTS, documents)
    app, url = start_server(documents, root / "index", **settings)
    try:
        yield url, documents
    finally:
        app.close()
