"""Stage 4 — index: build, update and load the search index in ``index/``.

- :mod:`.store`: the folder layout, writing a build, the atomic ``CURRENT`` swap, the lock;
- :mod:`.build`: what changed since the last build, reading and embedding it (``build_index``);
- :mod:`.loaded`: a build read back and checked, used to answer questions (``load_index``).
"""

from .build import IndexStats, build_config, build_index
from .loaded import LoadedIndex, load_index
from .store import (
    CURRENT_FILE,
    FORMAT_VERSION,
    HNSW_EF_SEARCH,
    HNSW_MIN_VECTORS,
    OCR_CACHE_FOLDER,
    IndexedDocument,
    current_build,
    make_faiss_index,
    nearest_vectors,
    page_number,
    read_manifest,
    write_build,
)

__all__ = [
    "CURRENT_FILE",
    "FORMAT_VERSION",
    "HNSW_EF_SEARCH",
    "HNSW_MIN_VECTORS",
    "OCR_CACHE_FOLDER",
    "IndexStats",
    "IndexedDocument",
    "LoadedIndex",
    "build_config",
    "build_index",
    "current_build",
    "load_index",
    "make_faiss_index",
    "nearest_vectors",
    "page_number",
    "read_manifest",
    "write_build",
]
