"""``eucaqa serve``: the public chat at ``/``, document management at ``/admin``, one server.

Serving a team safely:

- the public app (chat, Sources, the ``/answer`` API) changes nothing;
- ``/admin`` (``/upload``, ``/rebuild``, ``/delete``) needs the user ``admin`` and
  the password of ``EUCAQA_ADMIN_PASSWORD`` or of ``--admin-password-file``; on
  127.0.0.1 without a password it is open (one person on their own machine); on
  any other address without a password it is not served at all; failed logins
  are slowed down;
- ``EUCAQA_READER_PASSWORD`` (or ``--reader-password-file``) puts the public app
  behind a login (user ``reader``) too;
- ``EUCAQA_RATE_LIMIT`` questions per minute per client (default 60); the client
  is the connecting address, or the ``X-Forwarded-For`` address when the
  connection comes from a proxy named in ``EUCAQA_TRUSTED_PROXIES``;
- every upload, delete and rebuild appends one JSON line to ``<index>/audit.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fastapi import Request  # a module-level name: FastAPI reads the route's annotations from here

from .errors import EucaqaError
from .links import ROUTE, render_text_view, resolve_document

logger = logging.getLogger(__name__)

ADMIN_USER = "admin"
READER_USER = "reader"
ADMIN_PATH = "/admin"
DEFAULT_RATE_LIMIT = 60
AUDIT_FILE = "audit.jsonl"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Seconds a failed login waits, doubling with each failure in a row of that login (user), at most this.
LOGIN_DELAY = 0.5
MAX_LOGIN_DELAY = 8.0


@dataclass
class ServerSettings:
    """Who may do what on the server; see the module's docstring for the variables."""

    host: str = "127.0.0.1"
    port: int = 7860
    admin_password: str | None = None
    reader_password: str | None = None
    rate_limit: int = DEFAULT_RATE_LIMIT
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)

    @property
    def admin_open(self) -> bool:
        """No password, and only this machine can connect."""
        return self.admin_password is None and self.host in LOOPBACK

    @property
    def admin_served(self) -> bool:
        return self.admin_password is not None or self.admin_open


def _password(variable: str, file: str | Path | None) -> str | None:
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise EucaqaError(f"cannot read the password file {file}: {error.strerror or error}") from None
        if not value:
            raise EucaqaError(f"the password file {file} is empty")
        return value
    return os.environ.get(variable) or None


def settings_from_env(host: str = "127.0.0.1", port: int = 7860, admin_password_file: str | Path | None = None,
                      reader_password_file: str | Path | None = None) -> ServerSettings:
    """Server settings from the environment and the password files (never from the command line)."""
    raw_limit = os.environ.get("EUCAQA_RATE_LIMIT", str(DEFAULT_RATE_LIMIT)).strip()
    try:
        rate_limit = int(raw_limit)
    except ValueError:
        raise EucaqaError(f"EUCAQA_RATE_LIMIT must be a whole number of questions per minute, got {raw_limit!r}") from None
    if rate_limit < 1:
        raise EucaqaError(f"EUCAQA_RATE_LIMIT must be >= 1, got {rate_limit}")
    proxies = frozenset(p.strip() for p in os.environ.get("EUCAQA_TRUSTED_PROXIES", "").split(",") if p.strip())
    return ServerSettings(
        host=host,
        port=port,
        admin_password=_password("EUCAQA_ADMIN_PASSWORD", admin_password_file),
        reader_password=_password("EUCAQA_READER_PASSWORD", reader_password_file),
        rate_limit=rate_limit,
        trusted_proxies=proxies,
    )


def client_address(host: str | None, forwarded_for: str | None, trusted: frozenset[str]) -> str:
    """The client: the connecting address, or behind a trusted proxy the last address
    of ``X-Forwarded-For`` that is not itself a trusted proxy."""
    address = host or "unknown"
    if address in trusted and forwarded_for:
        for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
            if hop not in trusted:
                return hop
    return address


