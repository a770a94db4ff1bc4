"""A real browser (Debian's Chromium driven by Playwright) using the chat as a person would."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from server_helpers import shipped_corpus_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: Where the README's screenshot lives (docs/chat.png); refreshed with EUCAQA_SCREENSHOT=1.
README_SCREENSHOT = ROOT / "docs" / "chat.png"
INJECTION_DOCUMENT = (
    "The Zhetysu Cultural Exchange was founded in 2029 to send students between Almaty and Vienna. "
    "Its charter quotes <script>alert(1)</script> and <img src=x onerror=alert(1)> as examples of unsafe markup."
)

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"chromium is required under CI=true and was not found at {CHROMIUM}")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


ADMIN_PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    with shipped_corpus_server(root, admin_password=ADMIN_PASSWORD) as (url, _):
        yield url, root


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        yield page
        browser.close()


def ask(page, question: str, expect: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.locator("#chatbot").get_by_text(expect).last.wait_for(timeout=60_000)


def test_question_shows_cited_answer_and_highlighted_source(server, page):
    url, _ = server
    page.goto(url)
    ask(page, "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?", "Roman Vassilenko")
    chat = page.locator("#chatbot").inner_text()
    assert "[1]" in chat and "trend-2025-02-14-kazakhstan-eu-middle-corridor-talks.txt" in chat
    marks = page.locator("#sources mark")
    assert marks.count() >= 1 and "Roman Vassilenko" in page.locator("#sources").inner_text()
    # every source says how likely it holds the answer, in words and percent, not a rank score
    passages, figures = page.locator("#sources .eucaqa-passage"), page.locator("#sources .eucaqa-likelihood")
    assert passages.count() == 5 and figures.count() == 5
    assert all(re.fullmatch(r"(likely holds|may hold|unlikely to hold) the answer \(\d{1,3}%\)", text)
               for text in figures.all_inner_texts())
    assert "score 0." not in page.locator("#sources").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)


def test_an_answer_below_the_threshold_is_shown_as_the_closest_not_as_an_answer(server, page, monkeypatch):
    """Between the band's lower end and the threshold the chat says the documents may not answer
    exactly, and shows the closest span as such. The server runs in this process and reads both
    settings at each question, so a threshold of 0.99 puts this answer (0.8 or so) in the band."""
    url, _ = server
    monkeypatch.setenv("EUCAQA_MIN_CONFIDENCE", "0.99")
    monkeypatch.setenv("EUCAQA_MAY_NOT_ANSWER_FROM", "0.0")
    page.goto(url)
    ask(page, "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?", "may not answer exactly")
    reply = page.locator("#chatbot .message").last.inner_text() if page.locator("#chatbot .message").count() else \
        page.locator("#chatbot").inner_text()
    assert "The documents may not answer exactly what was asked." in reply
    assert "The closest they come (not an answer)" in reply and "Middle Corridor" in reply
    assert "trend-2025-02-14-kazakhstan-eu-middle-corridor-talks.txt" in reply
    assert "below the 0.99 an answer needs" in reply and "[1]" not in reply
    figures = page.locator("#sources .eucaqa-likelihood")
    assert figures.count() == page.locator("#sources .eucaqa-passage").count() == 5
    assert page.locator("#sources mark").count() >= 1  # the closest span, marked in its passage
    page.screenshot(path=str(ARTIFACTS / "chat-unsure.png"), full_page=True)


FIRST_QUESTION = "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?"
FOLLOW_UP = "What is his government post?"


def reply_to(text: str, question: str) -> str:
    """The chat's text after ``question`` was first asked: its reply, and what follows."""
    return text.split(question, 1)[-1]


def test_a_follow_up_is_answered_from_the_conversation_and_shown_as_understood(server, page):
    url, _ = server
    page.goto(url)
    ask(page, FIRST_QUESTION, "Roman Vassilenko")
    ask(page, FOLLOW_UP, "Understood as")
    reply = reply_to(page.locator("#chatbot").inner_text(), FOLLOW_UP)
    assert "Deputy Minister of Foreign Affairs" in reply and "[1]" in reply
    assert f"Understood as: {FOLLOW_UP} (" in reply and "Brussels" in reply.split("Understood as:")[1]
    page.screenshot(path=str(ARTIFACTS / "chat-follow-up.png"), full_page=True)
    if os.environ.get("EUCAQA_SCREENSHOT"):
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / "chat-follow-up.png", README_SCREENSHOT)


def test_new_conversation_forgets_the_earlier_turns(server, page):
    url, _ = server
    page.goto(url)
    ask(page, FIRST_QUESTION, "Roman Vassilenko")
    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#chatbot').innerText.includes('Roman Vassilenko')",
                           timeout=30_000)
    ask(page, FOLLOW_UP, "do not answer")  # on its own, "his" points nowhere
    chat = page.locator("#chatbot").inner_text()
    assert "Understood as" not in chat and FIRST_QUESTION not in chat


