"""Shared code of the evaluation scripts: where the labelled files and the corpora are, the
corpora's indexes, gathering the evidence of each question, and fitting the answer model.

The scripts of ``eval/`` (``train.py``, ``report.py``, ``cross_validate.py``,
``external.py``, ``make_splits.py``) and of ``eval/studies/`` import this module and never
each other. How the answer model is fitted, step by step, is said in ``train.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from eucaqa.answer_model import AnswerModel, LogisticModel
from eucaqa.answering import Engine
from eucaqa.choosing import Evidence, decide, untyped
from eucaqa.evaluation import EvalReport, contains_any, read_questions
from eucaqa.features import (
    ANSWER_FEATURES,
    CANDIDATE_FEATURES,
    PASSAGE_FEATURES,
    Candidate,
    answer_features,
    passage_features,
)
from eucaqa.index import build_index

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
#: hand-written question files (and their README)
SETS = EVAL / "sets"
#: generated fit / held-out halves (``make_splits.py``)
FIT = EVAL / "splits" / "fit"
HELDOUT = EVAL / "splits" / "heldout"
#: questions never fitted on nor used to choose anything
SEALED = EVAL / "sealed"
#: indexes and other files the scripts make (git-ignored)
WORK = EVAL / "work"
DEV = SETS / "dev.jsonl"
#: the PDF each corpus but the shipped documents is made of
CORPUS_PDFS = {
    "constitution": ROOT / "tests" / "data" / "pdf" / "us_constitution.pdf",
    "federal_register": ROOT / "tests" / "data" / "pdf" / "federal-register-2020-17221.pdf",
}
#: which corpus each labelled file is asked of
CORPUS_OF = {
    "dev": "eu",
    "inscope": "eu",
    "near_topic": "eu",
    "unindexed_eu": "eu",
    "constitution": "constitution",
    "unindexed_constitution": "constitution",
    "federal_register": "federal_register",
    "unindexed_federal_register": "federal_register",
    "encyclopedia": "encyclopedia",
    "unindexed_encyclopedia": "encyclopedia",
    "dialogues": "eu",
    "dialogues_constitution": "constitution",
    "dialogues_encyclopedia": "encyclopedia",
}
#: two-turn dialogues (``"history"``): scored by ``report.py``, not fitted on by ``train.py``
DIALOGUES = ("dialogues", "dialogues_constitution", "dialogues_encyclopedia")
#: the encyclopedia articles and their questions (``make_encyclopedia.py``, from ../shared/data)
ENCYCLOPEDIA = WORK / "encyclopedia"
SHARED_DATA = ROOT.parent / "shared" / "data"
#: which encyclopedia article is in which part, and the counts (committed)
ENCYCLOPEDIA_MANIFEST = EVAL / "splits" / "encyclopedia.json"
#: L2 strength of both logistic models (scikit-learn's C: smaller is stronger)
RANKER_C = 1.0
CONFIDENCE_C = 1.0
FOLLOW_UP_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
#: The direction some ranker weights must point (+1: at least 0, -1: at most 0). More of the
#: question found around a span may not lower its rank: fitted freely, the weights of
#: ``names_window`` (+0.51) and ``all_names_window`` (-0.99) made a span holding the question's
#: names rank lower than one without them in any corpus with no topic names (where the two
#: signals are equal), such as a book or a folder of articles on many subjects.
RANKER_SIGNS = {
    **dict.fromkeys(("lexical", "specific_sentence", "lexical_window", "specific_window",
                     "names_window", "all_names_window", "predicate_window", "names_in_document"), 1),
    **dict.fromkeys(("name_swapped", "typed_missing"), -1),
}
THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.2, 0.81, 0.05))
#: Seeded 5-fold splits whose held-out confidences the threshold is chosen on, the median of their
#: choices taken: on one split, neighbouring grid values differ by less than the split's noise
#: (over 10 splits of the same fit data, one split alone chose anything from 0.25 to 0.45).
THRESHOLD_SPLITS = 10
#: The "may not answer exactly" band reaches down as far as answers in it are still right this
#: often (one in five): a chance worth showing, too small to call an answer.
BAND_RIGHT_SHARE = 0.2
BAND_GRID = tuple(round(x, 2) for x in np.arange(0.05, 0.81, 0.05))


@dataclass
class Example:
    file: str
    item: dict
    evidence: Evidence


def corpus_indexes(work: Path = WORK) -> dict[str, Path]:
    """The index folder of each corpus under ``work``, built or brought up to date."""
    folders = {"eu": (ROOT / "documents", work / "index-eu")}
    for name, pdf in CORPUS_PDFS.items():
        documents = work / f"documents-{name.replace('_', '-')}"
        documents.mkdir(parents=True, exist_ok=True)
        if not (documents / pdf.name).exists():
            shutil.copyfile(pdf, documents / pdf.name)
        folders[name] = (documents, work / f"index-{name.replace('_', '-')}")
    encyclopedia_files("fit")  # writes the articles' documents folder when it is missing
    folders["encyclopedia"] = (ENCYCLOPEDIA / "documents", work / "index-encyclopedia")
    for documents, index in folders.values():
        build_index(documents, index)
    return {name: index for name, (_, index) in folders.items()}


def encyclopedia_files(part: str, dialogues: bool = False) -> dict[str, Path]:
    """The encyclopedia's labelled files of single questions of ``part`` (fit, heldout, sealed), or
    its file of dialogues; all written first when one is missing."""
    every = {name: ENCYCLOPEDIA / part / f"{name}.jsonl"
             for name in ("encyclopedia", "unindexed_encyclopedia", "dialogues_encyclopedia")}
    if not all(path.is_file() for path in every.values()) or not (ENCYCLOPEDIA / "documents").is_dir():
        build_encyclopedia()
    return {name: path for name, path in every.items() if (name == "dialogues_encyclopedia") == dialogues}


def labelled_files(folder: Path) -> dict[str, Path]:
    """The labelled files of single questions of a folder of ``eval/`` by name, with the dev set and
    the encyclopedia's files of the same part for the fit and held-out halves."""
    files = {path.stem: path for path in sorted(folder.glob("*.jsonl")) if path.stem not in DIALOGUES}
    if folder == FIT:
        files["dev"] = DEV
    part = {FIT: "fit", HELDOUT: "heldout"}.get(folder)
    if part:
        files.update(encyclopedia_files(part))
    return files


