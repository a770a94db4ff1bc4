"""The web chat through a real Gradio server and gradio_client; rendering and uploads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eucaqa.answering import Answer, AnswerSentence
from eucaqa.render import escape, render_reply, render_sources
from eucaqa.uploads import safe_file_name, store_upload
from eucaqa.retrieval import Passage

from server_helpers import free_port, shipped_corpus_server, wait_for

FORUM = (
    "The Samarkand Connectivity Forum gathered ministers from the five Central Asian states.\n\n"
    "Delegates agreed to build a solar power line named the Steppe Sun Link across the Caspian Sea."
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    with shipped_corpus_server(root) as (url, documents):
        yield url, documents, root


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


@pytest.fixture(scope="module")
def admin(server):
    """Document management: open without a password on 127.0.0.1."""
    from gradio_client import Client

    return Client(server[0] + "admin/", verbose=False)


def test_a_question_gets_a_cited_answer(client):
    data = client.predict("Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?", api_name="/answer")
    assert data["found"] is True
    assert "Roman Vassilenko" in data["text"] and "[1]" in data["text"]
    first = data["sentences"][0]
    assert first["source"].startswith("trend-2025") and first["text"] in data["text"]
    assert set(data) == {"question", "text", "found", "confidence", "sentences", "passages", "seconds", "unsure", "band", "closest",
                         "understood_as"}
    assert 0.0 <= data["confidence"] <= 1.0


def test_the_api_takes_the_conversation_as_history(client):
    first = client.predict("Who is Luc Devigne?", api_name="/answer")
    follow_up = "Which service does he work for?"
    data = client.predict(follow_up, [[first["question"], first]], api_name="/answer")
    assert data["found"] and "European External Action Service" in data["text"]
    assert data["understood_as"].startswith(follow_up) and data["question"] == follow_up
    assert client.predict(follow_up, api_name="/answer")["understood_as"] is None
    with pytest.raises(Exception, match="history"):
        client.predict(follow_up, [["only a question"]], api_name="/answer")


def test_a_question_with_no_words_gets_a_one_line_message_in_the_chat(shipped_index):
    from eucaqa.app import chat_turn

    messages, _, turns = chat_turn("???", [], shipped_index)
    assert [m["role"] for m in messages] == ["user", "assistant"] and turns == []
    assert messages[-1]["content"] == "Error: question has no words: ask it with at least one letter or digit"


def test_an_out_of_scope_question_abstains(client):
    data = client.predict("What is the boiling point of water at sea level?", api_name="/answer")
    assert data["found"] is False and data["sentences"] == []
    assert "do not answer" in data["text"] and data["passages"]


def test_upload_and_rebuild_make_a_new_document_answerable(client, admin, server, tmp_path):
    from gradio_client import handle_file

    question = "What is the name of the solar power line across the Caspian Sea?"
    assert "Steppe Sun Link" not in client.predict(question, api_name="/answer")["text"]
    path = tmp_path / "forum-2031.txt"
    path.write_text(FORUM, encoding="utf-8")
    message, _ = admin.predict([handle_file(str(path))], api_name="/upload")
    assert "added forum-2031.txt" in message
    assert (server[1] / "forum-2031.txt").read_text(encoding="utf-8") == FORUM
    status, table = admin.predict(api_name="/rebuild")
    assert "3 documents" in status and "embedded" in status
    assert "forum-2031.txt" in str(table)
    data = client.predict(question, api_name="/answer")
    assert data["found"] and "Steppe Sun Link" in data["text"]
    assert data["sentences"][0]["source"] == "forum-2031.txt"


def test_upload_refuses_other_types(admin, server, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "macro.docm"
    path.write_bytes(b"PK\x03\x04")
    try:
        message, _ = admin.predict([handle_file(str(path))], api_name="/upload")
    except Exception as error:  # Gradio may refuse the type itself, before our code
        message = str(error)
    assert "refused" in message or "Invalid file type" in message
    assert not (server[1] / "macro.docm").exists()


def test_eucaqa_serve_runs_the_chat(docs_copy, tmp_path):
    """`eucaqa serve` (what `make run` runs): updates the index, then answers on loopback."""
    from gradio_client import Client

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eucaqa", "serve", "--port", str(port),
             "--documents", str(docs_copy), "--index", str(tmp_path / "index")],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: f"http://127.0.0.1:{port}" in log.read_text() or process.poll() is not None, timeout=240)
        assert process.poll() is None, log.read_text()
        client = wait_for(lambda: _connect(Client, f"http://127.0.0.1:{port}/"), timeout=60)
        data = client.predict("When was the EU's renewed strategy towards Central Asia adopted?", api_name="/answer")
        assert data["found"] and "June 2017" in data["text"]
        assert "2 documents" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _connect(client_class, url):
    try:
        return client_class(url, verbose=False)
    except Exception:
        return None


# ----------------------------------------------------------------- rendering


INJECTION = '<script>alert(1)</script> and <img src=x onerror=alert(1)> [link](javascript:alert(1))'


def _answer_with(text: str) -> Answer:
    sentence = AnswerSentence(text=text, source="<b>evil</b>.txt", page=None, start=0, end=len(text), score=1.0)
    passage = Passage(text=text + " More.", source="<b>evil</b>.txt", page=2, start=0, end=len(text) + 6,
                      score=0.5, similarity=0.5, chunk=0)
    return Answer(question="q", text=f"{text} [1]", found=True, sentences=[sentence], passages=[passage])


def test_rendered_document_text_is_inert():
    result = _answer_with(INJECTION)
    reply = render_reply(result)
    sources = render_sources(result)
    for rendered in (reply, sources):
        assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;" in sources and "<mark>" in sources
    assert "](javascript" not in reply


def test_a_completed_follow_up_says_how_it_was_understood_as_inert_text():
    from dataclasses import replace

    plain = render_reply(_answer_with("Some text."))
    assert "Understood as" not in plain
    understood = render_reply(replace(_answer_with("Some text."), understood_as=f"When was it signed? ({INJECTION})"))
    assert understood.startswith(plain) and "Understood as: When was it signed?" in understood
    assert "<script" not in understood and "](javascript" not in understood


def test_an_abstention_names_each_document_once_with_its_pages():
    passages = [Passage(text="Text.", source=source, page=page, start=0, end=5, score=0.1, similarity=0.1, chunk=n)
                for n, (source, page) in enumerate([("a.pdf", 4), ("a.pdf", 2), ("b.txt", None)])]
    reply = render_reply(Answer(question="q", text="The documents do not answer this question.", found=False,
                                passages=passages))
    assert reply.count("a\\.pdf") == 1 and reply.count("b\\.txt") == 1
    assert "a\\.pdf, pp\\. 2, 4" in reply


def test_sources_mark_the_answer_sentence_inside_its_passage():
    result = _answer_with("The line is named Steppe Sun Link.")
    assert "<mark>The line is named Steppe Sun Link.</mark> More." in render_sources(result)


def test_escape_keeps_plain_text_readable():
    assert escape("EU-CA trade [1]") == "EU\\-CA trade \\[1\\]"


# -------------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("C:\\Users\\x\\notes.md", "notes.md"),
        ("bad\x00name.txt", "badname.txt"),
        ("..hidden.txt", "hidden.txt"),
        ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
        ("Қазақстан — ЕО.txt", "Қазақстан — ЕО.txt"),
    ],
)
def test_safe_file_name(name, expected):
    assert safe_file_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", "/", "\x00"])
def test_unusable_names_are_refused(name):
    with pytest.raises(ValueError):
        safe_file_name(name)


def test_store_upload_rules(tmp_path):
    documents = tmp_path / "documents"
    source = tmp_path / "upload.txt"
    source.write_text("EU and Kazakhstan.", encoding="utf-8")
    assert store_upload(source, "../../escape.txt", documents).name == "escape.txt"
    assert (documents / "escape.txt").is_file() and not (tmp_path / "escape.txt").exists()
    same = store_upload(source, "escape.txt", documents)
    assert not same.stored and "already" in same.message
    other = tmp_path / "other.txt"
    other.write_text("Different content.", encoding="utf-8")
    renamed = store_upload(other, "escape.txt", documents)
    assert renamed.stored and renamed.name == "escape (2).txt" and "stored as" in renamed.message
    assert (documents / "escape.txt").read_text(encoding="utf-8") == "EU and Kazakhstan."
    assert not store_upload(source, "tool.exe", documents).stored
    zip_as_pdf = tmp_path / "z.pdf"
    zip_as_pdf.write_bytes(b"PK\x03\x04rest")
    assert "not a PDF" in store_upload(zip_as_pdf, "z.pdf", documents).message
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(51 * 1024 * 1024)
    assert "50 MB" in store_upload(big, "big.txt", documents).message
    assert sorted(p.name for p in documents.iterdir()) == ["escape (2).txt", "escape.txt"]
