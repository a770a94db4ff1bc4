"""Print the held-out figures of ``docs/quality.md`` as a Markdown table.

    .venv/bin/python eval/report.py            # the held-out halves (default)
    .venv/bin/python eval/report.py fit        # the fit halves, for comparison
    .venv/bin/python eval/report.py sealed     # the sealed set (eval/sealed/README.md): report only
    .venv/bin/python eval/report.py heldout --no-history   # dialogues' follow-ups asked on their own
"""

from __future__ import annotations

import sys

from common import (
    CORPUS_OF,
    DEV,
    DIALOGUES,
    FIT,
    HELDOUT,
    SEALED,
    TABLE_HEADER,
    corpus_indexes,
    encyclopedia_files,
    table_row,
)

from eucaqa.evaluation import evaluate_file, expected_calibration_error, read_questions

#: the folder of each half ``report.py`` reports on
HALVES = {"heldout": HELDOUT, "fit": FIT, "sealed": SEALED}


def main() -> None:
    arguments = [argument for argument in sys.argv[1:] if argument != "--no-history"]
    with_history = "--no-history" not in sys.argv[1:]
    half = arguments[0] if arguments else "heldout"
    if half not in HALVES:
        sys.exit(f"report.py: unknown half {half!r}; one of {', '.join(HALVES)}")
    indexes = corpus_indexes()
    files = {"dev": DEV, **{path.stem: path for path in sorted(HALVES[half].glob("*.jsonl"))}}
    files.update(encyclopedia_files(half))
    if half == "sealed":  # the sealed questions only
        files = {name: path for name, path in files.items() if name != "dev"}
    else:
        files.update(encyclopedia_files(half, dialogues=True))
    print(TABLE_HEADER)
    answered_rows, dialogue_lines = [], []
    for name, path in files.items():
        report = evaluate_file(path, index_dir=indexes[CORPUS_OF[name]], with_history=with_history)
        if name in DIALOGUES:
            dialogue_lines.append(dialogue_line(f"{half}/{name}", read_questions(path), report.rows))
        else:
            answered_rows += [row for row in report.rows if row.found]
        print(table_row("dev (whole)" if name == "dev" else f"{half}/{name}", report))
    ece = expected_calibration_error([r.confidence for r in answered_rows], [r.would_hit for r in answered_rows])
    print(f"\nECE over every answered single question above: {ece:.3f}")
    if dialogue_lines:
        print("\n| dialogues | follow-ups answered right | points back | leaves out | controls right or abstained "
              "| topic change | unanswerable |\n|---|---|---|---|---|---|---|")
        print("\n".join(dialogue_lines))


def dialogue_line(title: str, items: list[dict], rows) -> str:
    """One row of the dialogue table: follow-ups answered right, controls answered right or abstained on."""
    right = {}
    for item, row in zip(items, rows):
        right.setdefault(item["kind"], []).append(row.answer_hit if row.in_scope else not row.found)

    def share(*kinds: str) -> str:
        outcomes = [ok for kind in kinds for ok in right.get(kind, [])]
        return f"{sum(outcomes) / len(outcomes):.3f} ({sum(outcomes)}/{len(outcomes)})" if outcomes else "–"

    return (f"| {title} | {share('points_back', 'leaves_out')} | {share('points_back')} | {share('leaves_out')} "
            f"| {share('topic_change', 'unanswerable')} | {share('topic_change')} | {share('unanswerable')} |")


if __name__ == "__main__":
    main()