def gather(files: dict[str, Path], engines: dict[str, Engine]) -> list[Example]:
    examples = []
    for name, path in files.items():
        engine = engines[CORPUS_OF[name]]
        for item in read_questions(path):
            examples.append(Example(name, item, engine.gather(item["question"])))
    return examples


def span_text(engine: Engine, candidate: Candidate) -> str:
    """The text ``candidate`` would cite (uncut)."""
    return engine.index.texts[int(engine.index.sentences[candidate.first, 0])][candidate.start : candidate.end]


def fit_logistic(
    rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...], c: float, drop: frozenset[str] = frozenset(),
    signs: dict[str, int] | None = None,
) -> LogisticModel:
    """A logistic model over ``features``; those in ``drop`` are left out (they weigh 0).

    Without ``signs``: scikit-learn's ``LogisticRegression`` (L2, strength ``c``). With them,
    the same penalised log loss minimised by scipy's L-BFGS-B with each weight named in
    ``signs`` bounded to its direction."""
    keep = [n for n, name in enumerate(features) if name not in drop]
    coefficients = np.zeros(len(features), dtype=np.float64)
    if signs is None:
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(rows[:, keep], labels)
        coefficients[keep] = model.coef_[0]
        return LogisticModel(features, coefficients, float(model.intercept_[0]))
    x = np.hstack([rows[:, keep], np.ones((len(rows), 1))])  # the last column: the intercept
    y = labels.astype(np.float64)

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ weights
        gradient = c * (x.T @ (1.0 / (1.0 + np.exp(-z)) - y))
        gradient[:-1] += weights[:-1]
        return c * float(np.sum(np.logaddexp(0.0, z) - y * z)) + 0.5 * float(weights[:-1] @ weights[:-1]), gradient

    direction = {1: (0.0, None), -1: (None, 0.0), 0: (None, None)}
    bounds = [direction[signs.get(features[n], 0)] for n in keep] + [(None, None)]
    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 5000, "gtol": 1e-8})
    coefficients[keep] = result.x[:-1]
    return LogisticModel(features, coefficients, float(result.x[-1]))


