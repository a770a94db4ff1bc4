"""Links that open a cited source at the cited place, and the server route behind them.

``link`` of a passage or answer span is a server-relative URL of ``eucaqa serve``:

- a PDF: ``/document/<file>#page=N``: the file itself, unchanged, which the
  browser's PDF viewer opens at page N;
- a text or Markdown file: ``/document/<file>?start=S&end=E#cited``: an HTML
  view of the document's cleaned text (the text answers are cut from), every
  character escaped, the cited span inside ``<mark id="cited">``.

Only visible files inside the documents folder are served; anything else, a
folder, a hidden file, ``..``, an encoded ``/`` or ``\\``, a symlink that
leaves the folder, is 404 (:func:`resolve_document`; the route itself is in
:mod:`eucaqa.server`).
"""


import html
import re
from pathlib import Path
from urllib.parse import quote

from .settings import SUPPORTED_SUFFIXES

ROUTE = "/document"
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


def document_link(source: str, page: int | None, start: int, end: int) -> str:
    """The server-relative URL that opens ``source`` at the cited place."""
    path = f"{ROUTE}/{quote(source, safe='/')}"
    if source.lower().endswith(".pdf"):
        return f"{path}#page={page or 1}"
    return f"{path}?start={start}&end={end}#cited"


def resolve_document(documents_dir: str | Path, relative: str, raw_path: str = "") -> Path | None:
    """The file a link names, or None when it must not be served."""
    if _ENCODED_SEPARATOR.search(raw_path) or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if not relative or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    root = Path(documents_dir).resolve()
    try:
        target = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if root not in target.parents or not target.is_file() or target.suffix.lower() not in SUPPORTED_SUFFIXES:
        return None
    return target


def render_text_view(source: str, text: str, start: int | None, end: int | None) -> str:
    """A whole HTML page showing ``text`` as text, ``text[start:end]`` marked."""
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (
            f"{html.escape(text[:start])}<mark id=\"cited\">{html.escape(text[start:end])}</mark>"
            f"{html.escape(text[end:])}"
        )
    else:
        body = html.escape(text)
    title = html.escape(source)
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.55}"
        "pre{white-space:pre-wrap;font-family:inherit}mark{background:#fde68a;padding:0 1px}"
        f"</style></head><body><h1 style=\"font-size:1.1rem\">{title}</h1><pre>{body}</pre></body></html>"
    )
