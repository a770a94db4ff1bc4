"""Follow-up questions: a question that points back to earlier turns, understood with them.

People chat in turns: after "Which amendment abolished slavery?" comes "When was it
ratified?". Such a question cannot be searched on its own. :func:`understand` tells
whether it needs the conversation and, if so, completes it with what the last turn
was about, as the question that is then searched and scored::

    When was it ratified? (amendment abolished slavery; Amendment XIII)

A question needs the conversation when it points back (a pronoun, "there" or "then",
"that"/"this" before a noun) to something outside it, or when it is a fragment ("And
Uzbekistan?", "On what date?"). Any other question is read on its own, so a change of
topic does not drag the old one in. Only the last turn is read. Every rule here is about
English questions in general; none names a question or a document; what they were
measured on is in docs/quality.md, "Follow-up questions".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .names import name_words
from .text import is_stopword, lexical_terms, sentence_spans

#: Words that point back to something said before: pronouns, "there", "then".
POINTING_WORDS = frozenset(
    "it its itself he him his himself she her hers herself they them their theirs themselves "
    "there then".split()
)
#: Words that point back when they stand before a noun: "that agreement", "the same year".
POINTING_DETERMINERS = frozenset("this that these those such same".split())
#: Words that open a clause whose pronoun points to the question's own subject ("when it takes").
CLAUSE_OPENERS = frozenset("when while if because after before until unless since as once whether although though".split())
#: Openings of a question that carries on the last one: "And Uzbekistan?", "What about Tajikistan's?"
_CARRYING_ON = re.compile(r"^\s*(?:and|but|also|what about|how about|and what about|what else|who else)\b", re.IGNORECASE)
#: Question words and the helping verbs that follow them: no part of what a question is about.
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could will would should "
    "shall may might must has have had name else".split()
)
_WORD = re.compile(r"[\w’'-]+")
#: A question with fewer words of its own than this (besides question words) is a fragment.
FRAGMENT_WORDS = 2
#: The most words of an earlier answer that a question is completed with (2, 4 and 8 tried on the
#: fit dialogues; docs/quality.md, "Follow-up questions").
MAX_ANSWER_WORDS = 4
#: The most words of an earlier question that a question is completed with.
MAX_CONTEXT_WORDS = 16
#: The characters of an earlier question or answer that are read (as of a question), and the
#: longest word that may join the context: a history sent to the API may hold anything.
MAX_TURN_CHARS = 2000
MAX_WORD_CHARS = 40
#: How much a word of the context counts, against a word of the question itself, when the spans
#: are scored (their share of the question's words found): the follow-up's own words lead, and a
#: span that only repeats the earlier turn does not look like an answer. Chosen on the fit
#: dialogues of three kinds of document, each kind counting the same (docs/quality.md,
#: "Follow-up questions": 0.05 to 1 tried).
CONTEXT_WEIGHT = 0.1


@dataclass(frozen=True)
class Turn:
    """An earlier turn of the conversation: the question as it was understood, the answer's
    words (its first cited sentence, or "" when nothing was answered), and the phrase that
    answered it, when one was marked (a name, a date, an amount)."""

    question: str
    answer: str
    phrase: str = ""


def check_history(history) -> list:
    """``history`` as a list of ``(question, answer)`` pairs, oldest first, where the answer is an
    :class:`~eucaqa.answering.Answer`, its ``to_dict()`` (as the HTTP API returns it), its text,
    or None; None is no history.

    Raises:
        ValueError: ``history`` is not a list of pairs whose question is a string.
    """
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise ValueError(f"history must be a list of (question, answer) pairs, got {type(history).__name__}")
    for number, pair in enumerate(history, start=1):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise ValueError(f"history turn {number} must be a (question, answer) pair, got {pair!r:.80}")
    return list(history)


def last_turn(history) -> Turn | None:
    """The last turn of ``history`` (:func:`check_history`), the one a follow-up is completed with."""
    pairs = check_history(history)
    if not pairs:
        return None
    question, answer = pairs[-1]
    understood = _field(answer, "understood_as")
    if not isinstance(understood, str) or not understood.strip():
        understood = question
    sentence, phrase = (text[:MAX_TURN_CHARS] for text in _answer_words(answer))
    return Turn(understood.strip()[:MAX_TURN_CHARS], sentence, phrase)


def _field(answer, name: str):
    """A field of an :class:`~eucaqa.answering.Answer` or of its dict (None for text or None)."""
    if isinstance(answer, dict):
        return answer.get(name)
    return None if answer is None or isinstance(answer, str) else getattr(answer, name, None)


def _answer_words(answer) -> tuple[str, str]:
    """What an earlier answer said: its first cited sentence (nothing for an abstention) and its
    marked phrase; or the first sentence of the text given (alone, or as a dict's ``"text"``)."""
    if isinstance(answer, dict) and "found" not in answer:  # not an Answer's dict: its text, if any
        answer = answer.get("text") if isinstance(answer.get("text"), str) else None
    if not answer:
        return "", ""
    if isinstance(answer, str):
        return _first_sentence(answer[:MAX_TURN_CHARS]), ""
    sentences = list(_field(answer, "sentences") or []) if _field(answer, "found") else []
    if not sentences:
        return "", ""
    phrase = ""
    for sentence in sentences:
        highlight, text, start = (_field(sentence, key) for key in ("highlight", "text", "start"))
        if (isinstance(highlight, (list, tuple)) and len(highlight) == 2 and isinstance(text, str)
                and all(isinstance(x, int) for x in (*highlight, start))):
            phrase = text[highlight[0] - start:highlight[1] - start]
            break
    return str(_field(sentences[0], "text") or ""), phrase


def own_words(question: str) -> list[str]:
    """The words of a question that say what it is about: no question words, stopwords or pointing words."""
    return [
        word for word in _WORD.findall(question)
        if len(word) <= MAX_WORD_CHARS and word.lower() not in _QUESTION_WORDS and word.lower() not in POINTING_WORDS
        and word.lower() not in POINTING_DETERMINERS and not is_stopword(word.lower())
    ]


def is_fragment(question: str) -> bool:
    """Whether the question carries on the last one ("And Uzbekistan?", "What about ...?") or has
    too few words of its own to be read alone ("On what date?")."""
    return bool(_CARRYING_ON.search(question)) or len(own_words(question)) < FRAGMENT_WORDS


def points_back(question: str) -> bool:
    """Whether the question needs the conversation: it is a fragment (:func:`is_fragment`) or has
    a pointing word (:func:`has_pointing_word`)."""
    return is_fragment(question) or has_pointing_word(question)


def has_pointing_word(question: str) -> bool:
    """Whether a pronoun, "there" or "then", or "that"/"this" before a noun, points outside the
    question: not one opening a clause about the question's own subject ("... when it takes"),
    nor a relative "that" ("the district that becomes ...")."""
    words = [word.lower() for word in _WORD.findall(question)]
    for position, word in enumerate(words):
        before = words[position - 1] if position else ""
        if before in CLAUSE_OPENERS:
            continue
        if word in POINTING_WORDS:
            return True
        if word in POINTING_DETERMINERS and position + 1 < len(words) and not is_stopword(words[position + 1]):
            following = words[position + 1]
            if word == "that" and before and not is_stopword(before) and before not in _QUESTION_WORDS and (
                following in _QUESTION_WORDS or following.endswith(("s", "ed"))
            ):
                continue
            return True
    return False


def context_of(turn: Turn, question: str) -> str:
    """What the earlier turn was about, in its own words: the earlier question's words, then the
    names and numbers of its answer's first sentence that neither question has (at most
    :data:`MAX_ANSWER_WORDS`). A fragment that names things of its own ("And for Virginia?")
    puts them in place of the earlier turn's names, which are left out."""
    asked = list(dict.fromkeys(own_words(turn.question)))[:MAX_CONTEXT_WORDS]
    replacing = bool(name_words(question)) and is_fragment(question) and not has_pointing_word(question)
    if replacing:
        earlier_names = set(name_words(turn.question))
        asked = [word for word in asked if word not in earlier_names]
    have = {term for text in (question, " ".join(asked)) for term in lexical_terms(text)}
    named = []
    answer_names = name_words(f"the {turn.phrase}") + name_words(turn.answer)  # "the": the phrase's first word counts
    for word in [] if replacing else answer_names:
        terms = set(lexical_terms(word))
        if len(word) <= MAX_WORD_CHARS and terms and not terms <= have and len(named) < MAX_ANSWER_WORDS:
            named.append(word)
            have |= terms
    parts = [" ".join(asked)] + ([" ".join(named)] if named else [])
    return "; ".join(part for part in parts if part)


def _first_sentence(text: str) -> str:
    spans = sentence_spans(text)
    return text[spans[0][0]:spans[0][1]] if spans else ""


@dataclass(frozen=True)
class Understood:
    """A follow-up question and the context it was completed with."""

    question: str
    context: str

    @property
    def text(self) -> str:
        """How the question was understood: ``"When was it ratified? (amendment abolished slavery)"``."""
        return f"{self.question} ({self.context})"


def understand(question: str, history) -> Understood | None:
    """The question completed with the conversation, or None when it is read on its own: no
    earlier turn, or it does not point back."""
    turn = last_turn(history)
    text = question.strip()
    if turn is None or not points_back(text):
        return None
    context = context_of(turn, text)
    return Understood(text, context) if context else None
