"""What the web chat shows: answers, sources and the documents table as escaped Markdown/HTML.

Document text is always escaped before it is shown: it is displayed as typed and
never run. Imports the answer types only; no Gradio.
"""

from __future__ import annotations

import html
import re

from .answering import UNSURE_TEXT, Answer, AnswerSentence, confidence_label, likelihood_label
from .retrieval import CitedText


def escape(text: str) -> str:
    """Document text made inert for the chat's Markdown and HTML: shown as typed, run never."""
    markdown_inert = re.sub(r"([\\`*_{}\[\]()#+\-.!|~])", r"\\\1", text)
    return html.escape(markdown_inert, quote=False)


def _with_phrase(sentence: AnswerSentence, bold: tuple[str, str]) -> str:
    """The span's text escaped, its answering phrase (``highlight``) wrapped in ``bold``."""
    if not sentence.highlight:
        return escape(sentence.text)
    start, end = (offset - sentence.start for offset in sentence.highlight)
    text = sentence.text
    return f"{escape(text[:start])}{bold[0]}{escape(text[start:end])}{bold[1]}{escape(text[end:])}"


def source_lines(sentences: list[CitedText]) -> list[tuple[list[int], str, str]]:
    """One line per source file, each file once: its markers, ``file, pp. 4, 7`` and the first
    cited place's link (of answer spans, or of passages)."""
    groups: dict[str, list[tuple[int, CitedText]]] = {}
    for number, sentence in enumerate(sentences, start=1):
        groups.setdefault(sentence.source, []).append((number, sentence))
    lines = []
    for source, members in groups.items():
        pages = sorted({s.page for _, s in members if s.page is not None})
        label = source
        ocr = any(s.ocr for _, s in members)
        if pages:
            label += f", p. {pages[0]}" if len(pages) == 1 else ", pp. " + ", ".join(str(page) for page in pages)
        if ocr:
            label += " (OCR)"
        lines.append(([number for number, _ in members], label, members[0][1].link))
    return lines


def render_reply(result: Answer) -> str:
    """The chat bubble: answer spans with [n] markers (the answering phrase in bold),
    the confidence, then one line per source linking to the cited place; or, in the band below
    the threshold, that the documents may not answer exactly, with the closest span as such.
    A follow-up completed from the conversation ends with how it was understood."""
    reply = _reply_body(result)
    if result.understood_as:
        reply += f"\n\n*Understood as: {escape(result.understood_as)}*"
    return reply


def _reply_body(result: Answer) -> str:
    if result.unsure and result.closest is not None:
        closest = result.closest
        link = f" [{escape(closest.citation)}]({closest.link})" if closest.link else f" {escape(closest.citation)}"
        return (
            f"{escape(UNSURE_TEXT)}\n\nThe closest they come (not an answer):\n\n> {escape(closest.text)}\n\n"
            f"*{confidence_label(result.confidence).capitalize()} ({result.confidence:.2f}), "
            f"below the {result.band[1]:.2f} an answer needs*\n\n{link}"
        )
    if not result.found:
        closest = "".join(f"\n- {escape(label)}" for _, label, _ in source_lines(result.passages[:3]))
        reply = escape(result.text)
        return reply + (f"\n\nClosest passages (see Sources):{closest}" if closest else "")
    body = " ".join(
        f"{_with_phrase(s, ('**', '**'))} **\\[{n}\\]**" for n, s in enumerate(result.sentences, start=1)
    )
    sources = "\n".join(
        "".join(f"\\[{n}\\]" for n in numbers) + (f" [{escape(label)}]({link})  " if link else f" {escape(label)}  ")
        for numbers, label, link in source_lines(result.sentences)
    )
    confidence = f"*{confidence_label(result.confidence).capitalize()} ({result.confidence:.2f})*"
    return f"{body}\n\n{confidence}\n\n{sources}"


def render_sources(result: Answer) -> str:
    """The retrieved passages as HTML, the answer's spans (or the closest span) marked inside
    them (the answering phrase in bold), each passage's citation a link to the cited place,
    and how likely it holds the answer."""
    if not result.passages:
        return "<p>No passages.</p>"
    blocks = []
    marked_spans = result.sentences or ([result.closest] if result.closest is not None else [])
    for number, passage in enumerate(result.passages, start=1):
        inside = sorted(
            (s for s in marked_spans if s.source == passage.source and s.start < passage.end and s.end > passage.start),
            key=lambda s: s.start,
        )
        parts, cursor = [], passage.start
        for sentence in inside:
            start, end = max(sentence.start, passage.start), min(sentence.end, passage.end)
            if start < cursor:
                continue
            parts.append(html.escape(passage.text[cursor - passage.start : start - passage.start]))
            marked = [start]
            if sentence.highlight and start <= sentence.highlight[0] and sentence.highlight[1] <= end:
                marked += sentence.highlight
            marked.append(end)
            pieces = [html.escape(passage.text[a - passage.start : b - passage.start]) for a, b in zip(marked, marked[1:])]
            if len(pieces) == 3:
                pieces[1] = f"<strong>{pieces[1]}</strong>"
            parts.append(f"<mark>{''.join(pieces)}</mark>")
            cursor = end
        parts.append(html.escape(passage.text[cursor - passage.start :]))
        citation = html.escape(passage.citation)
        if passage.link:
            citation = f'<a href="{html.escape(passage.link)}" target="_blank" rel="noopener">{citation}</a>'
        likelihood = (f' · <span class="eucaqa-likelihood">{likelihood_label(passage.probability)}</span>'
                      if passage.probability is not None else "")
        blocks.append(
            f'<div class="eucaqa-passage"><div class="eucaqa-citation">Passage {number} · '
            f"{citation}{likelihood}</div>"
            f"<div>{''.join(parts)}</div></div>"
        )
    return "".join(blocks)

DOCUMENT_COLUMNS = ["file", "pages", "pages without text", "chunks", "size", "indexed (UTC)", "status"]


def _size(count: int | None) -> str:
    if not count:
        return ""
    for unit in ("bytes", "KB", "MB"):
        if count < 1024 or unit == "MB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return ""


def document_rows(index) -> list[list]:
    """One row per indexed document, then one per skipped file with its reason."""
    rows = []
    for entry in index.documents_table():
        empty = entry["empty_pages"]
        rows.append([
            entry["source"],
            entry["pages"] + len(empty),
            ", ".join(str(number) for number in empty) if empty else "",
            entry["chunks"],
            _size(entry["bytes"]),
            (entry["indexed_at"] or "").replace("T", " ").replace("+00:00", ""),
            "indexed",
        ])
    rows += [[item["source"], "", "", "", "", "", f"skipped: {item['reason']}"] for item in index.skipped_table()]
    return rows


def last_build_summary(index) -> str:
    """One line on the build in use: when, how many documents and chunks, how many files skipped."""
    manifest = index.manifest
    built = manifest.get("built_at", "").replace("T", " ").replace("+00:00", " UTC")
    counts = manifest["counts"]
    skipped = len(manifest.get("skipped", {}))
    return (
        f"**Last build:** {built} · {counts['documents']} documents · {counts['chunks']} chunks"
        + (f" · {skipped} files skipped (reasons below)" if skipped else "")
    )

