"""Scoring answers against a JSONL file of questions with accepted answers.

Each line: ``{"question": ..., "answers": [accepted strings], "document": gold file}``;
``"answers": []`` marks a question the documents cannot answer.

Besides answer_hit, the report says how well ``Answer.confidence`` is
calibrated (expected calibration error over 5 bins of the answered questions)
and what answering at other thresholds would give (the coverage table), and
compares with a plain baseline that fills 700 characters with the sentences of
the retrieved passages ranked by reciprocal rank fusion of their similarity
and word overlap.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .answering import NOT_FOUND_TEXT, Answer, check_question
from .evidence import expected_answer_type
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
    #: Answer.confidence
    confidence: float = 0.0
    #: whether the spans the engine would cite at any threshold hold an accepted answer
    would_hit: bool = False
    #: whether the 700-character baseline holds an accepted answer
    baseline_hit: bool = False
    #: for a question asking for a date, amount, share, person or place, answered right:
    #: whether the answering phrase (the first ``highlight``) overlaps an accepted answer
    phrase_ok: bool | None = None
    #: each returned passage's probability of holding the answer, and whether it holds one
    passages: list[tuple[float, bool]] = field(default_factory=list)
    #: a follow-up of a dialogue: the question as completed from the earlier turns (None: read on its own)
    understood_as: str | None = None

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
    #: questions answered / abstained on, answerable or not
    answered: int = 0
    abstained: int = 0
    threshold: float = 0.5
    #: expected calibration error of the answered questions' confidence (5 bins)
    ece: float = 0.0
    #: rows of (threshold, share of questions answered, share of those answered right, in-scope answer_hit)
    coverage: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: answer_hit of the 700-character baseline on the answerable questions
    baseline_hit: float = 0.0
    #: share of typed questions answered right whose answering phrase overlaps an accepted answer
    phrase_overlap: float = 0.0
    #: expected calibration error of the passages' probability of holding the answer (5 bins)
    passage_ece: float = 0.0
    #: questions not answered whose confidence lies in the "may not answer exactly" band, and
    #: of those, how many the closest span would have answered right
    unsure: int = 0
    unsure_right: int = 0
    typed_answered: int = 0
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
        if not line.strip() or line.startswith("#"):
            continue  # a blank line, or a comment (a generated file says how it was made)
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise EucaqaError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not isinstance(item.get("answers", []), list):
            raise EucaqaError(f"{path}:{number}: needs a 'question' string and an 'answers' list")
        try:
            check_question(item["question"])
        except ValueError as error:
            raise EucaqaError(f"{path}:{number}: {error}") from None
        history = item.get("history", [])
        if not isinstance(history, list) or not all(isinstance(earlier, str) for earlier in history):
            raise EucaqaError(f"{path}:{number}: 'history' must be a list of the earlier questions")
        item.setdefault("id", f"q{number}")
        items.append(item)
    if not items:
        raise EucaqaError(f"no questions in {path}")
    return items


def score_answer(item: dict, result: Answer, index_texts: dict[str, str], threshold: float) -> QuestionResult:
    """Score an answer asked with ``min_confidence=0`` as if given at ``threshold``."""
    accepted = item.get("answers") or []
    in_scope = bool(accepted)
    found = result.found and result.confidence >= threshold
    would_hit = in_scope and result.found and contains_any(result.text, accepted)
    answer_hit = found and would_hit
    hit_at_k = in_scope and any(contains_any(p.text, accepted) for p in result.passages)
    citation_ok = None
    if answer_hit:
        holding = [s for s in result.sentences if contains_any(s.text, accepted)]
        gold = item.get("document")
        citation_ok = bool(holding) and all(
            (gold is None or s.source == gold) and index_texts.get(s.source, "")[s.start : s.end] == s.text
            for s in holding
        )
    phrase_ok = None
    if answer_hit and expected_answer_type(item["question"]) is not None:
        phrase = next((s.text[s.highlight[0] - s.start : s.highlight[1] - s.start] for s in result.sentences if s.highlight), "")
        phrase_ok = any(_words(phrase) & _words(candidate) for candidate in accepted)
    return QuestionResult(
        id=str(item["id"]),
        question=item["question"],
        in_scope=in_scope,
        found=found,
        answer_hit=answer_hit,
        hit_at_k=hit_at_k,
        citation_ok=citation_ok,
        seconds=result.seconds,
        answer=result.text if found else NOT_FOUND_TEXT,
        confidence=result.confidence,
        would_hit=would_hit,
        phrase_ok=phrase_ok,
        passages=[(p.probability, in_scope and contains_any(p.text, accepted))
                  for p in result.passages if p.probability is not None],
        understood_as=result.understood_as,
    )


_MINOR_WORDS = frozenset({"the", "of", "in", "a", "an", "and", "to", "on", "at", "by", "for"})


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", normalise(text))) - _MINOR_WORDS


COVERAGE_THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
BASELINE_CHARS = 700


def expected_calibration_error(confidences: list[float], correct: list[bool], bins: int = 5) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by their size."""
    if not confidences:
        return 0.0
    values = np.asarray(confidences, dtype=float)
    right = np.asarray(correct, dtype=float)
    which = np.minimum((values * bins).astype(int), bins - 1)
    error = 0.0
    for number in range(bins):
        members = which == number
        if members.any():
            error += members.sum() / len(values) * abs(values[members].mean() - right[members].mean())
    return round(float(error), 4)