class RateLimiter:
    """At most ``per_minute`` questions per client in any 60 seconds (a sliding window)."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._asked: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            asked = self._asked[client]
            while asked and now - asked[0] >= self.window:
                asked.popleft()
            if len(asked) >= self.per_minute:
                return False
            asked.append(now)
            return True


class AuditLog:
    """Appends one JSON line per change to ``<index>/audit.jsonl``; lines are never rewritten."""

    def __init__(self, index_dir: str | Path) -> None:
        self.path = Path(index_dir) / AUDIT_FILE
        self._lock = threading.Lock()

    def append(self, user: str, client: str, action: str, files: list[str], result: str) -> None:
        line = json.dumps({
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "user": user,
            "client": client,
            "action": action,
            "files": files,
            "result": result,
        }, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of the whole line to a file opened for appending.
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, line.encode("utf-8"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


class SlowLogin:
    """Checks a user's password; each failure in a row makes the next answer wait longer.

    :meth:`check` is a coroutine: Gradio awaits it inside its login route, so the
    wait does not hold up the server's other requests.
    """

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self._failures = 0
        self._lock = threading.Lock()

    async def check(self, user: str, password: str) -> bool:
        import hmac

        good = hmac.compare_digest(user.encode(), self.user.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode()
        )
        with self._lock:
            failures = 0 if good else self._failures + 1
            self._failures = failures
        if not good:
            await _wait(min(MAX_LOGIN_DELAY, LOGIN_DELAY * 2 ** (failures - 1)))
        return bool(good)


async def _wait(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _request_client(request, trusted: frozenset[str]) -> str:
    host = getattr(getattr(request, "client", None), "host", None)
    headers = getattr(request, "headers", None) or {}
    return client_address(host, headers.get("x-forwarded-for"), trusted)


def add_document_route(fastapi_app, documents_dir: str | Path, index_dir: str | Path,
                       allowed: Callable | None = None) -> None:
    """Serve ``/document/<file>`` from ``documents_dir`` on a FastAPI app.

    ``allowed(request)`` returns None to serve, else the response to send instead
    (the readers' login when the chat has one)."""
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


def _basic_login(user: str, password: str | None):
    """For the document links when the chat has a login: HTTP Basic with the same user and password."""
    if password is None:
        return None
    import base64
    import hmac

    from fastapi.responses import PlainTextResponse

    expected = base64.b64encode(f"{user}:{password}".encode()).decode()

    def allowed(request):
        given = request.headers.get("authorization", "")
        if given.startswith("Basic ") and hmac.compare_digest(given[6:].strip().encode(), expected.encode()):
            return None
        return PlainTextResponse("login required", status_code=401,
                                 headers={"WWW-Authenticate": f'Basic realm="eucaqa documents ({user})"'})

    return allowed


def create_server_app(documents_dir: str | Path, index_dir: str | Path, settings: ServerSettings):
    """The FastAPI app: ``/document`` links, the admin app at ``/admin`` (when served), the chat at ``/``."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI

    from .app import CSS, build_admin_app, build_public_app
    from .uploads import MAX_UPLOAD_BYTES

    limiter = RateLimiter(settings.rate_limit)
    audit = AuditLog(index_dir)

    def ask_allowed(request) -> str | None:
        client = _request_client(request, settings.trusted_proxies)
        if limiter.allow(client):
            return None
        return f"Refused: rate limit of {settings.rate_limit} questions per minute reached; please wait a moment."

    def record(request, action: str, files: list[str], result: str) -> None:
        user = getattr(request, "username", None) or ("local" if settings.admin_open else "unknown")
        audit.append(user, _request_client(request, settings.trusted_proxies), action, files, result)

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    add_document_route(app, documents_dir, index_dir, allowed=_basic_login(READER_USER, settings.reader_password))
    common = {"server_name": settings.host, "server_port": settings.port, "footer_links": ["api"], "css": CSS,
              "theme": gr.themes.Soft(), "max_file_size": MAX_UPLOAD_BYTES, "show_error": True}
    if settings.admin_served:
        admin_auth = SlowLogin(ADMIN_USER, settings.admin_password).check if settings.admin_password else None
        gr.mount_gradio_app(app, build_admin_app(documents_dir, index_dir, record=record), path=ADMIN_PATH,
                            auth=admin_auth, auth_message="Document management: user admin", **common)
    reader_auth = SlowLogin(READER_USER, settings.reader_password).check if settings.reader_password else None
    public = build_public_app(index_dir, ask_allowed=ask_allowed, admin_path=ADMIN_PATH if settings.admin_served else None)
    gr.mount_gradio_app(app, public, path="/", auth=reader_auth, **common)
    return app


def banner(settings: ServerSettings) -> list[str]:
    """What the server says when it starts (never a password)."""
    url = f"http://{settings.host}:{settings.port}"
    lines = [f"eucaqa chat on {url}/ (rate limit {settings.rate_limit} questions per minute per client)"]
    if settings.admin_password:
        lines.append(f"document management on {url}{ADMIN_PATH}/ (user {ADMIN_USER}, password required)")
    elif settings.admin_open:
        lines.append(f"document management on {url}{ADMIN_PATH}/ is OPEN: no password is set, "
                     "and the server only listens on this machine")
    else:
        lines.append(f"document management ({ADMIN_PATH}) is NOT served: set EUCAQA_ADMIN_PASSWORD or "
                     "--admin-password-file to enable it on a shared address")
    if settings.reader_password:
        lines.append(f"the chat needs a login (user {READER_USER})")
    return lines


#: Seconds a stopping server waits for open connections: a browser tab or client keeps a stream
#: open to the chat (its conversation is session state), which would otherwise hold the exit.
SHUTDOWN_SECONDS = 5


class RunningServer:
    """A server in a background thread (tests, benchmarks); ``close()`` stops it."""

    def __init__(self, app, settings: ServerSettings) -> None:
        import uvicorn

        self.settings = settings
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=SHUTDOWN_SECONDS)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="eucaqa-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise EucaqaError(f"the server did not start on {settings.host}:{settings.port}")
            time.sleep(0.05)
        self.url = f"http://{settings.host}:{settings.port}/"

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def start(documents_dir: str | Path, index_dir: str | Path, settings: ServerSettings) -> RunningServer:
    """Serve in a background thread; returns the running server."""
    return RunningServer(create_server_app(documents_dir, index_dir, settings), settings)


def serve(documents_dir: str | Path = "documents", index_dir: str | Path = "index",
          settings: ServerSettings | None = None) -> None:
    """Serve until interrupted (the index is brought up to date by the caller)."""
    import uvicorn

    settings = settings or ServerSettings()
    for line in banner(settings):
        print(line, flush=True)
    if not settings.admin_served:
        logger.warning("document management is not served on %s: set EUCAQA_ADMIN_PASSWORD to enable it", settings.host)
    app = create_server_app(documents_dir, index_dir, settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=SHUTDOWN_SECONDS)