def test_uploaded_markup_is_shown_as_text_and_never_runs(server, page, tmp_path):
    from playwright.sync_api import expect

    url, root = server
    document = tmp_path / "zhetysu-exchange.txt"
    document.write_text(INJECTION_DOCUMENT, encoding="utf-8")
    page.goto(url + "admin/")
    page.locator("input[type=password]").wait_for(timeout=30_000)
    page.locator("input[type=text]").first.fill("admin")
    page.locator("input[type=password]").fill("not the password")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_text("Incorrect Credentials")).to_be_visible(timeout=30_000)
    page.locator("input[type=text]").first.fill("admin")
    page.locator("input[type=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.locator("#upload input[type=file]").set_input_files(str(document))
    expect(page.locator("#upload-status textarea")).to_have_value(re.compile("added"), timeout=60_000)
    assert (root / "documents" / "zhetysu-exchange.txt").is_file()
    page.locator("#rebuild").click()
    expect(page.locator("#rebuild-status textarea")).to_have_value(re.compile("3 documents"), timeout=120_000)
    audit = [json.loads(line) for line in (root / "index" / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(entry["user"], entry["action"]) for entry in audit] == [("admin", "upload"), ("admin", "rebuild")]
    page.goto(url)
    ask(page, "When was the Zhetysu Cultural Exchange founded?", "2029")
    sources = page.locator("#sources").inner_text()
    assert "<script>alert(1)</script>" in sources and "<img src=x onerror=alert(1)>" in sources
    ask(page, "What does the Zhetysu charter quote as examples of unsafe markup?", "unsafe markup")
    chat = page.locator("#chatbot").inner_text()
    assert "<script>alert(1)</script>" in chat and "<img src=x onerror=alert(1)>" in chat
    page.wait_for_timeout(1000)
    assert page.dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("Array.from(document.scripts).some(s => s.textContent.includes('alert(1)'))") is False
    page.screenshot(path=str(ARTIFACTS / "injection.png"), full_page=True)


@pytest.fixture(scope="module")
def pdf_server(tmp_path_factory):
    """A server over the shipped documents plus a PDF (the US constitution booklet)."""
    from conftest import PDF_DIR
    from server_helpers import start_server

    root = tmp_path_factory.mktemp("browser-pdf")
    documents = root / "documents"
    shutil.copytree(ROOT / "documents", documents)
    shutil.copyfile(PDF_DIR / "us_constitution.pdf", documents / "us_constitution.pdf")
    app, url = start_server(documents, root / "index")
    try:
        yield url, documents
    finally:
        app.close()


def _click_source(page, source: str):
    """Click the chat's source line of ``source``; returns the page it opened and the responses seen."""
    responses = []
    page.context.on("response", lambda response: responses.append(response))
    link = page.locator(f"#chatbot a[href*='/document/{source}']").last
    with page.context.expect_page() as opened:
        link.click()
    target = opened.value
    target.wait_for_load_state()
    return target, link.get_attribute("href"), responses


def test_a_pdf_citation_opens_the_pdf_at_the_cited_page(pdf_server, page):
    from gradio_client import Client

    url, documents = pdf_server
    question = "How old must a person be to serve as a senator?"
    expected = Client(url, verbose=False).predict(question, api_name="/answer")
    cited = [s for s in expected["sentences"] if s["source"] == "us_constitution.pdf"]
    assert expected["found"] and cited
    page.goto(url)
    ask(page, question, "thirty")
    opened, href, responses = _click_source(page, "us_constitution.pdf")
    assert href == cited[0]["link"] and href.endswith(f"#page={cited[0]['page']}")
    assert opened.url.endswith(f"/document/us_constitution.pdf#page={cited[0]['page']}")
    pdfs = [r for r in responses if "/document/us_constitution.pdf" in r.url]
    assert pdfs and pdfs[-1].status == 200
    assert pdfs[-1].headers["content-type"] == "application/pdf"
    # Chromium hands the bytes to its PDF viewer; fetch the same URL to compare them.
    fetched = page.context.request.get(url.rstrip("/") + href.split("#")[0])
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.body() == (documents / "us_constitution.pdf").read_bytes()
    opened.close()


def test_a_text_citation_opens_the_document_with_the_sentence_marked(pdf_server, page):
    url, _ = pdf_server
    page.goto(url)
    ask(page, "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?", "Roman Vassilenko")
    page.locator("#chatbot strong", has_text="Roman Vassilenko").last.wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-phrase.png"), full_page=True)
    source = "trend-2025-02-14-kazakhstan-eu-middle-corridor-talks.txt"
    opened, href, _ = _click_source(page, source)
    assert href.startswith(f"/document/{source}?start=") and href.endswith("#cited")
    marked = opened.locator("mark#cited")
    assert marked.count() == 1
    assert "The delegation of Kazakhstan discussed" in marked.inner_text()
    assert opened.url.endswith("#cited")
    opened.close()


def test_documents_tab_lists_documents_and_skipped_files_and_delete_asks_first(pdf_server, page):
    from playwright.sync_api import expect

    url, documents = pdf_server
    page.goto(url + "admin/")
    table = page.locator("#documents")
    expect(table).to_contain_text("us_constitution.pdf", timeout=30_000)
    assert "indexed" in table.inner_text()
    assert "Last build:" in page.locator("#build-summary").inner_text()
    page.locator("#documents").get_by_text("us_constitution.pdf").first.wait_for()
    # deleting asks first; cancelling keeps the file
    page.get_by_role("combobox", name="Document").click()
    page.get_by_role("option", name="us_constitution.pdf").click()
    page.locator("#delete").click()
    expect(page.locator("#delete-status textarea")).to_have_value(re.compile("cannot be undone"), timeout=10_000)
    page.locator("#cancel-delete").click()
    expect(page.locator("#delete-status textarea")).to_have_value("Nothing deleted.", timeout=10_000)
    assert (documents / "us_constitution.pdf").is_file()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "documents.png"), full_page=True)
