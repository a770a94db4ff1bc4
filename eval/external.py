"""Score the committed answer model where it was never fitted: a fourth kind of document, and libraries.

    .venv/bin/python eval/external.py

Nothing here is fitted on. Two conditions the fitted sets do not cover:

- **A fourth kind of document**: ``eval/sets/free_culture.jsonl`` on Lessig's *Free Culture* (2004), a
  352-page book on copyright and media. Its licence (CC BY-NC) keeps it out of the project: it is
  read where it lies, ``../shared/corpus/pdf-nc/freeculture.pdf`` (or ``EUCAQA_FREE_CULTURE_PDF``).
- **Libraries**: one index holding several kinds of document, as when a documents folder mixes
  subjects. "library without X" holds every corpus but X, and is asked X's questions, which it
  cannot answer (the corpora share words: the book discusses Congress, the Senate and the
  Supreme Court); "library of all four" is asked every corpus's questions, answerable among
  the others' passages.

- **A book as a folder of articles**: the book's chapters as text files, and two libraries of
  alternate chapters, each asked the questions about its own chapters and, as questions it cannot
  answer, those about the chapters it does not hold: one subject, one author's vocabulary, the
  same people and cases named across chapters, as in a folder of encyclopedia articles of which
  some are not indexed.

The EU, constitution and Federal Register questions are their held-out halves
(``eval/splits/heldout/``); the Free Culture questions are all of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from common import CORPUS_PDFS, HELDOUT, ROOT, SETS, TABLE_HEADER, WORK, auroc, corpus_indexes, table_row

from eucaqa.evaluation import evaluate_file, read_questions
from eucaqa.index import build_index
from eucaqa.settings import SUPPORTED_SUFFIXES

FREE_CULTURE_PDF = Path(
    os.environ.get("EUCAQA_FREE_CULTURE_PDF", ROOT.parent / "shared" / "corpus" / "pdf-nc" / "freeculture.pdf")
)
#: each corpus's labelled questions scored here
QUESTIONS = {
    "eu": [HELDOUT / "inscope.jsonl", HELDOUT / "near_topic.jsonl"],
    "constitution": [HELDOUT / "constitution.jsonl"],
    "federal_register": [HELDOUT / "federal_register.jsonl"],
    "free_culture": [SETS / "free_culture.jsonl"],
}


#: Free Culture's chapters and their PDF pages (see ``sets/free_culture.md``); front and back matter left out.
CHAPTERS = (
    ("introduction", 17, 29), ("piracy-part-opening", 31, 34), ("creators", 35, 44), ("mere-copyists", 45, 61),
    ("catalogs", 62, 66), ("pirates", 67, 75), ("piracy", 76, 93), ("founders", 97, 106), ("recorders", 107, 111),
    ("transformers", 112, 119), ("collectors", 120, 127), ("property", 128, 185), ("chimera", 187, 192),
    ("harms", 193, 217), ("eldred", 221, 254), ("eldred-ii", 256, 264), ("conclusion", 265, 279),
    ("afterword", 281, 312),
)


def chapter_libraries(work: Path) -> list[tuple[Path, list[dict], list[dict]]]:
    """Two indexes of alternate chapters of Free Culture (one text file each), each with the
    answerable questions about its chapters and, unanswerable, those about the others."""
    from eucaqa.documents import load_document

    book = load_document(FREE_CULTURE_PDF)
    page_text = {page.number: book.text[page.start : page.end] for page in book.pages}
    questions = [item for item in read_questions(QUESTIONS["free_culture"][0]) if item["answers"]]
    libraries = []
    for half in (0, 1):
        chapters = [chapter for n, chapter in enumerate(CHAPTERS) if n % 2 == half]
        folder = work / f"documents-chapters-{half}"
        folder.mkdir(parents=True, exist_ok=True)
        for n, (name, first, last) in enumerate(chapters):
            text = "\n\n".join(page_text[page] for page in range(first, last + 1) if page in page_text)
            path = folder / f"{2 * n + half:02d}-{name}.txt"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        index = work / f"index-chapters-{half}"
        build_index(folder, index)
        held = [item for item in questions if any(first <= item["page"] <= last for _, first, last in chapters)]
        others = [{**item, "answers": []} for item in questions if item not in held]
        libraries.append((index, held, others))
    return libraries


def corpus_files() -> dict[str, list[Path]]:
    """The documents of each corpus."""
    eu = sorted(path for path in (ROOT / "documents").iterdir() if path.suffix.lower() in SUPPORTED_SUFFIXES)
    return {"eu": eu, **{name: [pdf] for name, pdf in CORPUS_PDFS.items()}, "free_culture": [FREE_CULTURE_PDF]}


def linked_folder(folder: Path, files: list[Path]) -> Path:
    """``folder`` holding a link to each of ``files`` and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {path.name for path in files}
    for entry in folder.iterdir():
        if entry.name not in names:
            entry.unlink()
    for path in files:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
    return folder