def coverage_table(rows: list[QuestionResult]) -> list[tuple[float, float, float, float]]:
    """For each threshold: share of questions answered, share of those right, in-scope answer_hit."""
    table = []
    in_scope = [row for row in rows if row.in_scope]
    for threshold in COVERAGE_THRESHOLDS:
        answered = [row for row in rows if row.confidence >= threshold]
        right = sum(row.would_hit for row in answered)
        hits = sum(row.would_hit and row.confidence >= threshold for row in in_scope)
        table.append((threshold, _share(len(answered), len(rows)), _share(right, len(answered)), _share(hits, len(in_scope))))
    return table


def baseline_text(engine, evidence) -> str:
    """The sentences of the retrieved passages of ``evidence`` (from ``Engine.gather``),
    ranked by reciprocal rank fusion of their cosine and their word overlap with the
    question, until 700 characters are filled."""
    from .retrieval import reciprocal_rank_fusion
    from .text import lexical_terms

    parsed, index = evidence.question, engine.index
    rows = list(dict.fromkeys(
        row for passage in evidence.passages for row in range(*(int(x) for x in index.chunks[passage.chunk, 4:6]))
    ))
    if not rows:
        return ""
    dense = np.asarray(index.sentence_vectors[rows], dtype=np.float32) @ parsed.vector
    lexical = [parsed.coverage(parsed.matched(set(lexical_terms(index.sentence_text(row))))) for row in rows]
    rankings = [[rows[n] for n in sorted(range(len(rows)), key=lambda n: (-scores[n], rows[n]))] for scores in (dense, lexical)]
    parts, length = [], 0
    for row in reciprocal_rank_fusion(rankings):
        text = index.sentence_text(row)
        if length + len(text) > BASELINE_CHARS:
            break
        parts.append(text)
        length += len(text) + 1
    return " ".join(parts)


