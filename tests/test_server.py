"""Serving a team: the public app changes nothing, /admin needs its login, a rate limit
per client, an audit log; against real servers with gradio_client."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from eucaqa.errors import EucaqaError
from eucaqa.server import (
    AUDIT_FILE,
    RateLimiter,
    ServerSettings,
    SlowLogin,
    banner,
    client_address,
    settings_from_env,
)

from server_helpers import free_port, shipped_corpus_server, wait_for

PASSWORD = "correct horse battery staple"
NOTE = "The Aral Basin Fund was set up in 2030 to restore wetlands in Karakalpakstan."


def _client(url, **kwargs):
    from gradio_client import Client

    return Client(url, verbose=False, **kwargs)


def _status(url: str, path: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    """A server with an admin password, a rate limit of 20 and 127.0.0.1 as a trusted proxy."""
    root = tmp_path_factory.mktemp("team")
    settings = {"admin_password": PASSWORD, "rate_limit": 20, "trusted_proxies": frozenset({"127.0.0.1"})}
    with shipped_corpus_server(root, **settings) as (url, documents):
        yield url, documents, root / "index"


def test_the_public_app_has_no_endpoint_that_changes_documents(team_server):
    url, _, _ = team_server
    endpoints = _client(url, headers={"X-Forwarded-For": "10.9.0.1"}).view_api(
        return_format="dict", print_info=False)["named_endpoints"]
    assert "/answer" in endpoints
    assert not {"/upload", "/rebuild", "/delete"} & set(endpoints)


def test_admin_refuses_no_password_and_a_wrong_one(team_server):
    url, _, _ = team_server
    with pytest.raises(Exception, match="credentials were not provided|login"):
        _client(url + "admin/")
    with pytest.raises(Exception, match="Could not login"):
        _client(url + "admin/", auth=("admin", "wrong password"))
    with pytest.raises(Exception, match="Could not login"):
        _client(url + "admin/", auth=("root", PASSWORD))


def test_admin_upload_and_rebuild_make_a_document_answerable_and_are_audited(team_server, tmp_path):
    from gradio_client import handle_file

    url, documents, index_dir = team_server
    admin = _client(url + "admin/", auth=("admin", PASSWORD))
    assert {"/upload", "/rebuild", "/delete"} <= set(admin.view_api(return_format="dict", print_info=False)["named_endpoints"])
    path = tmp_path / "aral-fund.txt"
    path.write_text(NOTE, encoding="utf-8")
    message, _ = admin.predict([handle_file(str(path))], api_name="/upload")
    assert "added aral-fund.txt" in message and (documents / "aral-fund.txt").is_file()
    status, _ = admin.predict(api_name="/rebuild")
    assert "3 documents" in status
    public = _client(url, headers={"X-Forwarded-For": "10.9.0.2"})
    data = public.predict("When was the Aral Basin Fund set up?", api_name="/answer")
    assert data["found"] and "2030" in data["text"] and data["sentences"][0]["source"] == "aral-fund.txt"
    lines = (index_dir / AUDIT_FILE).read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    upload = next(e for e in entries if e["action"] == "upload")
    rebuild = next(e for e in entries if e["action"] == "rebuild")
    assert upload["user"] == "admin" and upload["files"] == ["aral-fund.txt"] and "added" in upload["result"]
    assert rebuild["user"] == "admin" and "3 documents" in rebuild["result"]
    assert set(upload) == {"time", "user", "client", "action", "files", "result"}
    assert upload["time"].endswith("+00:00") and upload["client"] == "127.0.0.1"


def test_rate_limit_refuses_a_fast_client_and_not_another(team_server):
    url, _, _ = team_server
    fast = _client(url, headers={"X-Forwarded-For": "10.9.1.1"})
    other = _client(url, headers={"X-Forwarded-For": "10.9.1.2"})
    refused, messages = 0, set()
    for _ in range(30):
        try:
            fast.predict("What is TACIS?", api_name="/answer")
        except Exception as error:
            refused += 1
            messages.add(str(error))
    assert refused >= 5
    assert all("rate limit" in message for message in messages)
    assert other.predict("What is TACIS?", api_name="/answer")["passages"]


def test_on_a_shared_address_without_a_password_admin_is_not_served(docs_copy, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("EUCAQA_ADMIN_PASSWORD",)}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eucaqa", "serve", "--host", "0.0.0.0", "--port", str(port),
             "--documents", str(docs_copy), "--index", str(tmp_path / "index")],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:
        wait_for(lambda: "eucaqa chat on" in log.read_text() or process.poll() is not None, timeout=240)
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _reachable(url), timeout=60)
        assert _status(url, "/admin/") == 404
        assert _status(url, "/admin/gradio_api/info") == 404
        assert _client(url).predict("When was the EU's renewed strategy towards Central Asia adopted?",
                                    api_name="/answer")["found"]
        text = log.read_text()
        assert "NOT served" in text and "EUCAQA_ADMIN_PASSWORD" in text
    finally:
        process.terminate()
        process.wait(timeout=30)


def _reachable(url: str) -> bool:
    try:
        return _status(url, "/") == 200
    except OSError:
        return False


def test_a_reader_password_puts_the_chat_and_the_document_links_behind_a_login(tmp_path):
    import base64

    with shipped_corpus_server(tmp_path, reader_password="readers only") as (url, _):
        with pytest.raises(Exception, match="credentials were not provided|login"):
            _client(url)
        reader = _client(url, auth=("reader", "readers only"))
        link = reader.predict("What is TACIS?", api_name="/answer")["passages"][0]["link"]
        assert _status(url, link.split("#")[0]) == 401
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        token = base64.b64encode(b"reader:readers only").decode()
        connection.request("GET", link.split("#")[0], headers={"Authorization": f"Basic {token}"})
        assert connection.getresponse().status == 200
        connection.close()


def test_client_address_trusts_forwarded_for_only_from_named_proxies():
    assert client_address("10.0.0.5", "1.2.3.4", frozenset()) == "10.0.0.5"
    assert client_address("127.0.0.1", "1.2.3.4", frozenset({"127.0.0.1"})) == "1.2.3.4"
    # a client cannot pose as another by adding its own X-Forwarded-For in front
    assert client_address("127.0.0.1", "6.6.6.6, 1.2.3.4", frozenset({"127.0.0.1"})) == "1.2.3.4"
    assert client_address("127.0.0.1", None, frozenset({"127.0.0.1"})) == "127.0.0.1"


def test_rate_limiter_window():
    limiter = RateLimiter(3, window=60.0)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")


def test_failed_logins_wait_longer_each_time(monkeypatch):
    import asyncio
    import inspect

    waits = []

    async def record(seconds):
        waits.append(seconds)

    monkeypatch.setattr("eucaqa.server._wait", record)
    login = SlowLogin("admin", "pw")
    assert inspect.iscoroutinefunction(login.check)  # Gradio awaits it instead of taking a coroutine for "yes"
    assert not any(asyncio.run(login.check("admin", guess)) for guess in ("x", "y", "z"))
    assert waits == sorted(waits) and waits[0] < waits[-1]
    assert asyncio.run(login.check("admin", "pw")) and len(waits) == 3


def test_settings_come_from_the_environment_and_password_files(tmp_path, monkeypatch):
    monkeypatch.setenv("EUCAQA_ADMIN_PASSWORD", "from-env")
    monkeypatch.setenv("EUCAQA_RATE_LIMIT", "7")
    settings = settings_from_env("0.0.0.0", 8080)
    assert settings.admin_password == "from-env" and settings.rate_limit == 7 and settings.admin_served
    file = tmp_path / "admin-password"
    file.write_text("from-file\n", encoding="utf-8")
    assert settings_from_env(admin_password_file=file).admin_password == "from-file"
    monkeypatch.setenv("EUCAQA_RATE_LIMIT", "many")
    with pytest.raises(EucaqaError, match="EUCAQA_RATE_LIMIT"):
        settings_from_env()
    monkeypatch.delenv("EUCAQA_RATE_LIMIT")
    with pytest.raises(EucaqaError, match="cannot read the password file"):
        settings_from_env(admin_password_file=tmp_path / "missing")
    assert not any(PASSWORD in line or "from-env" in line for line in banner(settings))


def test_banner_says_whether_admin_is_open(monkeypatch):
    assert "OPEN" in " ".join(banner(ServerSettings(host="127.0.0.1")))
    assert "NOT served" in " ".join(banner(ServerSettings(host="0.0.0.0")))
    assert "password required" in " ".join(banner(ServerSettings(host="0.0.0.0", admin_password="x")))


def test_serve_with_a_missing_password_file_is_one_line_exit_2(tmp_path, capsys):
    from eucaqa.cli import main

    code = main(["serve", "--admin-password-file", str(tmp_path / "none"), "--documents", str(tmp_path),
                 "--index", str(tmp_path / "index")])
    assert code == 2
    assert capsys.readouterr().err.strip().startswith("eucaqa: error: cannot read the password file")
