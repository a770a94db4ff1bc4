"""eucaqa: answers from documents about EU-Central Asia relations, copied verbatim with citations.

>>> from eucaqa import build_index, answer
>>> build_index()                       # doctest: +SKIP
>>> answer("Who led the delegation?")   # doctest: +SKIP
"""

from __future__ import annotations

import logging

from .version import __version__
__all__ = ["Answer", "AnswerSentence", "IndexStats", "Passage", "answer", "build_index", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str):
    # Lazy: importing eucaqa loads neither torch nor faiss.
    if name in ("build_index", "IndexStats"):
        from . import index

        return getattr(index, name)
    if name in ("answer", "Answer", "AnswerSentence", "Passage"):
        from . import answering

        return getattr(answering, name)
    raise AttributeError(f"module 'eucaqa' has no attribute {name!r}")