def evaluate_file(path: str | Path, *, top_k: int = 5, index_dir: str | Path = "index",
                  min_confidence: float | None = None, with_history: bool = True) -> EvalReport:
    """Answer every question of ``path`` and score the answers.

    A question with a ``"history"`` (the earlier questions of a dialogue, oldest first) is a
    follow-up: the earlier questions are asked first, as in the chat, and their answers passed
    as the conversation (``with_history=False``: the follow-up is asked on its own, to compare)."""
    from .answering import get_engine

    items = read_questions(path)
    engine = get_engine(index_dir)
    threshold = engine.threshold(min_confidence)
    lower = engine.band_lower(threshold)
    texts = dict(zip(engine.index.sources, engine.index.texts))
    rows = []
    for item in items:
        # One retrieval per question serves both the answer (given at any confidence,
        # scored at the threshold) and the baseline.
        history = []
        for earlier in item.get("history", []) if with_history else []:
            history.append((earlier, engine.answer(earlier, top_k, min_confidence, history=history)))
        started = time.perf_counter()
        evidence = engine.gather(item["question"], top_k, history)
        row = score_answer(item, engine.reply(item["question"], evidence, 0.0, started), texts, threshold)
        if row.in_scope:
            row.baseline_hit = contains_any(baseline_text(engine, evidence), item["answers"])
        rows.append(row)
    in_scope = [row for row in rows if row.in_scope]
    out_of_scope = [row for row in rows if not row.in_scope]
    answered = [row for row in in_scope if row.answer_hit]
    found = [row for row in rows if row.found]
    typed = [row for row in rows if row.phrase_ok is not None]
    unsure = [row for row in rows if not row.found and lower <= row.confidence < threshold]
    passages = [pair for row in rows for pair in row.passages]
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
        answered=len(found),
        abstained=len(rows) - len(found),
        threshold=threshold,
        ece=expected_calibration_error([row.confidence for row in found], [row.would_hit for row in found]),
        coverage=coverage_table(rows),
        baseline_hit=_share(sum(row.baseline_hit for row in in_scope), len(in_scope)),
        phrase_overlap=_share(sum(bool(row.phrase_ok) for row in typed), len(typed)),
        typed_answered=len(typed),
        rows=rows,
        passage_ece=expected_calibration_error([p for p, _ in passages], [held for _, held in passages]),
        unsure=len(unsure),
        unsure_right=sum(row.would_hit for row in unsure),
    )


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def format_report(report: EvalReport, title: str | None = None) -> str:
    """A small table for the terminal, the coverage table, then the questions that missed."""
    lines = [f"== {title}"] if title else []
    lines += [
        f"{'metric':<30}{'value':>10}",
        f"{'questions':<30}{report.questions:>10}",
        f"{'answer_hit':<30}{report.answer_hit:>10.3f}",
        f"{'answered':<30}{report.answered:>10}",
        f"{'abstained':<30}{report.abstained:>10}",
        f"{'in-scope answered':<30}{f'{report.answered_in_scope}/{report.in_scope}':>10}",
        f"{'out-of-scope abstained':<30}{f'{report.abstained_out_of_scope}/{report.out_of_scope}':>10}",
        f"{'ECE (answered, 5 bins)':<30}{report.ece:>10.3f}",
        f"{f'hit@{report.top_k}':<30}{report.hit_at_k:>10.3f}",
        f"{'citation_ok (answered)':<30}{report.citation_ok:>10.3f}",
        f"{'700-char baseline answer_hit':<30}{report.baseline_hit:>10.3f}",
        f"{'phrase overlap (typed)':<30}{f'{report.phrase_overlap:.3f} of {report.typed_answered}':>10}",
        f"{'threshold':<30}{report.threshold:>10.2f}",
        f"{'may not answer (right)':<30}{f'{report.unsure} ({report.unsure_right})':>10}",
        f"{'passage ECE (5 bins)':<30}{report.passage_ece:>10.3f}",
        f"{'latency p50 (s)':<30}{report.latency_p50:>10.3f}",
        f"{'latency p95 (s)':<30}{report.latency_p95:>10.3f}",
        "",
        "coverage: threshold  answered  right-of-answered  in-scope answer_hit",
    ]
    lines += [f"{t:>19.1f}{share:>10.3f}{right:>19.3f}{hit:>21.3f}" for t, share, right, hit in report.coverage]
    misses = [row for row in report.rows if (row.in_scope and not row.answer_hit) or (not row.in_scope and row.found)]
    if misses:
        lines.append("")
        lines.append("missed:")
        lines.extend(f"  {row.id} ({row.confidence:.2f}): {row.question} -> {row.answer[:150]}" for row in misses)
    return "\n".join(lines)
