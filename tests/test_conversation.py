"""Follow-up questions: what points back, how a question is completed, and the engine with a history."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT
from eucaqa import answer
from eucaqa.cli import main
from eucaqa.conversation import check_history, has_pointing_word, is_fragment, last_turn, points_back, understand
from eucaqa.evaluation import contains_any

FIT_DIALOGUES = ROOT / "eval" / "splits" / "fit" / "dialogues.jsonl"


def dialogues() -> list[dict]:
    return [json.loads(line) for line in FIT_DIALOGUES.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("question", [
    "When was it ratified?", "Where did he travel in February?", "What is his government post?",
    "Can their pay be cut while they serve?", "What is the minimum age to hold that office?",
    "And Uzbekistan?", "What about Tajikistan's?", "On what date?", "Who else was there?",
])
def test_questions_that_point_back(question):
    assert points_back(question)


@pytest.mark.parametrize("question", [
    "When was the EU's renewed strategy towards Central Asia adopted?",
    "What must the government pay when it takes private property for public use?",
    "How large may the federal district that becomes the seat of government be?",
    "Which IAEA facility does Kazakhstan host?",
])
def test_questions_read_on_their_own(question):
    assert not points_back(question)


def test_fragments_and_pointing_words_are_told_apart():
    assert is_fragment("And the foreign ministers' meeting?") and not has_pointing_word("And the foreign ministers' meeting?")
    assert has_pointing_word("Which service does he work for?") and not is_fragment("Which service does he work for?")


def test_a_follow_up_is_completed_with_the_last_turn_only_when_it_points_back():
    history = [("Which amendment abolished slavery?", "Amendment XIII. Section 1. Neither slavery nor involuntary servitude ...")]
    understood = understand("When was it ratified?", history)
    assert understood.question == "When was it ratified?"
    assert "amendment abolished slavery" in understood.context and "XIII" in understood.context
    assert understood.text.startswith("When was it ratified? (")
    assert understand("Which IAEA facility does Kazakhstan host?", history) is None
    assert understand("When was it ratified?", []) is None and understand("When was it ratified?", None) is None
    # a fragment that names its own subject puts it in place of the earlier one's
    replaced = understand("And for Virginia?", [("Who signed the Constitution for New York?", None)])
    assert "New York" not in replaced.context and "signed" in replaced.context


def test_history_is_checked():
    for bad in ("a string", [("only a question",)], [(1, "x")], [["q", "a", "extra"]], [["q", None], "x"]):
        with pytest.raises(ValueError, match="history"):
            check_history(bad)
    turn = last_turn([["Who is Luc Devigne?", {"found": False, "sentences": [], "understood_as": None}]])
    assert turn.question == "Who is Luc Devigne?" and turn.answer == ""
    assert last_turn([]) is None and last_turn(None) is None
    # whatever a client sends is read as much as a question is, and no word longer than a word
    huge = last_turn([["x" * 200_000, "y " * 200_000]])
    assert len(huge.question) <= 2000 and len(huge.answer) <= 2000
    assert understand("When was it signed?", [["Which treaty " + "x" * 200_000, None]]).context == "treaty"


def test_without_history_an_answer_is_what_it_was(shipped_index):
    question = "When was the EU's renewed strategy towards Central Asia adopted?"
    alone = answer(question, index_dir=shipped_index).to_dict()
    for history in (None, []):
        again = answer(question, index_dir=shipped_index, history=history).to_dict()
        assert {**again, "seconds": 0} == {**alone, "seconds": 0}
    assert alone["understood_as"] is None


def test_a_follow_up_is_answered_from_the_conversation_in_any_form_of_history(shipped_index):
    first_question = "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?"
    first = answer(first_question, index_dir=shipped_index)
    alone = answer("What is his government post?", index_dir=shipped_index)
    assert not alone.found and alone.understood_as is None
    results = [answer("What is his government post?", index_dir=shipped_index, history=[(first_question, earlier)])
               for earlier in (first, first.to_dict())]
    for result in results:
        assert result.found and "Deputy Minister of Foreign Affairs" in result.text
        assert result.understood_as.startswith("What is his government post? (")
        assert result.question == "What is his government post?"
    assert {**results[0].to_dict(), "seconds": 0} == {**results[1].to_dict(), "seconds": 0}
    assert answer("What is his government post?", index_dir=shipped_index, history=[(first_question, None)]).understood_as


def test_an_earlier_answer_given_as_a_dict_of_its_text_is_read_as_text():
    question = "When did the EU adopt its first strategy for Central Asia?"
    as_text = last_turn([(question, "In 2007.")])
    assert last_turn([(question, {"text": "In 2007."})]) == as_text and as_text.answer == "In 2007."
    assert last_turn([(question, {"text": 2007})]) == last_turn([(question, None)])


def test_the_cli_asks_a_follow_up_after_the_earlier_questions(shipped_index, capsys):
    first_question = "Who led Kazakhstan's delegation to Brussels for the Middle Corridor talks?"
    argv = ["ask", "What is his government post?", "--after", first_question, "--index", str(shipped_index)]
    assert main([*argv, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    first = answer(first_question, index_dir=shipped_index)
    expected = answer("What is his government post?", index_dir=shipped_index, history=[(first_question, first)])
    assert {**printed, "seconds": 0} == {**expected.to_dict(), "seconds": 0}
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"(understood as: {expected.understood_as})" and "Deputy Minister of Foreign Affairs" in lines[1]
    assert main(["ask", "What is his government post?", "--after", " ", "--index", str(shipped_index)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["eucaqa: error: question must not be empty"]


def test_the_fit_dialogues_are_answered_with_their_history_and_controls_keep_their_subject(shipped_index):
    """Over the fit half of the shipped documents' dialogues (eval/sets/dialogues.jsonl): the
    follow-ups are answered right far more often with the conversation than without it, and a
    question that changes topic is read on its own."""
    with_history = without = follow_ups = 0
    for item in dialogues():
        first = item["history"][0]
        earlier = answer(first, index_dir=shipped_index)
        result = answer(item["question"], index_dir=shipped_index, history=[(first, earlier)])
        if item["kind"] == "topic_change":
            assert result.understood_as is None, item["id"]
            assert result.found and contains_any(result.text, item["answers"]), item["id"]
        elif item["kind"] in ("points_back", "leaves_out"):
            follow_ups += 1
            with_history += result.found and contains_any(result.text, item["answers"])
            alone = answer(item["question"], index_dir=shipped_index)
            without += alone.found and contains_any(alone.text, item["answers"])
    assert follow_ups >= 20
    assert with_history / follow_ups >= 0.85 and with_history >= without + follow_ups // 3
