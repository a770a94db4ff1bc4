"""Links to the cited place: the /document route of a real server, traversal refused,
markup shown as text, links that agree with their source and page, the answering phrase."""

from __future__ import annotations

import html
import http.client
import os
import shutil
from urllib.parse import urlsplit

import pytest

from eucaqa import answer
from eucaqa.links import document_link, render_text_view, resolve_document

from conftest import PDF_DIR, SHIPPED_DOCUMENTS
from server_helpers import start_server

MARKUP = "The Steppe Council met in 2031. Its minutes quote <script>alert(1)</script> and <b>bold</b> as markup."


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("links")
    documents = root / "documents"
    shutil.copytree(SHIPPED_DOCUMENTS, documents)
    shutil.copyfile(PDF_DIR / "us_constitution.pdf", documents / "us_constitution.pdf")
    (documents / "markup.txt").write_text(MARKUP, encoding="utf-8")
    (documents / "sub").mkdir()
    (documents / "sub" / "inner note.txt").write_text("The inner note names the Aral Basin Fund.", encoding="utf-8")
    (documents / ".hidden.txt").write_text("hidden text", encoding="utf-8")
    secret = root / "secret.txt"
    secret.write_text("outside the documents folder", encoding="utf-8")
    os.symlink(secret, documents / "escape.txt")
    app, url = start_server(documents, root / "index")
    try:
        yield url, documents, root / "index"
    finally:
        app.close()


def get(url: str, path: str) -> tuple[int, dict, bytes]:
    """A GET with the path sent exactly as written (no client-side normalising)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.mark.parametrize(
    "path",
    [
        "/document/../README.md",
        "/document/../../etc/passwd",
        "/document/%2e%2e/%2e%2e/etc/passwd",
        "/document/%2E%2E/secret.txt",
        "/document/..%2fsecret.txt",
        "/document/sub%2finner%20note.txt",
        "/document/..%5csecret.txt",
        "/document/..\\secret.txt",
        "/document/sub/../../secret.txt",
        "/document/escape.txt",
        "/document/.hidden.txt",
        "/document/sub",
        "/document/sub/",
        "/document/",
        "/document/missing.txt",
        "/document/%00markup.txt",
    ],
)
def test_paths_outside_or_not_documents_are_404(served, path):
    url, _, _ = served
    status, _, body = get(url, path)
    assert status == 404, (path, body[:200])
    assert b"outside the documents folder" not in body and b"hidden text" not in body


def test_a_pdf_is_served_unchanged(served):
    url, documents, _ = served
    status, headers, body = get(url, "/document/us_constitution.pdf")
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert body == (documents / "us_constitution.pdf").read_bytes()


def test_a_file_in_a_sub_folder_with_a_space_is_served(served):
    url, _, _ = served
    status, headers, body = get(url, "/document/sub/inner%20note.txt")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"Aral Basin Fund" in body


def test_markup_in_a_document_is_shown_as_text(served):
    url, _, _ = served
    start = MARKUP.index("Its minutes")
    status, headers, body = get(url, f"/document/markup.txt?start={start}&end={len(MARKUP)}")
    page = body.decode("utf-8")
    assert status == 200 and "nosniff" in headers["x-content-type-options"]
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<mark id="cited">Its minutes quote &lt;script&gt;' in page


def test_links_of_passages_and_sentences_agree_with_source_and_page(served):
    _, _, index_dir = served
    for question in ("How old must a person be to serve as a senator?", "When did the Steppe Council meet?",
                     "What share of Kazakhstan's exports to the EU is oil and gas?"):
        result = answer(question, index_dir=index_dir, min_confidence=0.0)
        for cited in [*result.sentences, *result.passages]:
            assert cited.link == document_link(cited.source, cited.page, cited.start, cited.end)
            if cited.source.endswith(".pdf"):
                assert cited.link == f"/document/{cited.source}#page={cited.page}"
            else:
                assert cited.link == f"/document/{cited.source}?start={cited.start}&end={cited.end}#cited"
        assert result.to_dict()["sentences"][0]["link"] == result.sentences[0].link


def test_a_text_link_marks_exactly_the_cited_span(served):
    url, _, index_dir = served
    result = answer("When did the Steppe Council meet?", index_dir=index_dir)
    assert result.found and result.sentences[0].source == "markup.txt"
    cited = result.sentences[0]
    status, _, body = get(url, cited.link.split("#")[0])
    assert status == 200
    # the span may reach the document's markup-like text, which the page shows escaped
    assert f'<mark id="cited">{html.escape(cited.text)}</mark>' in body.decode("utf-8")


def test_the_answering_phrase_lies_inside_its_span(served):
    _, _, index_dir = served
    result = answer("When did the Steppe Council meet?", index_dir=index_dir)
    sentence = result.sentences[0]
    assert sentence.highlight is not None
    start, end = sentence.highlight
    assert sentence.start <= start < end <= sentence.end
    assert sentence.text[start - sentence.start : end - sentence.start] == "2031"
    assert answer("Why was the ratification delayed?", index_dir=index_dir, min_confidence=0.0).sentences[0].highlight is None


def test_resolve_document_and_the_view_without_a_server(tmp_path):
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    assert resolve_document(tmp_path, "a.txt") == (tmp_path / "a.txt").resolve()
    assert resolve_document(tmp_path, "a.txt", raw_path="/document/a%2Ftxt") is None
    assert resolve_document(tmp_path, "../a.txt") is None
    view = render_text_view("<x>.txt", "a <i>b</i> c", 2, 10)
    assert "<title>&lt;x&gt;.txt</title>" in view and '<mark id="cited">&lt;i&gt;b&lt;/i&gt;</mark>' in view
