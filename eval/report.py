"""Print the held-out figures of ``docs/quality.md`` as a Markdown table.

    .venv/bin/python eval/report.py            # the held-out halves (default)
    .venv/bin/python eval/report.py fit        # the fit halves, for comparison
    .venv/bin/python eval/report.py sealed     # the sealed set (eval/sealed/README.md): report only
"""

from __future__ import annotations

import sys

from common import CORPUS_OF, DEV, FIT, HELDOUT, SEALED, TABLE_HEADER, corpus_indexes, encyclopedia_files, table_row

from eucaqa.evaluation import evaluate_file, expected_calibration_error

#: the folder of each half ``report.py`` reports on
HALVES = {"heldout": HELDOUT, "fit": FIT, "sealed": SEALED}


def main() -> None:
    half = sys.argv[1] if len(sys.argv) > 1 else "heldout"
    if half not in HALVES:
        sys.exit(f"report.py: unknown half {half!r}; one of {', '.join(HALVES)}")
    indexes = corpus_indexes()
    files = {"dev": DEV, **{path.stem: path for path in sorted(HALVES[half].glob("*.jsonl"))}}
    files.update(encyclopedia_files(half))
    if half == "sealed":  # the sealed questions only
        files = {name: path for name, path in files.items() if name != "dev"}
    print(TABLE_HEADER)
    answered_rows = []
    for name, path in files.items():
        report = evaluate_file(path, index_dir=indexes[CORPUS_OF[name]])
        answered_rows += [row for row in report.rows if row.found]
        print(table_row("dev (whole)" if name == "dev" else f"{half}/{name}", report))
    ece = expected_calibration_error([r.confidence for r in answered_rows], [r.would_hit for r in answered_rows])
    print(f"\nECE over every answered question above: {ece:.3f}")


if __name__ == "__main__":
    main()
