"""Shared fixtures: one real model per test session, indexes in private temp folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DOCUMENTS = ROOT / "documents"
PDF_DIR = Path(__file__).resolve().parent / "data" / "pdf"
#: the shared dev set (a copy of ../shared/eval/dev.jsonl), kept with the other labelled sets
TESTS_DEV_SET = ROOT / "eval" / "sets" / "dev.jsonl"


@pytest.fixture(scope="session")
def embedder():
    """The real bundled MiniLM, loaded once for the whole session."""
    from eucaqa.embedding import shared_embedder

    model = shared_embedder()
    _ = model.model  # load now, not inside a timed step
    return model


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory, embedder) -> Path:
    """An index of the shipped documents/, built once; tests must not modify it."""
    from eucaqa.index import build_index

    index_dir = tmp_path_factory.mktemp("shipped") / "index"
    build_index(SHIPPED_DOCUMENTS, index_dir, embedder=embedder)
    return index_dir


@pytest.fixture()
def docs_copy(tmp_path) -> Path:
    """A private copy of the shipped documents a test may change."""
    folder = tmp_path / "documents"
    shutil.copytree(SHIPPED_DOCUMENTS, folder)
    return folder
