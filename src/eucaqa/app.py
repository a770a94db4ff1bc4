"""The web chat (Gradio): cited answers, their sources, documents and rebuilds.

Document text is always HTML-escaped before it is shown, uploads are stored
only inside the documents folder under a sanitised name, and the server binds
127.0.0.1 unless told otherwise. Questions are answered from the current index
while a rebuild runs; the new index is picked up when its build completes.
"""


import logging
import os
import threading
from pathlib import Path

from .answering import answer
from .errors import EucaqaError
from .render import DOCUMENT_COLUMNS, document_rows, escape, last_build_summary, render_reply, render_sources
from .settings import SUPPORTED_SUFFIXES
from .uploads import store_upload

logger = logging.getLogger(__name__)

QUESTION_CONCURRENCY = 8
EXAMPLE_QUESTIONS = [
    "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?",
    "When was the EU's renewed strategy towards Central Asia adopted?",
    "What share of Kazakhstan's exports to the EU is oil and gas?",
    "Which border management programme did the EU start in Central Asia in 2003?",
]
CSS = """
.eucaqa-passage { border-left: 3px solid #c7d2fe; padding: 4px 10px; margin: 10px 0; }
.eucaqa-passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
.eucaqa-citation { font-size: 0.85em; color: #4b5563; margin-bottom: 2px; }
"""


# ------------------------------------------------------------------------ app


#: The most earlier turns the chat keeps for follow-up questions (only the last is read).
MAX_TURNS = 20


def chat_turn(question: str, history: list | None, index_dir: str | Path,
              turns: list | None = None) -> tuple[list, str | None, list]:
    """One chat exchange: the messages with the question and its reply, the Sources HTML, and the
    conversation's turns (``(question, Answer)`` pairs, passed to :func:`answer` as its history).

    A question the engine refuses (empty, unreadable) gets a one-line message
    in the chat instead of an error; an empty box changes nothing (None).
    """
    history = list(history or [])
    turns = list(turns or [])
    question = (question or "").strip()
    if not question:
        return history, None, turns
    shown = escape(question if len(question) <= 500 else question[:500] + "…")
    try:
        result = answer(question, index_dir=index_dir, history=turns)
    except (EucaqaError, ValueError) as error:
        history += [{"role": "user", "content": shown}, {"role": "assistant", "content": escape(f"Error: {error}")}]
        return history, "<p></p>", turns
    history += [{"role": "user", "content": shown}, {"role": "assistant", "content": render_reply(result)}]
    return history, render_sources(result), (turns + [(question, result)])[-MAX_TURNS:]


