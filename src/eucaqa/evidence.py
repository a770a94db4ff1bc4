"""Evidence for the extract stage: what a question names and asks for, and the
signals of each candidate span that may answer it.

Everything here holds for any question and any corpus: no rule names a
document, a question or a country. The signals are weighed by the small
logistic models of :mod:`eucaqa.answer_model`, fitted on labelled questions.

- A *candidate* is one sentence of a retrieved passage, cited as a *span*: the
  sentence itself, or, when it opens with a word that points back ("It", "This
  programme", "Their"...), the sentence together with the one(s) before it, so
  that the quote says what it is about and stays one verbatim span.
- The question's *specific terms* are what it names: capitalised words,
  acronyms and numbers, and the words the corpus itself finds rare (by IDF).
  They must be found together in the cited span or right beside it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .names import NOT_NAMES
from .text import is_stopword, lexical_terms

AnswerType = Literal["date", "share", "amount", "person", "place"]

#: Words that point back to something said before when they open a sentence.
_BACK_WORDS = (
    r"it|its|it's|itself|this|these|those|that|they|their|theirs|them|themselves|he|she|his|her|hers|him|"
    r"such|both|the latter|the former|the same|the above|thereby|therefore|thus|hence"
)
_PREPOSITIONS = r"in|on|at|by|for|with|from|under|to|of|during|after|before|since|through|within|despite|as|into|among"
POINTING_BACK = re.compile(
    rf"^[\s\"'“‘(\[]*(?:(?:{_BACK_WORDS})\b|(?:{_PREPOSITIONS})\s+(?:this|that|these|those|its|their|his|her|such|it|them)\b)",
    re.IGNORECASE,
)
#: At most this many sentences are put before a pointing-back sentence.
MAX_CONTEXT_SENTENCES = 4

#: A term is rare, hence specific, when at most this share of passages hold it.
RARE_SHARE = 0.1
#: A name the question gives must be found near the cited span unless more than
#: this share of passages hold it (then it is the corpus's topic, not a detail).
TOPIC_NAME_SHARE = 0.2


def points_back(text: str) -> bool:
    """Whether a sentence opens with a word that refers to what came before it."""
    return bool(POINTING_BACK.match(text))


# ------------------------------------------------------------------- answer types

# A wh-word, then at most three words, then the noun that names the kind of answer:
# "In what year ...", "What was the value of ...", "Which European city ...".
# A word of do-support or a modal after the wh-word makes the noun the subject, not what is
# asked: "What did the minister say?" asks for no person.
_ASKS = r"\b(what|which)\s+(?!(?:do|does|did|will|would|can|could|should|shall|may|might|must)\b)(?:\S+\s+){{0,3}}?({nouns})\b"
_TYPE_PATTERNS: list[tuple[AnswerType, re.Pattern]] = [
    ("date", re.compile(r"^(since |until |by )?when\b|" + _ASKS.format(nouns="year|date|month|day|decade|century"), re.I)),
    ("share", re.compile(_ASKS.format(nouns="share|percentage|proportion|percent|fraction|portion"), re.I)),
    ("amount", re.compile(
        r"\bhow (much|many|large|big|long|high|far|often|old)\b|"
        + _ASKS.format(nouns="amount|value|number|sum|volume|level|cost|price|size|total|budget|age"), re.I)),
    ("person", re.compile(
        r"^(who|whom)\b|\b(who|whom)\s+\w+ed\b|"
        + _ASKS.format(nouns="official|person|minister|leader|diplomat|president|head|representative|envoy|author"), re.I)),
    ("place", re.compile(r"^where\b|\bwhere (will|is|was|did|does|do|are|were)\b|"
                         + _ASKS.format(nouns="city|country|town|place|capital|region|location|venue"), re.I)),
]

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_NUMBER = r"\d[\d,.]*\d|\d"
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|dozens?"
)
_EVIDENCE: dict[AnswerType, re.Pattern] = {
    "date": re.compile(rf"\b(1[5-9]\d\d|20\d\d)s?\b|\b({_MONTHS})\b|\b\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}\b"),
    "share": re.compile(
        rf"({_NUMBER})\s*(%|percent\b|per cent\b)|\b(half|majority|(a|one|two|three|four)[ -](third|quarter|fourth|fifth)s?)\b",
        re.I,
    ),
    "amount": re.compile(
        rf"[$€£¥]\s*\d|({_NUMBER})\s*(%|percent|per cent|million|billion|trillion|thousand|bn|mln)?|\b({_NUMBER_WORDS})\b"
        r"|\b(once|twice|thrice|every|annual(ly)?|yearly|monthly|weekly|daily)\b",
        re.I,
    ),
    "person": re.compile(
        r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)*\s+[A-Z][a-z]{2,}\b|\b(?:[A-Z]\.\s*)+[A-Z][a-z]{2,}\b"
        r"|\b(President|Minister|Director|Head|Chair\w*|Secretary|Ambassador|Commissioner|Representative|Spokes\w+"
        r"|Senate|House|Congress|Court|Justice|Judge|Governor|Legislature|Parliament|Council|Commission)\b"
    ),
    # a name the question does not give, anywhere ("Kazakhstan is the biggest economy")
    "place": re.compile(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]+)*"),
}


def expected_answer_type(question: str) -> AnswerType | None:
    """What kind of thing the question asks for, from its wording; None if unclear."""
    text = question.strip()
    for answer_type, pattern in _TYPE_PATTERNS:
        if pattern.search(text):
            return answer_type
    return None


def has_answer_type(sentence: str, answer_type: AnswerType | None, question: str) -> bool:
    """Whether the sentence holds something of that type that the question does not already say."""
    if answer_type is None:
        return False
    asked = question.lower()
    for match in _EVIDENCE[answer_type].finditer(sentence):
        found = match.group(0).strip().lower()
        if found in asked:
            continue
        if answer_type == "place" and (
            all(_common_word(word) for word in found.split())
            or (match.start() == 0 and " " not in found and sentence[match.end() : match.end() + 1] == ",")
        ):
            continue  # "The Union", "However, ...": capitalised, but no place
        return True
    return False


def _common_word(word: str) -> bool:
    return is_stopword(word) or word in _NOT_PERSON or word in NOT_NAMES


_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
_CAPITALISED = r"(?:[A-Z][\w’'-]+|[A-Z]\.)"
#: The phrase that answers each type of question (wider than the evidence patterns:
#: "June 2017", "$48.7 billion", "Roman Vassilenko").
_PHRASES: dict[AnswerType, re.Pattern] = {
    "date": re.compile(
        rf"\b(?:\d{{1,2}}\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}})?(?:,?\s+{_YEAR})?\b"
        rf"|\b{_YEAR}(?:\s*[-–]\s*(?:{_YEAR}|\d\d))?s?\b|\b\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}\b"
    ),
    "share": re.compile(
        r"(?:(?:about|almost|nearly|more than|over|approximately|around)\s+)?\d[\d,.]*\s*(?:%|percent\b|per cent\b)"
        r"|\b(?:half|a third|one third|a quarter|two thirds|three fourths)\b",
        re.I,
    ),
    "amount": re.compile(
        rf"[$€£¥]\s*\d[\d,.]*(?:\s*(?:million|billion|trillion|thousand|bn|mln))?"
        rf"|\b\d[\d,.]*(?:\s*(?:%|percent|per cent|million|billion|trillion|thousand|bn|mln|euros?|dollars?))?"
        rf"|\b(?:{_NUMBER_WORDS})\b",
        re.I,
    ),
    "person": re.compile(rf"\b{_CAPITALISED}(?:\s+{_CAPITALISED})+"),
    "place": re.compile(rf"\b(?:in|at|to|from|near|city of|capital)\s+(?:the\s+)?({_CAPITALISED}(?:\s+{_CAPITALISED})*)"),
}
#: Capitalised words that open a sentence or name an institution, not a person.
_NOT_PERSON = frozenset(
    "the a an in on at to of for from by with this that these those its their his her it they "
    "ministry affairs union council commission agreement bank corridor route programme program "
    "organization organisation republic state states committee parliament office department "
    "strategy partnership cooperation policy forum summit treaty fund agency "
    "deputy minister president director head chairman chair secretary ambassador commissioner "
    "representative spokesperson prime foreign high general special national european international".split()
)


def _person_in(sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """The first run of two or more capitalised words in ``sentence[start:end]`` that are
    not titles, institutions or sentence openers ("Deputy Minister Roman Vassilenko")."""
    run: list[re.Match] = []
    for word in re.finditer(_CAPITALISED, sentence[start:end]):
        if word.group(0).lower().strip(".") in _NOT_PERSON:
            if len(run) >= 2:
                break
            run = []
        else:
            run.append(word)
    if len(run) < 2:
        return None
    return start + run[0].start(), start + run[-1].end()


def answer_phrase(sentence: str, answer_type: AnswerType | None, question: str) -> tuple[int, int] | None:
    """``(start, end)`` in ``sentence`` of the phrase that answers a question asking
    for a date, share, amount, person or place; None when the question asks for none
    of these or the sentence holds no such phrase the question does not already say.

    When the sentence holds several, the one after the most of the question's words
    wins ("Trade amounted to $48.7 billion, with exports totaling $38.1 billion": the
    exports question gets $38.1 billion)."""
    if answer_type is None:
        return None
    asked = question.lower()
    asked_terms = set(lexical_terms(question))
    best: tuple[int, int, int] | None = None
    for match in _PHRASES[answer_type].finditer(sentence):
        start, end = match.span(1) if answer_type == "place" else match.span()
        phrase = sentence[start:end].strip().rstrip(",.;:")
        if answer_type == "person":
            name = _person_in(sentence, start, end)
            if name is None:
                continue
            start, end = name
            phrase = sentence[start:end]
        if not phrase or phrase.lower() in asked or any(word.lower() in asked.split() for word in phrase.split() if word[:1].isupper()):
            continue
        context = set(lexical_terms(sentence[max(0, start - 80) : start]))
        score = len(asked_terms & context)
        if answer_type == "amount":
            # "$68 million" answers "how much" better than a bare year or count
            score += 0.5 * bool(re.search(r"[$€£¥%]|million|billion|trillion|thousand|euro|dollar|per ?cent", phrase, re.I))
            score -= 0.5 * bool(re.fullmatch(_YEAR, phrase))
        if best is None or score > best[0]:
            best = (score, start, start + len(phrase))
    return (best[1], best[2]) if best else None


def prose_share(text: str) -> float:
    """Share of a text's tokens that are words rather than numbers or symbols (tables score low)."""
    tokens = text.split()
    if not tokens:
        return 0.0
    return len(_WORD_TOKEN.findall(text)) / len(tokens)


