"""Answer quality on the labelled sets of ``eval/``: held-out figures, no dangling
spans, calibrated confidence, the confidence threshold, and a reproducible fit.

The thresholds asserted here are the figures measured on the held-out halves
when the model was last fitted (see docs/quality.md), less a
small margin: they guard against regressions. Where they fall short of the
targets of the issue that asked for them, docs/quality.md says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from eucaqa import answer
from eucaqa.answer_model import MODEL_FILE, load_answer_model
from eucaqa.answering import get_engine
from eucaqa.choosing import decide, untyped
from eucaqa.errors import EucaqaError
from eucaqa.evaluation import evaluate_file, expected_calibration_error, read_questions
from eucaqa.evidence import expected_answer_type, has_answer_type, points_back
from eucaqa.names import name_runs, name_terms, name_words, number_key, number_terms
from eucaqa.index import build_index

from conftest import PDF_DIR, ROOT, TESTS_DEV_SET

EVAL = ROOT / "eval"
HELDOUT = EVAL / "splits" / "heldout"
#: Words that point back when they open a quoted span (the issue's list, kept apart
#: from the code's own pattern so that the test checks it).
POINTING_BACK_WORDS = {"it", "its", "this", "these", "those", "they", "their", "he", "she", "his", "her", "such"}


def _index_of_one_pdf(tmp_path_factory, embedder, pdf_name: str):
    folder = tmp_path_factory.mktemp(pdf_name.removesuffix(".pdf"))
    documents = folder / "documents"
    documents.mkdir()
    shutil.copyfile(PDF_DIR / pdf_name, documents / pdf_name)
    build_index(documents, folder / "index", embedder=embedder)
    return folder / "index"


@pytest.fixture(scope="session")
def constitution_index(tmp_path_factory, embedder):
    """An index of us_constitution.pdf alone: the second kind of document."""
    return _index_of_one_pdf(tmp_path_factory, embedder, "us_constitution.pdf")


@pytest.fixture(scope="session")
def federal_register_index(tmp_path_factory, embedder):
    """An index of the Federal Register PDF alone: the third kind of document."""
    return _index_of_one_pdf(tmp_path_factory, embedder, "federal-register-2020-17221.pdf")


@pytest.fixture(scope="session")
def reports(shipped_index, constitution_index, federal_register_index):
    """Held-out reports, each file against its own index."""
    eu = {name: evaluate_file(HELDOUT / f"{name}.jsonl", index_dir=shipped_index)
          for name in ("inscope", "near_topic", "unindexed_eu")}
    constitution = {name: evaluate_file(HELDOUT / f"{name}.jsonl", index_dir=constitution_index)
                    for name in ("constitution", "unindexed_constitution")}
    federal_register = {name: evaluate_file(HELDOUT / f"{name}.jsonl", index_dir=federal_register_index)
                        for name in ("federal_register", "unindexed_federal_register")}
    return {"dev": evaluate_file(TESTS_DEV_SET, index_dir=shipped_index), **eu, **constitution, **federal_register}


def test_the_dev_set_keeps_its_targets(reports):
    # 17 of 20 answered since the model is fitted on four kinds of document (20 before): the three
    # others stand at 0.25-0.39 against the threshold of 0.40 (docs/quality.md)
    dev = reports["dev"]
    assert dev.answer_hit >= 0.8
    assert dev.abstained_out_of_scope == dev.out_of_scope == 5


def test_the_answering_phrase_overlaps_the_expected_answer(reports):
    dev = reports["dev"]
    assert dev.typed_answered >= 8
    assert dev.phrase_overlap >= 0.6


def test_held_out_in_scope_questions(reports):
    inscope = reports["inscope"]
    assert inscope.answer_hit >= 0.78
    assert inscope.answered_in_scope / inscope.in_scope >= 0.85


def test_held_out_second_domain(reports):
    # 10 of 12 unanswerable abstained on, 20 of 23 answered, since the model is fitted on four kinds
    # of document (7 and 22 before; see docs/quality.md)
    constitution = reports["constitution"]
    assert constitution.answer_hit >= 0.8
    assert constitution.abstained_out_of_scope / constitution.out_of_scope >= 0.7


def test_held_out_near_topic_questions(reports):
    # Below the 0.85 the issue asks for (see docs/quality.md): this guards what is reached.
    near = reports["near_topic"]
    assert near.abstained_out_of_scope / near.out_of_scope >= 0.6


def test_questions_about_documents_not_indexed_are_abstained_on(reports):
    for name in ("unindexed_eu", "unindexed_constitution", "unindexed_federal_register"):
        report = reports[name]
        assert report.abstained_out_of_scope / report.out_of_scope >= 0.9, name


def test_answers_hold_the_answer_at_least_as_often_as_the_700_character_baseline(reports):
    rows = [row for name in ("inscope", "constitution", "federal_register") for row in reports[name].rows if row.in_scope]
    would_hit = sum(row.would_hit for row in rows)
    baseline = sum(row.baseline_hit for row in rows)
    assert would_hit >= baseline, (would_hit, baseline)


def test_held_out_third_domain(reports):
    report = reports["federal_register"]
    assert report.answer_hit >= 0.7
    assert report.abstained_out_of_scope / report.out_of_scope >= 0.7


def test_confidence_is_calibrated_on_the_held_out_questions(reports):
    rows = [row for report in reports.values() for row in report.rows if row.found]
    ece = expected_calibration_error([row.confidence for row in rows], [row.would_hit for row in rows])
    assert ece <= 0.2, ece


@pytest.fixture(scope="session")
def encyclopedia(tmp_path_factory, embedder):
    """The encyclopedia domain written from ../shared/data by the project's own command, and its
    index built by build_index: the folder holding documents/, index/ and the labelled parts."""
    import os

    data = ROOT.parent / "shared" / "data"
    if not data.is_dir():
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"{data} is required under CI=true")
        pytest.skip("../shared/data is not here")
    sys.path.insert(0, str(EVAL))
    from common import build_encyclopedia

    folder = tmp_path_factory.mktemp("encyclopedia")
    build_encyclopedia(folder, data)
    build_index(folder / "documents", folder / "index", embedder=embedder)
    return folder


def test_the_encyclopedia_domain_is_split_by_article_and_written_as_documents(encyclopedia):
    manifest = json.loads((EVAL / "splits" / "encyclopedia.json").read_text(encoding="utf-8"))["parts"]
    titles = [set(part["indexed_articles"]) | set(part["left_out_articles"]) for part in manifest.values()]
    assert all(not (a & b) for n, a in enumerate(titles) for b in titles[n + 1:])  # no article in two parts
    assert len(manifest["heldout"]["indexed_articles"]) >= 6 and manifest["heldout"]["unanswerable"] > 0
    documents = sorted((encyclopedia / "documents").glob("*.txt"))
    assert len(documents) == sum(len(part["indexed_articles"]) for part in manifest.values())
    first = documents[0].read_text(encoding="utf-8")
    assert first.splitlines()[0] and first.splitlines()[1] == ""  # the title as a heading
    for part in ("fit", "heldout", "sealed"):
        items = read_questions(encyclopedia / part / "encyclopedia.jsonl")
        assert {item["kind"] for item in items} == {"answerable", "unanswerable"}
        left_out = read_questions(encyclopedia / part / "unindexed_encyclopedia.jsonl")
        assert left_out and all(item["answers"] == [] and item["document"] is None for item in left_out)
        dialogues = read_questions(encyclopedia / part / "dialogues_encyclopedia.jsonl")
        assert {item["kind"] for item in dialogues} == {"points_back", "unanswerable"}
        assert all(len(item["history"]) == 1 and re.search(r"\bits?\b", item["question"]) for item in dialogues)


def test_held_out_encyclopedia_articles(encyclopedia):
    """The held-out articles of the fourth kind of document. Below the issue's targets on answer_hit
    (0.88) and not indexed (0.90): this guards what is reached (docs/quality.md)."""
    held_out = evaluate_file(encyclopedia / "heldout" / "encyclopedia.jsonl", index_dir=encyclopedia / "index")
    assert held_out.answer_hit >= 0.75
    assert held_out.answered_in_scope / held_out.in_scope >= 0.85
    assert held_out.abstained_out_of_scope / held_out.out_of_scope >= 0.3
    assert held_out.ece <= 0.08 and held_out.passage_ece <= 0.08
    in_scope = [row for row in held_out.rows if row.in_scope]
    assert sum(row.would_hit for row in in_scope) >= sum(row.baseline_hit for row in in_scope)
    left_out = evaluate_file(encyclopedia / "heldout" / "unindexed_encyclopedia.jsonl", index_dir=encyclopedia / "index")
    assert left_out.abstained_out_of_scope / left_out.out_of_scope >= 0.7


def test_held_out_encyclopedia_follow_ups_are_answered_with_their_history(encyclopedia):
    """Follow-ups made from the held-out articles' questions, a name replaced by "it" after another
    question naming it (make_encyclopedia.py): the conversation makes them answerable (0.800 with
    it, 0.531 without, docs/quality.md)."""
    path = encyclopedia / "heldout" / "dialogues_encyclopedia.jsonl"
    with_history = evaluate_file(path, index_dir=encyclopedia / "index")
    alone = evaluate_file(path, index_dir=encyclopedia / "index", with_history=False)
    assert with_history.in_scope >= 100
    assert with_history.answer_hit >= 0.75 and with_history.answer_hit >= alone.answer_hit + 0.15


def test_coverage_table_trades_answers_for_accuracy(reports):
    table = reports["inscope"].coverage
    shares = [share for _, share, _, _ in table]
    assert shares == sorted(shares, reverse=True)
    assert table[0][1] == 1.0


def _all_labelled_questions() -> list[str]:
    files = sorted((EVAL / "sets").glob("*.jsonl"))  # the dev set among them
    return [item["question"] for path in files for item in read_questions(path)]


def test_no_cited_span_starts_with_a_word_that_points_back(shipped_index, constitution_index, federal_register_index):
    questions = _all_labelled_questions()
    assert len(questions) >= 200
    cited = 0
    for index_dir in (shipped_index, constitution_index, federal_register_index):
        index = get_engine(index_dir).index
        texts = dict(zip(index.sources, index.texts))
        for question in questions:
            result = answer(question, index_dir=index_dir, min_confidence=0.0)
            for sentence in result.sentences:
                first = re.match(r"[\W_]*(\w+)", sentence.text)
                assert first is None or first.group(1).lower() not in POINTING_BACK_WORDS, sentence.text[:120]
                assert texts[sentence.source][sentence.start : sentence.end] == sentence.text
                cited += 1
    assert cited > len(questions)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It has been a member of the WTO since 2015.", True),
        ("This programme ran until 2016.", True),
        ("“Their exports grew.", True),
        ("In this context, the EU signed a memorandum.", True),
        ("Such cooperation matters.", True),
        ("Itself a small state, Kyrgyzstan joined.", True),
        ("Italy joined in 1995.", False),
        ("Thistle is a plant.", False),
        ("The EU signed the agreement.", False),
        ("There are five states in Central Asia.", False),
    ],
)
def test_points_back(text, expected):
    assert points_back(text) is expected


def test_name_words_are_capitalised_words_acronyms_and_numbers():
    assert name_words("When did Tajikistan join the WTO in 2013?") == ["Tajikistan", "WTO", "2013"]
    assert name_words("What is the population of this country?") == []


@pytest.mark.parametrize(
    ("word", "key"),
    [("Twelfth", "12"), ("12th", "12"), ("XII", "12"), ("Twenty-sixth", "26"), ("XXVI", "26"), ("3d", "3"),
     ("2015", "2015"), ("I", None), ("V", None), ("CD", None), ("Tajikistan", None)],
)
def test_number_key_reads_ordinals_words_and_roman_numerals(word, key):
    assert number_key(word) == key


def test_a_name_given_in_words_is_found_in_digits_or_roman_numerals():
    assert name_terms("Twenty-sixth") == {"26"} and name_terms("Tajikistan") == {"tajikistan"}
    assert {"26", "1971"} <= number_terms("Amendment XXVI. Passed by Congress March 23, 1971.")


def test_name_runs_give_the_acronym_of_each_stretch():
    acronyms = {acronym for _, acronym in name_runs("a Citizen of the United States and the UN")}
    assert {"us", "un", "cus"} <= acronyms


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("Kazakhstan is the biggest economy of the region.", "Which country is the biggest economy?", True),
        ("However, the Union agreed.", "Which country agreed?", False),
        ("Members are chosen every second Year.", "How often are members chosen?", True),
        ("It needs three-fourths of the States.", "What share of the states must agree?", True),
        ("The study by S. Golunov says so.", "Who wrote the study?", True),
    ],
)
def test_answer_type_evidence(sentence, question, expected):
    assert has_answer_type(sentence, expected_answer_type(question), question) is expected


def test_whose_asks_for_no_particular_type():
    assert expected_answer_type("Whose influence did Kazakhstan hope to balance?") is None


def test_min_confidence_overrides_the_threshold(shipped_index, monkeypatch):
    question = "When did Tajikistan join the World Trade Organization?"
    assert answer(question, index_dir=shipped_index, min_confidence=0.0).found
    never = answer(question, index_dir=shipped_index, min_confidence=1.0)
    assert not never.found and never.sentences == [] and never.passages
    assert 0.0 <= never.confidence < 1.0
    monkeypatch.setenv("EUCAQA_MIN_CONFIDENCE", "1")
    assert not answer(question, index_dir=shipped_index).found
    monkeypatch.setenv("EUCAQA_MIN_CONFIDENCE", "0")
    assert answer(question, index_dir=shipped_index).found
    with pytest.raises(ValueError, match="min_confidence must be in \\[0, 1\\], got 1.5"):
        answer(question, index_dir=shipped_index, min_confidence=1.5)
    monkeypatch.setenv("EUCAQA_MIN_CONFIDENCE", "1.5")
    with pytest.raises(ValueError, match="EUCAQA_MIN_CONFIDENCE must be a number in \\[0, 1\\], got '1.5'"):
        answer(question, index_dir=shipped_index)


def test_an_answer_lacking_the_type_asked_for_is_not_given(shipped_index, constitution_index):
    """A question asking for a date, amount, share, person or place is not answered by spans
    none of which holds one: the confidence is capped below the threshold."""
    model = load_answer_model()
    assert model.untyped_confidence < model.threshold
    questions = [q for q in _all_labelled_questions() if expected_answer_type(q) is not None]
    capped = 0
    for index_dir in (shipped_index, constitution_index):
        engine = get_engine(index_dir)
        for question in questions:
            evidence = engine.gather(question)
            chosen, confidence = decide(evidence, model)
            if chosen and untyped(evidence, chosen):
                assert confidence <= model.untyped_confidence
                assert not engine.answer(question).found
                capped += 1
            elif chosen:
                assert any(has_answer_type(engine.index.span(*_place(engine, c))["text"], evidence.question.answer_type, question)
                           for c in chosen)
    assert capped >= 1


def _place(engine, candidate):
    doc, page = (int(x) for x in engine.index.sentences[candidate.first, :2])
    return doc, page, candidate.start, candidate.end


def test_the_model_file_fits_the_code_and_a_damaged_one_is_refused(tmp_path):
    model = load_answer_model()
    assert 0.0 < model.threshold < 1.0
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["ranker"]["features"] = data["ranker"]["features"][:-1]
    damaged = tmp_path / "model.json"
    damaged.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(EucaqaError, match="re-train"):
        load_answer_model(damaged)
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(EucaqaError, match="make train"):
        load_answer_model(tmp_path / "broken.json")


def test_training_reproduces_the_committed_model(tmp_path):
    output = tmp_path / "answer_model.json"
    result = subprocess.run(
        [sys.executable, str(EVAL / "train.py"), "--work", str(tmp_path / "work"), "--output", str(output)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fitted = json.loads(output.read_text(encoding="utf-8"))
    committed = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    for part in ("ranker", "confidence"):
        assert fitted[part]["features"] == committed[part]["features"]
        assert fitted[part]["coefficients"] == pytest.approx(committed[part]["coefficients"], abs=0.02)
    assert fitted["threshold"] == committed["threshold"]
    assert fitted["follow_up_share"] == committed["follow_up_share"]


def test_expected_calibration_error():
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [True, True, False, False]) == pytest.approx(0.1)
    assert expected_calibration_error([0.7, 0.7], [True, False]) == pytest.approx(0.2)
    assert expected_calibration_error([], []) == 0.0


def test_matched_terms_agree_with_term_matches():
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from eucaqa.evidence import Question, term_matches

    stems = st.text(alphabet="abcdeklmnoprstuz", min_size=2, max_size=9)

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.sets(stems, max_size=6), st.sets(stems, max_size=4), st.sets(stems, max_size=12))
    def check(terms, names, present):
        question = Question(text="q", vector=np.zeros(1), predicate_vector=np.zeros(1), weights=dict.fromkeys(terms, 1.0),
                            answer_type=None, names=names, specific=set(), name_terms=frozenset())
        assert question.matched(present) == {t for t in terms | names if term_matches(t, present)}

    check()


def test_a_possessive_ends_a_run_of_capitalised_words():
    from eucaqa.names import capitalised_runs, two_word_names

    question = "Which price did George Eastman's Kodak camera sell at in New York?"
    assert capitalised_runs(question) == [["Which"], ["George", "Eastman's"], ["Kodak"], ["New", "York"]]
    assert two_word_names(question) == [["George", "Eastman's"], ["New", "York"]]


def test_a_two_word_name_is_there_when_its_proper_word_is_but_not_by_a_common_one(tmp_path, embedder):
    """A narrative names a person in full once, then by one name: "Lott" stands for "Trent Lott".
    A word the document also writes in lower case ("airlines") is no sign of the whole name, nor are
    its initials inside another name's ("Airbus Aircraft" is not the "aa" of "FAA")."""
    from eucaqa.answering import Engine
    from eucaqa.index import build_index, load_index

    documents = tmp_path / "documents"
    documents.mkdir()
    filler = "\n\n".join(  # enough passages that the two names are rare, not the corpus's topic
        f"Part {part}, chapter {n} of the report turns to the {topic}. The {topic} changed a great deal over "
        f"the years, and the people who worked on the {topic} saw it happen. Many of them wrote about it later."
        for part in ("one", "two", "three")
        for n, topic in enumerate(("harvest", "railway", "harbour", "museum", "orchestra", "library", "bridge",
                                   "hospital", "market", "school", "canal", "theatre"), start=1)
    )
    (documents / "story.txt").write_text(
        "Senator Trent Lott spoke at a party in Washington in December 2002. "
        "The remarks drew little notice from the newspapers at first. "
        "Bloggers kept the story alive for weeks. Readers wrote to the papers. Editors followed up. "
        "Old speeches were found and quoted. Historians were asked what they meant. Columnists wrote about them. "
        "In the end, Lott was forced to resign as Senate Majority Leader in January 2003.\n\n"
        + filler
        + "\n\nEthiopian Airlines operates many routes. The airlines of the region grew fast. "
        "In 2019, Ethiopian Airlines carried eleven million passengers."
        "\n\nThe Federal Aviation Administration inspected Boeing jets in 2019.",
        encoding="utf-8",
    )
    build_index(documents, tmp_path / "index", embedder=embedder)
    engine = Engine(load_index(tmp_path / "index"))

    def swap_of(question: str, sentence_start: str) -> float:
        evidence = engine.gather(question)
        for candidate in evidence.candidates:
            if engine.index.sentence_text(candidate.row).startswith(sentence_start):
                return candidate.value("name_swapped")
        raise AssertionError(f"no candidate starts with {sentence_start!r}")

    assert swap_of("Which post did Trent Lott have to resign from?", "In the end, Lott") == 0.0
    assert swap_of("How many passengers did Southwest Airlines carry in 2019?", "In 2019, Ethiopian") == 1.0
    assert swap_of("When were Airbus Aircraft inspected by the Federal Aviation Administration?", "The Federal") == 1.0
