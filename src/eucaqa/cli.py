"""The ``eucaqa`` command: index, ask, serve, eval.

A user mistake (missing folder, empty question, no index...) prints one line
``eucaqa: error: ...`` and exits with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from .errors import EucaqaError
from .settings import documents_dir_default, index_dir_default

EXIT_OK = 0
EXIT_USER_ERROR = 2

EPILOG_INDEX = """example:
  eucaqa index                      # embed new and changed files of documents/
  eucaqa index --full               # embed everything again
  eucaqa index --documents my_docs --index my_index"""
EPILOG_ASK = """example:
  eucaqa ask "When was the EU's renewed strategy towards Central Asia adopted?"
  eucaqa ask "Who led the delegation to Brussels?" --json
  eucaqa ask "What is his government post?" --after "Who led the delegation to Brussels?\""""
EPILOG_SERVE = """example:
  eucaqa serve                      # http://127.0.0.1:7860, /admin open on this machine only
  EUCAQA_ADMIN_PASSWORD=... eucaqa serve --host 0.0.0.0
  eucaqa serve --host 0.0.0.0 --admin-password-file /etc/eucaqa/admin-password"""
EPILOG_EVAL = """example:
  eucaqa eval ../shared/eval/dev.jsonl
  eucaqa eval eval/splits/heldout/inscope.jsonl eval/splits/heldout/near_topic.jsonl
  eucaqa eval questions.jsonl --json > report.json"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eucaqa",
        description="Answers from your documents, copied verbatim with citations.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='example:\n  eucaqa index && eucaqa ask "What is the Middle Corridor?"',
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def command(name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=help_text, epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    index = command("index", "Build or update the index of the documents folder.", EPILOG_INDEX)
    index.add_argument("--documents", default=str(documents_dir_default()), help="documents folder (default: %(default)s)")
    index.add_argument("--index", default=str(index_dir_default()), help="index folder (default: %(default)s)")
    index.add_argument("--full", action="store_true", help="embed every document again")

    ask = command("ask", "Answer a question from the indexed documents.", EPILOG_ASK)
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--top-k", type=int, default=5, help="passages to retrieve (default: %(default)s)")
    ask.add_argument("--index", default=str(index_dir_default()), help="index folder (default: %(default)s)")
    ask.add_argument("--after", action="append", metavar="QUESTION", default=[],
                     help="an earlier question of the conversation, asked first: a question that points back to it "
                          "(\"Who proposed it?\") is understood with it; repeat for more, oldest first")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--min-confidence", type=float, default=None, metavar="P",
                     help="confidence (0..1) an answer needs (default: EUCAQA_MIN_CONFIDENCE or the model's threshold)")

    serve = command("serve", "Update the index, then serve the web chat.", EPILOG_SERVE)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    serve.add_argument("--documents", default=str(documents_dir_default()), help="documents folder (default: %(default)s)")
    serve.add_argument("--index", default=str(index_dir_default()), help="index folder (default: %(default)s)")
    serve.add_argument("--admin-password-file", metavar="FILE",
                       help="file holding the password of /admin (user admin); or set EUCAQA_ADMIN_PASSWORD")
    serve.add_argument("--reader-password-file", metavar="FILE",
                       help="file holding a password for the chat itself (user reader); or set EUCAQA_READER_PASSWORD")

    evaluate = command("eval", "Score the answers on a JSONL file of questions.", EPILOG_EVAL)
    evaluate.add_argument("qa_files", metavar="QA.jsonl", nargs="+",
                          help="one JSON object a line: question, answers, document; each file is scored on its own")
    evaluate.add_argument("--top-k", type=int, default=5, help="passages to retrieve (default: %(default)s)")
    evaluate.add_argument("--index", default=str(index_dir_default()), help="index folder (default: %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print the numbers and per-question rows as JSON")
    evaluate.add_argument("--min-confidence", type=float, default=None, metavar="P",
                          help="confidence (0..1) an answer needs (default: EUCAQA_MIN_CONFIDENCE or the model's threshold)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command == "index":
            return _index(args)
        if args.command == "ask":
            return _ask(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "eval":
            return _eval(args)
    except (EucaqaError, ValueError) as error:
        print(f"eucaqa: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("eucaqa: interrupted", file=sys.stderr)
        return 130
    return EXIT_OK


def _configure_logging() -> None:
    package_logger = logging.getLogger("eucaqa")
    if not any(getattr(h, "_eucaqa_cli", False) for h in package_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("eucaqa: %(message)s"))
        handler._eucaqa_cli = True  # type: ignore[attr-defined]
        package_logger.addHandler(handler)
        package_logger.setLevel(os.environ.get("EUCAQA_LOG_LEVEL", "INFO").upper())
        # pypdf logs notes on font encodings for many real PDFs; a reason to skip
        # a file reaches the user through eucaqa's own warning instead.
        logging.getLogger("pypdf").setLevel(logging.ERROR)


def run_index(documents: str, index: str, full: bool = False):
    """Incremental build with a tqdm bar on stderr; returns IndexStats."""
    from tqdm import tqdm

    from .index import build_index

    bar = None

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="embedding", unit="text", file=sys.stderr)
        bar.update(done - bar.n)

    def on_file(text: str) -> None:
        if "(OCR" in text:
            tqdm.write(f"reading {text}", file=sys.stderr)

    try:
        return build_index(documents, index, full=full, on_progress=on_progress, on_file=on_file)
    finally:
        if bar is not None:
            bar.close()


def _index(args: argparse.Namespace) -> int:
    stats = run_index(args.documents, args.index, full=args.full)
    for source, reason in stats.skipped:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    print(f"index {args.index}: {stats.summary()}")
    return EXIT_OK


def _ask(args: argparse.Namespace) -> int:
    from .answering import answer, confidence_label, likelihood_label

    settings = {"top_k": args.top_k, "index_dir": args.index, "min_confidence": args.min_confidence}
    history = []
    for earlier in args.after:  # the conversation so far, answered as the chat answers it
        history.append((earlier, answer(earlier, **settings, history=history)))
    result = answer(args.question, **settings, history=history)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    if result.understood_as:
        print(f"(understood as: {result.understood_as})")
    print(result.text)
    for number, sentence in enumerate(result.sentences, start=1):
        print(f"[{number}] {sentence.citation}")
    if result.found:
        print(f"({confidence_label(result.confidence)}: {result.confidence:.2f})")
    elif result.unsure:
        print(f"({confidence_label(result.confidence)}: {result.confidence:.2f}, below the {result.band[1]:.2f} an answer needs)")
    if not result.found and result.passages:
        print("closest passages:")
        for passage in result.passages[:3]:
            likely = f" [{likelihood_label(passage.probability)}]" if passage.probability is not None else ""
            print(f"- {passage.citation}{likely}: {passage.text[:160]}...")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from .server import serve, settings_from_env

    settings = settings_from_env(args.host, args.port, args.admin_password_file, args.reader_password_file)
    stats = run_index(args.documents, args.index)
    print(f"index {args.index}: {stats.summary()}")
    serve(args.documents, args.index, settings)
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_file, format_report

    reports = {
        path: evaluate_file(path, top_k=args.top_k, index_dir=args.index, min_confidence=args.min_confidence)
        for path in args.qa_files
    }
    if args.json:
        data = {path: report.to_dict() for path, report in reports.items()}
        print(json.dumps(next(iter(data.values())) if len(data) == 1 else data, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_report(report, title=path) for path, report in reports.items()))
    return EXIT_OK