#: A run of non-space characters holding a letter.
_WORD_TOKEN = re.compile(r"[^\W\d_]\S*|\S+?[^\W\d_]\S*")


def term_matches(term: str, present: set[str]) -> bool:
    """A stemmed term found among a sentence's stems, allowing spelling variants of a
    shared stem of 5+ letters ("programm"/"program", "organiz"/"organis")."""
    if term in present:
        return True
    if len(term) < 5:
        return False
    return any(len(other) >= 5 and (other.startswith(term[:-1]) or term.startswith(other[:-1])) for other in present)


# ---------------------------------------------------------------------- question


@dataclass
class Question:
    """A question as the extract stage sees it, built once by ``Engine`` before the search
    (the fields after ``all_names`` are caches that fill as candidates are matched)."""

    text: str
    vector: np.ndarray
    #: the mean of the question's word pieces outside its names, unit length: what it asks about
    predicate_vector: np.ndarray
    #: stemmed content words (BM25's view), each once, with their IDF weights
    weights: dict[str, float]
    answer_type: AnswerType | None
    #: stemmed terms of the words that name something, except those most passages hold
    names: set[str]
    #: names, plus the question's terms the corpus finds rare
    specific: set[str]
    #: stemmed terms of each word that names something, one by one (numbers as written)
    name_terms: frozenset[str]
    #: stemmed terms of every word that names something, the corpus's topic names too
    all_names: set[str] = field(default_factory=set)

    #: for each stem of 5+ letters seen in a text, the question's terms it is a spelling variant of
    _variants: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: the terms ``matched`` looks for, and the first 4 letters of those of 5+ letters
    _terms: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)
    _heads: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    #: the sum of ``weights``, once worked out
    _total: float | None = field(default=None, init=False, repr=False, compare=False)

    def matched(self, present: set[str]) -> set[str]:
        """The question's terms found among a text's stems; the same as :func:`term_matches`
        for each term, with each stem's spelling variants worked out once per question.

        A stem and a term that are spelling variants share their first 4 letters, so stems
        whose first 4 letters begin none of the question's terms are passed over."""
        terms = self._terms
        if terms is None:
            terms = self._terms = frozenset(self.weights) | frozenset(self.names)
            self._heads = frozenset(term[:4] for term in terms if len(term) >= 5)
        heads = self._heads
        found = terms & present
        for other in present:
            if len(other) >= 5 and other[:4] in heads:
                variants = self._variants.get(other)
                if variants is None:
                    variants = frozenset(
                        term for term in terms
                        if len(term) >= 5 and (other.startswith(term[:-1]) or term.startswith(other[:-1]))
                    )
                    self._variants[other] = variants
                found |= variants
        return found

    def names_found(self, matched: set[str], names: set[str] | None = None) -> float:
        """Share of the question's names (or of ``names``) among ``matched`` terms (1 when there are none)."""
        names = self.names if names is None else names
        if not names:
            return 1.0
        return len(names & matched) / len(names)

    def coverage(self, matched: set[str], terms: set[str] | None = None) -> float:
        """IDF-weighted share of ``terms`` (default: all content words) among ``matched`` terms."""
        weights = self.weights
        # fsum: exact, so the same whatever order a set is walked in (string hashes vary by process)
        if terms is None:
            if self._total is None:
                self._total = math.fsum(weights.values())
            terms, total = weights.keys(), self._total
        else:
            total = math.fsum(weights.get(term, 0.0) for term in terms)
        if total <= 0:
            return 1.0
        if not matched:
            return 0.0
        return math.fsum(weights.get(term, 0.0) for term in matched if term in terms) / total
