"""Score the committed answer model where it was never fitted: a fourth kind of document, and libraries.

    .venv/bin/python eval/external.py

Nothing here is fitted on. Two conditions the fitted sets do not cover:

- **A fourth kind of document**: ``eval/free_culture.jsonl`` on Lessig's *Free Culture* (2004), a
  352-page book on copyright and media. Its licence (CC BY-NC) keeps it out of the project: it is
  read where it lies, ``../shared/corpus/pdf-nc/freeculture.pdf`` (or ``EUCAQA_FREE_CULTURE_PDF``).
- **Libraries**: one index holding several kinds of document, as when a documents folder mixes
  subjects. "library without X" holds every corpus but X, and is asked X's questions, which it
  cannot answer (the corpora share words: the book discusses Congress, the Senate and the
  Supreme Court); "library of all four" is asked every corpus's questions, answerable among
  the others' passages.

The EU, constitution and Federal Register questions are their held-out halves
(``eval/heldout/``); the Free Culture questions are all of them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from report import TABLE_HEADER, table_row  # noqa: E402
from train import CORPUS_PDFS, ROOT, WORK, auroc, corpus_indexes  # noqa: E402

from eucaqa.evaluation import evaluate_file, read_questions  # noqa: E402
from eucaqa.index import build_index  # noqa: E402
from eucaqa.settings import SUPPORTED_SUFFIXES  # noqa: E402

FREE_CULTURE_PDF = Path(
    os.environ.get("EUCAQA_FREE_CULTURE_PDF", ROOT.parent / "shared" / "corpus" / "pdf-nc" / "freeculture.pdf")
)
HELDOUT = HERE / "heldout"
#: each corpus's labelled questions scored here
QUESTIONS = {
    "eu": [HELDOUT / "inscope.jsonl", HELDOUT / "near_topic.jsonl"],
    "constitution": [HELDOUT / "constitution.jsonl"],
    "federal_register": [HELDOUT / "federal_register.jsonl"],
    "free_culture": [HERE / "free_culture.jsonl"],
}


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


def unanswerable_copy(paths: list[Path], target: Path) -> Path:
    """The questions of ``paths`` as questions the index cannot answer."""
    items = [item for path in paths for item in read_questions(path)]
    target.write_text("".join(json.dumps({"id": item["id"], "question": item["question"], "answers": []}) + "\n"
                              for item in items), encoding="utf-8")
    return target


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
    right = [row.confidence for row in in_library if row.in_scope and row.would_hit]
    unanswerable = [row.confidence for row in in_library if not row.in_scope]
    print("\nAUROC of the confidence in the library of all four, answers right (the spans hold an accepted answer) "
          f"against: questions no document answers {auroc(right, unanswerable):.4f}, "
          f"questions about the documents left out {auroc(right, [row.confidence for row in not_indexed]):.4f}")


if __name__ == "__main__":
    main()
