"""Links that open a cited source at the cited place, and the server route behind them.

``link`` of a passage or answer span is a server-relative URL of ``eucaqa serve``:

- a PDF: ``/document/<file>#page=N``: the file itself, unchanged, which the
  browser's PDF viewer opens at page N;
- a text or Markdown file: ``/document/<file>?start=S&end=E#cited``: an HTML
  view of the document's cleaned text (the text answers are cut from), every
  character escaped, the cited span inside ``<mark id="cited">``.

Only visible files inside the documents folder are served; anything else, a
folder, a hidden file, ``..``, an encoded ``/`` or ``\\``, a symlink that
leaves the folder, is 404.
"""


import html
import re
from collections.abc import Callable
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


def add_document_route(fastapi_app, documents_dir: str | Path, index_dir: str | Path,
                       allowed: Callable | None = None) -> None:
    """Serve ``/document/<file>`` from ``documents_dir`` on a FastAPI app.

    ``allowed(request)`` returns None to serve, else the response to send instead
    (the readers' login when the chat has one)."""
    from fastapi import Request
    from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
    from fastapi.routing import APIRoute

    not_found = PlainTextResponse("not found", status_code=404)
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}

    def document(path: str, request: Request, start: int | None = None, end: int | None = None):
        refusal = allowed(request) if allowed else None
        if refusal is not None:
            return refusal
        raw = request.scope.get("raw_path", b"").decode("latin-1")
        target = resolve_document(documents_dir, path, raw)
        if target is None:
            return not_found
        if target.suffix.lower() == ".pdf":
            return FileResponse(target, media_type="application/pdf", headers={**headers, "Content-Disposition": "inline"})
        text = _cleaned_text(index_dir, path, target)
        if text is None:
            return not_found
        return HTMLResponse(render_text_view(path, text, start, end), headers=headers)

    route = APIRoute(f"{ROUTE}/{{path:path}}", document, methods=["GET"], include_in_schema=False)
    fastapi_app.router.routes.insert(0, route)


def _cleaned_text(index_dir: str | Path, source: str, path: Path) -> str | None:
    """The text the index cut answers from (so that offsets match), else the file read anew."""
    from .answering import get_engine
    from .documents import load_document
    from .errors import EucaqaError

    try:
        index = get_engine(index_dir).index
        if source in index.sources:
            return index.texts[index.sources.index(source)]
    except EucaqaError:
        pass
    try:
        return load_document(path, source).text
    except EucaqaError:
        return None
