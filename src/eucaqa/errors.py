"""Errors that eucaqa raises on purpose.

Each one carries a message fit to show a user as a single line; the CLI and the
web chat print it as is (exit code 2 in the CLI) instead of a traceback.
"""

from __future__ import annotations


class EucaqaError(Exception):
    """Base class of every error eucaqa raises on purpose."""


class DocumentError(EucaqaError):
    """A document cannot be read (corrupt, encrypted, empty, unsupported...)."""


class DocumentsFolderError(EucaqaError):
    """The documents folder is missing, not a folder, or holds no documents."""


class IndexNotFoundError(EucaqaError):
    """No index has been built in the given folder yet."""


class IndexFormatError(EucaqaError):
    """The index on disk is damaged or was built by another version or model."""


class IndexWriteError(EucaqaError):
    """The index folder cannot be written; the previous index is kept."""