def index_of(name: str, files: list[Path], work: Path = WORK) -> Path:
    index = work / f"index-{name}"
    build_index(linked_folder(work / f"documents-{name}", files), index)
    return index


def write_questions(items: list[dict], target: Path) -> Path:
    """``items`` written to ``target`` as a labelled file, one JSON object a line."""
    target.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return target


def unanswerable_copy(paths: list[Path], target: Path) -> Path:
    """The questions of ``paths`` as questions the index cannot answer."""
    items = [item for path in paths for item in read_questions(path)]
    return write_questions([{"id": item["id"], "question": item["question"], "answers": []} for item in items], target)


def main() -> None:
    if not FREE_CULTURE_PDF.is_file():
        raise SystemExit(f"{FREE_CULTURE_PDF} not found: set EUCAQA_FREE_CULTURE_PDF to freeculture.pdf")
    corpus_indexes()  # the held-out halves' own indexes stay up to date for report.py
    files = corpus_files()
    work = WORK / "external"
    work.mkdir(parents=True, exist_ok=True)
    print(TABLE_HEADER)
    print(table_row("free_culture, own index", evaluate_file(QUESTIONS["free_culture"][0],
                                                       index_dir=index_of("free-culture", files["free_culture"], work))))
    everything = [path for name in files for path in files[name]]
    library = index_of("library", everything, work)
    in_library = []
    for name, paths in QUESTIONS.items():
        for path in paths:
            report = evaluate_file(path, index_dir=library)
            in_library += report.rows
            print(table_row(f"{name}: {path.stem}, library of all four", report))
    not_indexed = []
    for name, paths in QUESTIONS.items():
        others = [path for other in files if other != name for path in files[other]]
        index = index_of(f"library-without-{name.replace('_', '-')}", others, work)
        questions = unanswerable_copy(paths, work / f"unindexed-{name}.jsonl")
        report = evaluate_file(questions, index_dir=index)
        not_indexed += report.rows
        print(table_row(f"{name} questions, library without it", report))
    chapters_right, chapters_other = [], []
    for half, (index, held, others) in enumerate(chapter_libraries(work)):
        title = f"free_culture, alternate chapters ({half + 1} of 2)"
        own = evaluate_file(write_questions(held, work / f"chapters-{half}-own.jsonl"), index_dir=index)
        print(table_row(f"{title}: its chapters", own))
        other = evaluate_file(write_questions(others, work / f"chapters-{half}-other.jsonl"), index_dir=index)
        print(table_row(f"{title}: the other chapters", other))
        chapters_right += [row.confidence for row in own.rows if row.would_hit]
        chapters_other += [row.confidence for row in other.rows]
    right = [row.confidence for row in in_library if row.in_scope and row.would_hit]
    unanswerable = [row.confidence for row in in_library if not row.in_scope]
    print("\nAUROC of the confidence in the library of all four, answers right (the spans hold an accepted answer) "
          f"against: questions no document answers {auroc(right, unanswerable):.4f}, "
          f"questions about the documents left out {auroc(right, [row.confidence for row in not_indexed]):.4f}")
    print("AUROC of the confidence in the chapter libraries, answers right against questions about the chapters "
          f"not indexed: {auroc(chapters_right, chapters_other):.4f}")


if __name__ == "__main__":
    main()