def held_out_probabilities(
    rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...], c: float, drop: frozenset[str] = frozenset(),
    folds: int = 5, seed: int = 0,
) -> np.ndarray:
    """Each row's probability from a model fitted without it (``folds``-fold, split by ``seed``): what
    the threshold is chosen on, since a model's probabilities on its own fitting data are too sure."""
    fold_of = np.random.default_rng(seed).permutation(len(rows)) % folds
    probabilities = np.empty(len(rows))
    for fold in range(folds):
        test = fold_of == fold
        model = fit_logistic(rows[~test], labels[~test], features, c, drop)
        probabilities[test] = model.probabilities(rows[test])
    return probabilities


def choose_threshold(runs: list[np.ndarray], hit: np.ndarray, domains: np.ndarray) -> float:
    """The grid value with the best balanced accuracy (answers right answered, the rest abstained
    on) on each of ``runs`` (the held-out probabilities of several seeded splits), and of those
    choices the median (the lower middle one of an even number). The balanced accuracy is flat near
    its top, so the argmax of its mean over the splits moves with changes that leave the confidence
    as good; the splits' middle choice is steadier (docs/quality.md, "The threshold").

    The balanced accuracy is the mean of each kind of document's (``domains``, one per question):
    one threshold for the whole, to which every kind counts the same however many questions it
    brings."""

    def balanced_of(threshold: float, probabilities: np.ndarray, right: np.ndarray) -> float:
        answered = probabilities >= threshold
        good_answers = (answered & right).sum() / max(right.sum(), 1)
        good_abstentions = (~answered & ~right).sum() / max((~right).sum(), 1)
        return float((good_answers + good_abstentions) / 2)

    def balanced(threshold: float, probabilities: np.ndarray) -> float:
        return float(np.mean([balanced_of(threshold, probabilities[domains == d], hit[domains == d])
                              for d in np.unique(domains)]))

    picks = sorted(max(THRESHOLD_GRID, key=lambda t: (round(balanced(t, p), 4), -abs(t - 0.5))) for p in runs)
    threshold = float(picks[(len(picks) - 1) // 2])
    mean = {float(t): round(float(np.mean([balanced(t, p) for p in runs])), 3) for t in THRESHOLD_GRID}
    print("balanced accuracy by threshold (mean of the splits):", mean, "; each split's choice:",
          [float(t) for t in picks], "->", threshold)
    return threshold


def fit_confidence(examples: list[Example], engine_of, model: AnswerModel,
                   drop: frozenset[str] = frozenset()) -> tuple[LogisticModel, float, float, float]:
    """Steps 5 and 6 on the answers ``model``'s ranker builds for ``examples``: the confidence
    model, the cap on an answer lacking the type asked for, the threshold, and the lower end of
    the "may not answer exactly" band."""
    rows, labels, untyped_answers, domains = [], [], [], []
    for example in examples:
        chosen, _ = decide(example.evidence, model)
        if not chosen:
            continue
        domains.append(CORPUS_OF[example.file])
        rows.append(answer_features(example.evidence.candidates, chosen[0]))
        labels.append(answer_hit(example, engine_of(example), chosen))
        untyped_answers.append(untyped(example.evidence, chosen))
    rows, labels, untyped_answers = np.vstack(rows), np.array(labels, dtype=int), np.array(untyped_answers)
    confidence = fit_logistic(rows, labels, ANSWER_FEATURES, CONFIDENCE_C, drop)
    # the cap: the share of such answers right, smoothed
    cap = round(float((labels[untyped_answers].sum() + 1) / (untyped_answers.sum() + 2)), 4)
    print(f"confidence: {len(rows)} questions, {labels.sum()} answered right; "
          f"{untyped_answers.sum()} answers lack the type asked for, {labels[untyped_answers].sum()} right: cap {cap}")
    runs = [held_out_probabilities(rows, labels, ANSWER_FEATURES, CONFIDENCE_C, drop, seed=seed) for seed in range(THRESHOLD_SPLITS)]
    runs = [np.where(untyped_answers, np.minimum(p, cap), p) for p in runs]
    threshold = choose_threshold(runs, labels.astype(bool), np.array(domains))
    return confidence, cap, threshold, choose_band_lower(runs, labels.astype(bool), threshold)


def choose_band_lower(runs: list[np.ndarray], hit: np.ndarray, threshold: float) -> float:
    """The lowest grid value ``lower`` below ``threshold`` such that, of the fit questions whose
    held-out confidence lies in ``[lower, threshold)``, at least :data:`BAND_RIGHT_SHARE` are
    answered right (over all of ``runs``): below the threshold, the answers that still "may"
    answer. ``threshold`` itself (an empty band) when even the grid value just below falls short."""
    confidences, right = np.concatenate(runs), np.tile(hit, len(runs))
    lower = threshold
    shares = {}
    for candidate in sorted((t for t in BAND_GRID if t < threshold), reverse=True):
        inside = (confidences >= candidate) & (confidences < threshold)
        share = float(right[inside].mean()) if inside.any() else 0.0
        shares[float(candidate)] = round(share, 3)
        if share < BAND_RIGHT_SHARE:
            break
        lower = candidate
    print(f"share right in [lower, {threshold}) by lower:", shares, "->", lower)
    return float(lower)


def auroc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a positive's score is above a negative's (ties count half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([1] * len(positives) + [0] * len(negatives), positives + negatives))


def answer_hit(example: Example, engine: Engine, chosen) -> bool:
    accepted = example.item.get("answers") or []
    return bool(accepted) and contains_any(" ".join(span_text(engine, c) for c in chosen), accepted)


def fit_passage_model(examples: list[Example], engine_of, model: AnswerModel) -> LogisticModel:
    """The passage model: one row per returned passage of each question, label "the passage
    holds an accepted answer" (0 for every passage of a question the documents cannot answer)."""
    rows, labels = [], []
    for example in examples:
        chosen, confidence = decide(example.evidence, model)
        engine = engine_of(example)
        accepted = example.item.get("answers") or []
        best = chosen[0] if chosen else None
        for rank, passage in enumerate(example.evidence.passages):
            first, stop = (int(x) for x in engine.index.chunks[passage.chunk, 4:6])
            rows.append(passage_features(rank, passage.similarity, range(first, stop), example.evidence.candidates,
                                         best, confidence))
            labels.append(bool(accepted) and contains_any(passage.text, accepted))
    passage = fit_logistic(np.vstack(rows), np.array(labels, dtype=int), PASSAGE_FEATURES, CONFIDENCE_C)
    print(f"passages: {len(rows)}, {sum(labels)} holding an answer")
    return passage


def neutral_model() -> AnswerModel:
    """A stand-in while fitting: every coefficient 0."""
    return AnswerModel(
        ranker=LogisticModel(CANDIDATE_FEATURES, np.zeros(len(CANDIDATE_FEATURES)), 0.0),
        confidence=LogisticModel(ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), 0.0),
        threshold=0.5,
        follow_up_share=1.0,
    )


#: the first two lines of the Markdown table of ``report.py`` and ``external.py``
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


# ------------------------------------------------------------------ the encyclopedia domain

SQUAD_FILES = ("squad2-dev-19-articles.json", "squad11-dev-extra-articles.json", "squad2-train-part.json")
ENCYCLOPEDIA_SEED = 20261204
#: articles per part: (with unanswerable questions, without)
PARTS = {"fit": (11, 8), "heldout": (5, 3), "sealed": (5, 3)}
#: articles left out of the index, per part whose not-indexed questions they give
LEFT_OUT = {"fit": 3, "heldout": 2, "sealed": 2}
#: questions sampled per article: (answerable, unanswerable, per left-out article)
SAMPLE = {"fit": (6, 4, 10), "heldout": (60, 40, 20), "sealed": (60, 40, 20)}
#: follow-ups made per article and kind (answerable, unanswerable) by :func:`follow_up_items`
FOLLOW_UPS_PER_KIND = 20
#: a run of capitalised words a question names ("the University of Chicago", "Super Bowl 50")
_NAME_RUN = re.compile(r"(?<![\w'’])[A-Z][\w.-]*(?:\s+(?:(?:of|the|and|de|for|in)\s+)?[A-Z0-9][\w.-]*)*")
#: words before a name that make it part of a longer phrase ("which University", "a Chicago ...")
_NOT_ALONE_BEFORE = re.compile(r"(?i)\b(?:which|what|whose|how|a|an)\s+$")
_NEXT_WORD = re.compile(r"\s+([a-z]+)")
_PREVIOUS_WORD = re.compile(r"([a-z]+)\s+$")


def read_articles(data: Path) -> list[dict]:
    """Every article of the SQuAD files, in title order: title, paragraphs, questions."""
    missing = [name for name in SQUAD_FILES if not (data / name).is_file()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not found in {data}")
    articles = []
    for name in SQUAD_FILES:
        for article in json.loads((data / name).read_text(encoding="utf-8"))["data"]:
            questions = [qa for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
            articles.append({
                "title": article["title"],
                "paragraphs": [paragraph["context"] for paragraph in article["paragraphs"]],
                "answerable": [qa for qa in questions if not qa.get("is_impossible") and qa["answers"]],
                "unanswerable": [qa for qa in questions if qa.get("is_impossible")],
            })
    return sorted(articles, key=lambda article: article["title"])


def article_file_name(title: str) -> str:
    """The article's text file: its title with characters a file name should not hold replaced."""
    return "".join(c if c.isalnum() or c in "-_,.()'" else "_" for c in title) + ".txt"


def article_heading(title: str) -> str:
    return title.replace("_", " ")


def split_articles(articles: list[dict], rng: np.random.Generator) -> dict[str, list[dict]]:
    """``{part: articles}`` for the parts and ``left_out_<part>``."""
    with_unanswerable = [a for a in articles if a["unanswerable"]]
    without = [a for a in articles if not a["unanswerable"]]
    with_unanswerable = [with_unanswerable[n] for n in rng.permutation(len(with_unanswerable))]
    without = [without[n] for n in rng.permutation(len(without))]
    parts: dict[str, list[dict]] = {}
    for part, (count_with, count_without) in PARTS.items():
        parts[part] = with_unanswerable[:count_with] + without[:count_without]
        with_unanswerable, without = with_unanswerable[count_with:], without[count_without:]
    for part, count in LEFT_OUT.items():
        parts[f"left_out_{part}"], without = without[:count], without[count:]
    if with_unanswerable or without:
        raise SystemExit("the split does not use every article; check PARTS and LEFT_OUT")
    return parts


def sample_items(items: list[dict], count: int, rng: np.random.Generator) -> list[dict]:
    """Up to ``count`` of ``items``, seeded, in their original order."""
    if len(items) <= count:
        return list(items)
    return [items[n] for n in sorted(rng.choice(len(items), size=count, replace=False))]


def labelled_item(qa: dict, document: str | None, kind: str) -> dict:
    answers = list(dict.fromkeys(answer["text"] for answer in qa["answers"])) if kind == "answerable" else []
    return {"id": qa["id"], "question": qa["question"], "answers": answers, "document": document, "kind": kind}


def follow_up_items(articles: list[dict], rng: np.random.Generator, per_kind: int = FOLLOW_UPS_PER_KIND) -> list[dict]:
    """Two-turn dialogues made from each article's own questions (``"history"``: the first
    question): a question naming something ("When was the University of Chicago established?")
    follows another question of the same article, answerable, that names it too, with the name
    replaced by "it" ("When was it established?"; "its" for a possessive). Up to ``per_kind``
    per article of each kind: ``points_back`` (answerable, its accepted answers kept) and
    ``unanswerable`` (SQuAD 2.0's). The longest name that some other question of the article
    also names is replaced; a name that is part of a longer phrase is not: after "which", "a"...,
    or where the article writes it with the word before or after it in the question ("southern
    California", "the Plowshares organization")."""
    items = []
    for article in articles:
        document = article_file_name(article["title"])
        text = "\n".join(article["paragraphs"])
        pool = [(qa, "points_back") for qa in article["answerable"]] + [(qa, "unanswerable") for qa in article["unanswerable"]]
        made = dict.fromkeys(("points_back", "unanswerable"), 0)
        for n in rng.permutation(len(pool)):
            qa, kind = pool[n]
            if made[kind] >= per_kind:
                continue
            question = " ".join(qa["question"].split())
            runs = [run for run in _NAME_RUN.finditer(question)
                    if run.start() > 0 and len(run.group()) > 2 and not _NOT_ALONE_BEFORE.search(question[:run.start()])]
            runs = [run for run in runs if not _written_with_neighbour(question, run, text)]
            for run in sorted(runs, key=lambda run: (-len(run.group()), run.start())):
                named = re.compile(rf"(?<!\w){re.escape(run.group())}(?!\w)")
                firsts = [other for other in article["answerable"] if other is not qa and named.search(other["question"])]
                if not firsts:
                    continue
                first = firsts[int(rng.integers(len(firsts)))]
                before, after, word = question[:run.start()], question[run.end():], "it"
                if after.startswith(("'s", "’s")):
                    word, after = "its", after[2:]
                elif after.startswith(("' ", "’ ")):  # "Dioscorides' book"
                    word, after = "its", after[1:]
                before = re.sub(r"(?i)\bthe\s+$", "", before)
                item = labelled_item(qa, document, "answerable" if kind == "points_back" else "unanswerable")
                items.append({**item, "kind": kind, "history": [" ".join(first["question"].split())],
                              "question": before + word + after})
                made[kind] += 1
                break
    return items


def _written_with_neighbour(question: str, run: re.Match, text: str) -> bool:
    """Whether ``text`` writes the name ``run`` of ``question`` with the word that follows or
    precedes it there ("Chicago school", "southern California"; "the" does not count)."""
    following = _NEXT_WORD.match(question, run.end())
    if following and f"{run.group()} {following.group(1)}" in text:
        return True
    preceding = _PREVIOUS_WORD.search(question[:run.start()])
    return bool(preceding) and preceding.group(1) != "the" and f"{preceding.group(1)} {run.group()}" in text


def write_labelled(path: Path, items: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# generated by python eval/make_encyclopedia.py from ../shared/data (SQuAD, CC BY-SA 4.0); do not edit\n"
    path.write_text(header + "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")


def build_encyclopedia(out: Path | None = None, data: Path | None = None) -> dict:
    """Write the encyclopedia's documents folder and labelled files (``make_encyclopedia.py``);
    returns what went where."""
    out = ENCYCLOPEDIA if out is None else out
    data = SHARED_DATA if data is None else data
    rng = np.random.default_rng(ENCYCLOPEDIA_SEED)
    parts = split_articles(read_articles(data), rng)
    documents = out / "documents"
    documents.mkdir(parents=True, exist_ok=True)
    indexed = [article for part in PARTS for article in parts[part]]
    wanted = {article_file_name(article["title"]) for article in indexed}
    for stale in documents.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    for article in indexed:
        text = article_heading(article["title"]) + "\n\n" + "\n\n".join(p.strip() for p in article["paragraphs"]) + "\n"
        path = documents / article_file_name(article["title"])
        if not path.is_file() or path.read_text(encoding="utf-8") != text:  # unchanged files keep their hash
            path.write_text(text, encoding="utf-8")
    manifest: dict = {"about": "Written by eval/make_encyclopedia.py; do not edit.", "seed": ENCYCLOPEDIA_SEED, "parts": {}}
    for part, (answerable_count, unanswerable_count, left_out_count) in SAMPLE.items():
        items = []
        for article in parts[part]:
            document = article_file_name(article["title"])
            items += [labelled_item(qa, document, "answerable") for qa in sample_items(article["answerable"], answerable_count, rng)]
            items += [labelled_item(qa, document, "unanswerable")
                      for qa in sample_items(article["unanswerable"], unanswerable_count, rng)]
        unindexed = [labelled_item(qa, None, "not_indexed") for article in parts[f"left_out_{part}"]
                     for qa in sample_items(article["answerable"], left_out_count, rng)]
        write_labelled(out / part / "encyclopedia.jsonl", items)
        write_labelled(out / part / "unindexed_encyclopedia.jsonl", unindexed)
        manifest["parts"][part] = {
            "indexed_articles": [article["title"] for article in parts[part]],
            "left_out_articles": [article["title"] for article in parts[f"left_out_{part}"]],
            "answerable": sum(1 for item in items if item["answers"]),
            "unanswerable": sum(1 for item in items if not item["answers"]),
            "not_indexed": len(unindexed),
        }
    # the dialogues draw on a generator of their own, so that the questions above stay as they were
    dialogue_rng = np.random.default_rng(ENCYCLOPEDIA_SEED + 1)
    for part in SAMPLE:
        dialogues = follow_up_items(parts[part], dialogue_rng)
        write_labelled(out / part / "dialogues_encyclopedia.jsonl", dialogues)
        manifest["parts"][part]["dialogues"] = {kind: sum(1 for item in dialogues if item["kind"] == kind)
                                                for kind in ("points_back", "unanswerable")}
    return manifest
