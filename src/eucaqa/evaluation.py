"""Scoring answers against a JSONL file of questions with accepted answers.

Each line: ``{"question": ..., "answers": [accepted strings], "document": gold file}``;
``"answers": []`` marks a question the documents cannot answer.
"""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .answering import Answer, answer
from .errors import EucaqaError


@dataclass
class QuestionResult:
    id: str
    question: str
    in_scope: bool
    found: bool
    answer_hit: bool
    hit_at_k: bool
    citation_ok: bool | None
    seconds: float
    answer: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EvalReport:
    questions: int
    in_scope: int
    out_of_scope: int
    answer_hit: float
    hit_at_k: float
    top_k: int
    citation_ok: float
    answered_in_scope: int
    abstained_out_of_scope: int
    latency_p50: float
    latency_p95: float
    rows: list[QuestionResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rows"] = [row.to_dict() for row in self.rows]
        return data


_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'}


def normalise(text: str) -> str:
    """Case, dashes, quotes and white space folded, for substring matching."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DASHES.sub("-", text)
    for quote, plain in _QUOTES.items():
        text = text.replace(quote, plain)
    return " ".join(text.split())


def contains_any(text: str, accepted: list[str]) -> bool:
    folded = normalise(text)
    return any(normalise(candidate) in folded for candidate in accepted)


def read_questions(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise EucaqaError(f"question file not found: {path}")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise EucaqaError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not isinstance(item.get("answers", []), list):
            raise EucaqaError(f"{path}:{number}: needs a 'question' string and an 'answers' list")
        item.setdefault("id", f"q{number}")
        items.append(item)
    if not items:
        raise EucaqaError(f"no questions in {path}")
    return items


def score_answer(item: dict, result: Answer, index_texts: dict[str, str]) -> QuestionResult:
    accepted = item.get("answers") or []
    in_scope = bool(accepted)
    answer_hit = in_scope and result.found and contains_any(result.text, accepted)
    hit_at_k = in_scope and any(contains_any(p.text, accepted) for p in result.passages)
    citation_ok = None
    if answer_hit:
        holding = [s for s in result.sentences if contains_any(s.text, accepted)]
        gold = item.get("document")
        citation_ok = bool(holding) and all(
            (gold is None or s.source == gold) and index_texts.get(s.source, "")[s.start : s.end] == s.text
            for s in holding
        )
    return QuestionResult(
        id=str(item["id"]),
        question=item["question"],
        in_scope=in_scope,
        found=result.found,
        answer_hit=answer_hit,
        hit_at_k=hit_at_k,
        citation_ok=citation_ok,
        seconds=result.seconds,
        answer=result.text,
    )


def evaluate_file(path: str | Path, *, top_k: int = 5, index_dir: str | Path = "index") -> EvalReport:
    """Answer every question of ``path`` and score the answers."""
    from .answering import get_engine

    items = read_questions(path)
    engine = get_engine(index_dir)
    texts = dict(zip(engine.index.sources, engine.index.texts))
    rows = [score_answer(item, answer(item["question"], top_k=top_k, index_dir=index_dir), texts) for item in items]
    in_scope = [row for row in rows if row.in_scope]
    out_of_scope = [row for row in rows if not row.in_scope]
    answered = [row for row in in_scope if row.answer_hit]
    latencies = sorted(row.seconds for row in rows)
    return EvalReport(
        questions=len(rows),
        in_scope=len(in_scope),
        out_of_scope=len(out_of_scope),
        answer_hit=_share(sum(row.answer_hit for row in in_scope), len(in_scope)),
        hit_at_k=_share(sum(row.hit_at_k for row in in_scope), len(in_scope)),
        top_k=top_k,
        citation_ok=_share(sum(bool(row.citation_ok) for row in answered), len(answered)),
        answered_in_scope=sum(row.found for row in in_scope),
        abstained_out_of_scope=sum(not row.found for row in out_of_scope),
        latency_p50=statistics.median(latencies),
        latency_p95=latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        rows=rows,
    )


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def format_report(report: EvalReport) -> str:
    """A small table for the terminal, then the questions that missed."""
    lines = [
        f"{'metric':<28}{'value':>10}",
        f"{'questions':<28}{report.questions:>10}",
        f"{'answer_hit':<28}{report.answer_hit:>10.3f}",
        f"{f'hit@{report.top_k}':<28}{report.hit_at_k:>10.3f}",
        f"{'citation_ok (answered)':<28}{report.citation_ok:>10.3f}",
        f"{'in-scope answered':<28}{f'{report.answered_in_scope}/{report.in_scope}':>10}",
        f"{'out-of-scope abstained':<28}{f'{report.abstained_out_of_scope}/{report.out_of_scope}':>10}",
        f"{'latency p50 (s)':<28}{report.latency_p50:>10.3f}",
        f"{'latency p95 (s)':<28}{report.latency_p95:>10.3f}",
    ]
    misses = [row for row in report.rows if (row.in_scope and not row.answer_hit) or (not row.in_scope and row.found)]
    if misses:
        lines.append("")
        lines.append("missed:")
        lines.extend(f"  {row.id}: {row.question} -> {row.answer[:150]}" for row in misses)
    return "\n".join(lines)
