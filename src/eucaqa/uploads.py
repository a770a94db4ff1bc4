"""Uploads from the web chat: a file is stored only inside the documents folder,
under a sanitised name, and only when it is of a supported kind and size."""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .settings import SUPPORTED_SUFFIXES

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_NAME_CHARS = 120


@dataclass
class StoredUpload:
    name: str
    message: str
    stored: bool


def safe_file_name(name: str) -> str:
    """A plain file name: no folders, no '..', no control characters, not hidden, not too long.

    Raises:
        ValueError: nothing usable is left of the name.
    """
    name = unicodedata.normalize("NFC", name.replace("\x00", ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = re.sub(r"[<>:\"|?*]", "_", name).strip().lstrip(".").strip()
    if len(name) > MAX_NAME_CHARS:
        stem, suffix = os.path.splitext(name)
        name = stem[: MAX_NAME_CHARS - len(suffix)] + suffix
    if not name or name in (".", ".."):
        raise ValueError("the file name is empty once made safe")
    return name


def store_upload(source_path: str | Path, original_name: str, documents_dir: str | Path) -> StoredUpload:
    """Copy an uploaded file into ``documents_dir``, refusing what does not belong there."""
    documents_dir = Path(documents_dir)
    try:
        name = safe_file_name(original_name)
    except ValueError as error:
        return StoredUpload(original_name, f"refused {original_name!r}: {error}", False)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return StoredUpload(name, f"refused {name}: only {', '.join(SUPPORTED_SUFFIXES)} files are accepted", False)
    size = Path(source_path).stat().st_size
    if size > MAX_UPLOAD_BYTES:
        return StoredUpload(name, f"refused {name}: {size / 2**20:.0f} MB is over the 50 MB limit", False)
    data_head = Path(source_path).read_bytes()[:5]
    if suffix == ".pdf" and not data_head.startswith(b"%PDF"):
        return StoredUpload(name, f"refused {name}: not a PDF file", False)
    documents_dir.mkdir(parents=True, exist_ok=True)
    target = documents_dir / name
    renamed = False
    counter = 2
    while target.exists():
        if target.read_bytes() == Path(source_path).read_bytes():
            return StoredUpload(target.name, f"{target.name} is already in the documents", False)
        target = documents_dir / f"{Path(name).stem} ({counter}){Path(name).suffix}"
        renamed = True
        counter += 1
    if target.resolve().parent != documents_dir.resolve():
        return StoredUpload(name, f"refused {name}: it would be stored outside the documents folder", False)
    tmp = documents_dir / f".upload-{os.getpid()}-{threading.get_ident()}"
    shutil.copyfile(source_path, tmp)
    os.replace(tmp, target)
    note = f" (a different {name} exists, so it was stored as {target.name})" if renamed else ""
    return StoredUpload(target.name, f"added {target.name}{note}", True)

