"""Print the held-out figures of the README's "Answer quality" as a Markdown table.

    .venv/bin/python eval/report.py            # the held-out halves (default)
    .venv/bin/python eval/report.py fit        # the fit halves, for comparison
    .venv/bin/python eval/report.py sealed     # the sealed set (eval/sealed/README.md): report only
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from train import CORPUS_OF, DEV, corpus_indexes  # noqa: E402

from eucaqa.evaluation import EvalReport, evaluate_file, expected_calibration_error  # noqa: E402


#: the Markdown table's first two lines
TABLE_HEADER = ("| set | questions | answer_hit | answered | abstained | would-hit | baseline | ECE |\n"
                "|---|---|---|---|---|---|---|---|")


def table_row(label: str, report: EvalReport) -> str:
    """One line of the table: ``report``'s figures, "–" where a set has none of its kind."""
    in_scope = [row for row in report.rows if row.in_scope]
    would = f"{sum(r.would_hit for r in in_scope) / len(in_scope):.3f}" if in_scope else "–"
    answer_hit = f"{report.answer_hit:.3f}" if in_scope else "–"
    answered = f"{report.answered_in_scope}/{report.in_scope}" if report.in_scope else "–"
    abstained = f"{report.abstained_out_of_scope}/{report.out_of_scope}" if report.out_of_scope else "–"
    baseline = f"{report.baseline_hit:.3f}" if in_scope else "–"
    return f"| {label} | {report.questions} | {answer_hit} | {answered} | {abstained} | {would} | {baseline} | {report.ece:.3f} |"


def main() -> None:
    half = sys.argv[1] if len(sys.argv) > 1 else "heldout"
    indexes = corpus_indexes()
    files = {"dev": DEV, **{path.stem: path for path in sorted((HERE / half).glob("*.jsonl"))}}
    if half == "sealed":  # questions on the shipped documents only
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