def build_public_app(index_dir: str | Path = "index", *, ask_allowed=None, admin_path: str | None = None):
    """The public Blocks: the chat, its Sources and the ``/answer`` API; nothing that changes documents.

    ``ask_allowed(request)`` returns None when the client may ask, else the refusal
    message (the rate limit); ``admin_path`` adds a "Manage documents" link.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    index_dir = Path(index_dir)

    def refused(request) -> str | None:
        return ask_allowed(request) if ask_allowed else None

    def api_answer(question: str, request: gr.Request, history: list | None = None) -> dict:
        """Answer a question from the documents; returns Answer.to_dict(). ``history``: the earlier
        turns, oldest first, each ``[question, answer]`` (the answer's dict as returned, its text, or null)."""
        refusal = refused(request)
        if refusal:
            raise gr.Error(refusal)
        try:
            return answer(question, index_dir=index_dir, history=history or None).to_dict()
        except ValueError as error:
            raise gr.Error(str(error)) from None

    def chat(question: str, history: list, turns: list, request: gr.Request):
        refusal = refused(request) if (question or "").strip() else None
        if refusal:
            history = list(history or []) + [
                {"role": "user", "content": escape(question[:500])},
                {"role": "assistant", "content": escape(refusal)},
            ]
            return "", history, gr.update(), turns
        history, sources_html, turns = chat_turn(question, history, index_dir, turns)
        return "", history, sources_html if sources_html is not None else gr.update(), turns

    with gr.Blocks(title="eucaqa — EU–Central Asia documents") as app:
        manage = f" · [Manage documents]({admin_path}/)" if admin_path else ""
        gr.Markdown(
            "## eucaqa\nAnswers copied verbatim from the documents about EU–Central Asia relations, "
            f"each with its source. Nothing is generated.{manage}"
        )
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Answers", height=460, elem_id="chatbot", sanitize_html=True)
                question = gr.Textbox(
                    label="Question", placeholder="Ask about EU–Central Asia relations…", elem_id="question"
                )
                with gr.Row():
                    ask_button = gr.Button("Ask", variant="primary", elem_id="ask")
                    new_conversation = gr.Button("New conversation", elem_id="new-conversation")
                gr.Examples(EXAMPLE_QUESTIONS, inputs=question, label="Examples")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML("<p>The passages behind each answer appear here.</p>", elem_id="sources")
        # The conversation so far, (question, Answer) pairs, for follow-up questions; one per browser tab.
        turns = gr.State([])
        for trigger in (question.submit, ask_button.click):
            trigger(chat, [question, chatbot, turns], [question, chatbot, sources, turns], api_visibility="private",
                    concurrency_limit=QUESTION_CONCURRENCY, concurrency_id="questions")
        new_conversation.click(lambda: ([], "<p></p>", []), None, [chatbot, sources, turns], api_visibility="private")
        gr.api(api_answer, api_name="answer", concurrency_limit=QUESTION_CONCURRENCY, concurrency_id="questions")
    app.queue(default_concurrency_limit=QUESTION_CONCURRENCY)
    return app


def build_admin_app(documents_dir: str | Path = "documents", index_dir: str | Path = "index", *, record=None):
    """The document management Blocks: the documents table, ``/upload``, ``/rebuild``, ``/delete``.

    ``record(request, action, files, result)`` is called after every change (the audit log).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from .index import build_index, load_index

    documents_dir, index_dir = Path(documents_dir), Path(index_dir)
    rebuild_lock = threading.Lock()

    def audit(request, action: str, files: list[str], result: str) -> None:
        if record is not None:
            record(request, action, files, result)

    def documents_table() -> list[list]:
        try:
            return document_rows(load_index(index_dir))
        except EucaqaError:
            return []

    def build_summary() -> str:
        try:
            return last_build_summary(load_index(index_dir))
        except EucaqaError as error:
            return f"No index yet ({error})."

    def document_choices() -> list[str]:
        if not documents_dir.is_dir():
            return []
        return sorted(
            p.relative_to(documents_dir).as_posix()
            for p in documents_dir.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def upload(files, request: gr.Request) -> tuple[str, dict]:
        messages, names = [], []
        for file in files or []:
            path = getattr(file, "name", None) or str(file)
            original = getattr(file, "orig_name", None) or Path(path).name
            stored = store_upload(path, original, documents_dir)
            messages.append(stored.message)
            names.append(stored.name)
        audit(request, "upload", names, "; ".join(messages) or "no files")
        messages.append("Press “Rebuild index” to make new files answerable.")
        return "\n".join(messages), gr.update(choices=document_choices(), value=None)

    def rebuild(request: gr.Request, progress=gr.Progress()):
        if not rebuild_lock.acquire(blocking=False):
            return "A rebuild is already running.", gr.update()
        try:
            progress(0, desc="Reading documents")

            def on_progress(done: int, total: int) -> None:
                progress(done / total, desc=f"Embedding {done}/{total}")

            stats = build_index(
                documents_dir,
                index_dir,
                on_progress=on_progress,
                on_file=lambda source: progress(0, desc=f"Reading {source}"),
            )
        except EucaqaError as error:
            audit(request, "rebuild", [], f"failed: {error}")
            return f"Rebuild failed: {error}", gr.update()
        finally:
            rebuild_lock.release()
        audit(request, "rebuild", [], stats.summary())
        lines = [stats.summary()] + [f"skipped {source}: {reason}" for source, reason in stats.skipped]
        return "\n".join(lines), documents_table()

    def ask_to_delete(name: str | None):
        if not name:
            return "Choose a document to delete.", gr.update(visible=False)
        return f"Delete {name} from the documents folder? This cannot be undone.", gr.update(visible=True)

    def delete(name: str | None, request: gr.Request):
        if not name:
            return "Choose a document to delete.", gr.update(choices=document_choices(), value=None)
        target = (documents_dir / name).resolve()
        if documents_dir.resolve() not in target.parents or not target.is_file():
            audit(request, "delete", [name], "refused: not in the documents folder")
            return f"{name} is not in the documents folder.", gr.update(choices=document_choices(), value=None)
        target.unlink()
        audit(request, "delete", [name], "deleted")
        return (
            f"deleted {name}; press “Rebuild index” to drop it from answers.",
            gr.update(choices=document_choices(), value=None),
        )

    with gr.Blocks(title="eucaqa — documents") as app:
        gr.Markdown("## eucaqa · documents\n[Back to the chat](../)")
        summary = gr.Markdown(build_summary, elem_id="build-summary")
        table = gr.Dataframe(
            headers=DOCUMENT_COLUMNS, value=documents_table, interactive=False, label="Documents", elem_id="documents"
        )
        files = gr.File(
            label="Add .pdf, .txt or .md files (50 MB each at most)",
            file_count="multiple",
            file_types=list(SUPPORTED_SUFFIXES),
            elem_id="upload",
        )
        upload_status = gr.Textbox(label="Upload", interactive=False, lines=3, elem_id="upload-status")
        rebuild_button = gr.Button("Rebuild index", variant="primary", elem_id="rebuild")
        rebuild_status = gr.Textbox(label="Index", interactive=False, lines=3, elem_id="rebuild-status")
        with gr.Row():
            to_delete = gr.Dropdown(choices=document_choices(), label="Document", scale=3)
            delete_button = gr.Button("Delete document…", variant="secondary", scale=1, elem_id="delete")
        with gr.Row(visible=False) as confirm_row:
            confirm_button = gr.Button("Yes, delete it", variant="stop", elem_id="confirm-delete")
            cancel_button = gr.Button("Cancel", elem_id="cancel-delete")
        delete_status = gr.Textbox(label="Delete", interactive=False, elem_id="delete-status")

        files.upload(upload, files, [upload_status, to_delete], api_name="upload")
        rebuild_button.click(rebuild, None, [rebuild_status, table], api_name="rebuild", concurrency_limit=1).then(
            build_summary, None, summary, api_visibility="private")
        delete_button.click(ask_to_delete, to_delete, [delete_status, confirm_row], api_visibility="private")
        cancel_button.click(lambda: ("Nothing deleted.", gr.update(visible=False)), None, [delete_status, confirm_row],
                            api_visibility="private")
        confirm_button.click(delete, to_delete, [delete_status, to_delete], api_name="delete").then(
            lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
        app.load(lambda: gr.update(choices=document_choices()), None, to_delete, api_visibility="private")
    app.queue(default_concurrency_limit=QUESTION_CONCURRENCY)
    return app
