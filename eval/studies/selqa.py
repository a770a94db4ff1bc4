"""Sentence choice on another public benchmark: SelQA's answer-sentence selection, nothing fitted on it.

    .venv/bin/python eval/studies/selqa.py                      # SelQA dev (784 questions)
    .venv/bin/python eval/studies/selqa.py --part test --limit 400  # the first 400 of SelQA test

SelQA (``../shared/data/selqa-ass-{dev,test}.jsonl``, Apache-2.0; Jurczyk, Zhai and Choi 2016) gives,
for each question, the sentences of one Wikipedia section, those that answer it labelled 1. The
sections are written as a documents folder (one text file per distinct section, its sentences as
one paragraph, no title: SelQA gives none) under ``eval/work/selqa-<part>/``, built into one index by the
product's own ``build_index``, and every question asked of that library of sections with the
committed model. A cited text "holds the answer" when it holds a whole sentence labelled 1, the
same rule for the answer, the would-hit and the 700-character baseline. The other labelled sets
accept a short answer phrase, so these figures are stricter than theirs: a span cut inside the
labelled sentence counts as a miss.

It writes the documents folder, the index and ``questions.jsonl`` there (git-ignored),
and prints one row of the ``report.py`` table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

# the shared evaluation code, eval/common.py, one folder up
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import SHARED_DATA, TABLE_HEADER, WORK, table_row  # noqa: E402

from eucaqa.evaluation import evaluate_file  # noqa: E402
from eucaqa.index import build_index  # noqa: E402


def read_selqa(path: Path) -> list[dict]:
    """SelQA's questions in file order, each with its section's sentences and the labels."""
    questions: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        pair = json.loads(line)
        if not questions or questions[-1]["question"] != pair["question"]:
            questions.append({"question": pair["question"], "sentences": [], "labels": []})
        questions[-1]["sentences"].append(pair["sentence"].strip())
        questions[-1]["labels"].append(pair["label"])
    return questions


def write_documents(questions: list[dict], documents: Path) -> list[dict]:
    """One text file per distinct section; the labelled items, one per question."""
    documents.mkdir(parents=True, exist_ok=True)
    items = []
    for question in questions:
        section = " ".join(question["sentences"])
        name = f"section-{hashlib.sha256(section.encode()).hexdigest()[:12]}.txt"
        if not (documents / name).exists():
            (documents / name).write_text(section + "\n", encoding="utf-8")
        answers = [sentence for sentence, label in zip(question["sentences"], question["labels"]) if label]
        items.append({"question": question["question"], "answers": answers, "document": name, "kind": "answerable"})
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("dev", "test"), default="dev", help="SelQA's dev or test file")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (all are indexed)")
    arguments = parser.parse_args()
    folder = WORK / f"selqa-{arguments.part}"
    questions = read_selqa(SHARED_DATA / f"selqa-ass-{arguments.part}.jsonl")
    items = write_documents(questions, folder / "documents")
    asked = folder / "questions.jsonl"
    asked.write_text("".join(json.dumps(item) + "\n" for item in items[: arguments.limit or None]), encoding="utf-8")
    stats = build_index(folder / "documents", folder / "index")
    print(f"{len(questions)} SelQA {arguments.part} questions, {stats.documents} distinct sections indexed\n")
    print(TABLE_HEADER)
    print(table_row(f"SelQA {arguments.part}", evaluate_file(asked, index_dir=folder / "index")))


if __name__ == "__main__":
    main()
