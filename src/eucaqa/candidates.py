"""Candidate spans: every sentence of the retrieved passages, cited as a verbatim span
and described by the signals the answer model weighs.

A sentence that opens with a word pointing back ("It", "This", "Their"...) is
cited together with the sentences before it on the same page (up to four); when
that cannot be done it is not a candidate.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .evidence import MAX_CONTEXT_SENTENCES, Question, has_answer_type, points_back, prose_share
from .features import CANDIDATE_FEATURES, Candidate, feature_vector
from .index import LoadedIndex
from .names import name_initials, name_runs, name_words, names_terms, number_terms, two_word_names
from .retrieval import Passage
from .text import lexical_terms

#: Characters of a whole answer; a span with its context must fit in it.
MAX_ANSWER_CHARS = 700
#: Sentences shorter than this many words are headings or fragments, not answers.
MIN_ANSWER_WORDS = 4
#: Below this share of word tokens a "sentence" is a table row or a list of numbers.
MIN_PROSE_SHARE = 0.6
#: Candidates described in full: the best this many by cosine, and by word overlap.
SHORTLIST_EACH = 10
#: A name the question gives may stand this many sentences before the span (a heading,
#: the subject of a paragraph) without the span being about something else.
NAME_CONTEXT_SENTENCES = 6
#: Sentences whose stems, numbers and initials a SentenceCache keeps (about 2 KB each).
CACHED_SENTENCES = 20000
#: Documents whose lower-case words a SentenceCache keeps (a long book's: about 1 MB).
CACHED_DOCUMENTS = 64


class SentenceCache:
    """What the candidates need to know of a sentence whatever the question: its stems, the
    numbers it names and the initials of its names. Kept per loaded index across questions,
    for at most :data:`CACHED_SENTENCES` sentences (then it starts again)."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self.stems: dict[int, frozenset[str]] = {}
        self.numbers: dict[int, frozenset[str]] = {}
        self.initials: dict[int, tuple[list[str], set[str]]] = {}
        self.lowercase: dict[int, frozenset[str]] = {}

    def lowercase_words(self, doc: int) -> frozenset[str]:
        """The words a document writes in lower case somewhere ("air", "sea", not "Lott"), kept
        for at most :data:`CACHED_DOCUMENTS` documents (then it starts again)."""
        found = self.lowercase.get(doc)
        if found is None:
            if len(self.lowercase) >= CACHED_DOCUMENTS:
                self.lowercase.clear()
            found = self.lowercase[doc] = frozenset(_LOWERCASE_WORD.findall(self.index.texts[doc]))
        return found

    def clear(self) -> None:
        for table in (self.stems, self.numbers, self.initials, self.lowercase):
            table.clear()

    def stems_of(self, row: int) -> frozenset[str]:
        return self._cached(self.stems, row, _stem_set)

    def numbers_of(self, row: int) -> frozenset[str]:
        return self._cached(self.numbers, row, _number_set)

    def initials_of(self, row: int) -> tuple[list[str], set[str]]:
        return self._cached(self.initials, row, name_initials)

    def _cached(self, table: dict, row: int, read):
        """``table[row]``, first set to ``read(the sentence's text)``; a full table starts again."""
        found = table.get(row)
        if found is None:
            if len(table) >= CACHED_SENTENCES:
                table.clear()
            found = table[row] = read(self.index.sentence_text(row))
        return found


_LOWERCASE_WORD = re.compile(r"(?<![\w’'-])[a-z]+(?![\w’'-])")


def _stem_set(text: str) -> frozenset[str]:
    return frozenset(lexical_terms(text))


def _number_set(text: str) -> frozenset[str]:
    return frozenset(number_terms(text))


def describe_candidates(index: LoadedIndex, question: Question, passages: list[Passage],
                        names_in_document: dict[int, float], cache: SentenceCache | None = None) -> list[Candidate]:
    """Every sentence of ``passages`` as a citable span, the best by cosine and by word
    overlap described by the signals of :data:`~eucaqa.features.CANDIDATE_FEATURES`.

    ``names_in_document`` gives, for each document of the passages, the share of the
    question's name terms that the document mentions anywhere (1 when it names nothing)."""
    cache = cache or SentenceCache(index)
    table = index.sentences
    count = len(table)
    rank_of: dict[int, int] = {}
    first_rows: set[int] = set()
    for rank, passage in enumerate(passages):
        first, stop = (int(x) for x in index.chunks[passage.chunk, 4:6])
        first_rows.add(first)
        for row in range(first, stop):
            rank_of.setdefault(row, rank)
    if not rank_of:
        return []
    rows = list(rank_of)
    nearby = sorted({r for row in rows for r in range(row - MAX_CONTEXT_SENTENCES - 1, row + 2) if 0 <= r < count})
    place = {row: (int(doc), int(page)) for row, (doc, page) in zip(nearby, table[nearby, :2].tolist())}
    texts: dict[int, str] = {}
    matched: dict[int, set[str]] = {}

    def text_of(row: int) -> str:
        if row not in texts:
            texts[row] = index.sentence_text(row)
        return texts[row]

    # "Twelfth Amendment" is found as "Amendment XII" or "12th Amendment" (see names.number_terms)
    asks_numbers = any(term.isdigit() for term in question.all_names)
    stems_of = cache.stems_of
    initials_of = cache.initials_of

    def matched_of(row: int) -> set[str]:
        if row not in matched:
            present = stems_of(row) | cache.numbers_of(row) if asks_numbers else stems_of(row)
            matched[row] = question.matched(present)
        return matched[row]

    def same(row: int, other: int, page: bool = False) -> bool:
        if other not in place:
            return False
        return place[other][0] == place[row][0] and (not page or place[other][1] == place[row][1])

    # Every sentence of the passages is ranked by cosine and by word overlap;
    # only the best of each ranking are described in full (the rest never win).
    vectors = np.asarray(index.sentence_vectors[rows], dtype=np.float32)
    dense = {row: float(value) for row, value in zip(rows, vectors @ question.vector)}
    predicate_dense = {row: float(value) for row, value in zip(rows, vectors @ question.predicate_vector)}
    lexical = {row: question.coverage(matched_of(row)) for row in rows}
    dense_rank = _ranks(dense)
    lexical_rank = _ranks(lexical)
    best_dense = max(dense.values())
    best_lexical = max(lexical.values())
    shortlist = shortlist_rows(rows, dense_rank, lexical_rank, lambda row: points_back(text_of(row)))

    def dense_of(row: int) -> float:
        if row not in dense:
            dense[row] = float(np.asarray(index.sentence_vectors[row], dtype=np.float32) @ question.vector)
        return dense[row]

    asked = set(question.weights)
    predicate = asked - question.all_names  # what the question asks about, its names left out
    question_runs = [(names_terms(words), acronym, len(words) == 1) for words, acronym in name_runs(question.text)]
    # names of two words ("Trent Lott"): the terms of both, and each word with its own
    pairs = []
    for name in two_word_names(question.text):
        words = [(word, frozenset(names_terms([word]))) for word in name]
        pairs.append((frozenset().union(*(terms for _, terms in words)), words))
    answer_type = question.answer_type
    candidates = []
    for row in shortlist:
        first = row
        while points_back(text_of(first)) and row - first < MAX_CONTEXT_SENTENCES and same(first, first - 1, page=True):
            first -= 1
        if points_back(text_of(first)):
            continue  # what it points back to is not on its page: not citable on its own
        text = text_of(row)
        doc, page, start, _ = (int(x) for x in table[first])
        end = int(table[row, 3])
        span_text = index.texts[doc][start:end]
        if first < row and len(span_text) > MAX_ANSWER_CHARS - 5:
            continue  # with its context it would have to be cut; another span is cited instead
        window = set().union(*(matched_of(r) for r in range(first - 1, row + 2) if same(row, r)))
        # the window, and up to NAME_CONTEXT_SENTENCES before the span within the retrieved passages
        context = [r for r in range(first - NAME_CONTEXT_SENTENCES, row + 2) if same(row, r) and (r in rank_of or r >= first - 1)]
        rank = rank_of[row]
        own = stems_of(row)
        values = {
            "dense": dense[row],
            "dense_gap": dense[row] - best_dense,
            "dense_rank": 1.0 / (1 + dense_rank[row]),
            "dense_previous": dense_of(first - 1) if same(row, first - 1) else 0.0,
            "dense_next": dense_of(row + 1) if same(row, row + 1) else 0.0,
            "lexical": lexical[row],
            "lexical_gap": lexical[row] - best_lexical,
            "lexical_rank": 1.0 / (1 + lexical_rank[row]),
            "novelty": len(own - asked) / len(own) if own else 0.0,
            "specific_sentence": question.coverage(matched[row], question.specific),
            "lexical_window": question.coverage(window),
            "specific_window": question.coverage(window, question.specific),
            "names_window": question.names_found(window),
            "all_names_window": question.names_found(window, question.all_names),
            "predicate_window": question.coverage(window, predicate),
            "name_swapped": _name_swapped(question, window, context, text, question_runs, matched_of, initials_of,
                                          pairs, cache.lowercase_words(doc)),
            "typed": float(has_answer_type(text, answer_type, question.text)),
            "typed_missing": float(answer_type is not None and not has_answer_type(span_text, answer_type, question.text)),
            "passage_rank": 1.0 / (1 + rank),
            "passage_dense": passages[rank].similarity,
            "first_in_passage": float(row in first_rows),
            "fragment": float(len(text.split()) < MIN_ANSWER_WORDS or prose_share(text) < MIN_PROSE_SHARE),
            "extended": float(first < row),
            "length": min(1.0, len(span_text) / 400),
            "names_in_document": names_in_document.get(doc, 1.0),
        }
        features = feature_vector(values, CANDIDATE_FEATURES)
        candidates.append(Candidate(row=row, first=first, last=row, start=start, end=end, features=features,
                                    predicate_dense=predicate_dense[row]))
    return candidates


def shortlist_rows(rows: list[int], dense_rank: dict[int, int], lexical_rank: dict[int, int], points_back_at) -> list[int]:
    """The rows described in full: the best :data:`SHORTLIST_EACH` by cosine and by word
    overlap, and the sentence right after one of them when it points back to it (it goes on
    about the same thing, "It was formed in 1922 ...", without naming it)."""
    shortlist = [row for row in rows if min(dense_rank[row], lexical_rank[row]) < SHORTLIST_EACH]
    chosen = set(shortlist)
    return shortlist + [row + 1 for row in sorted(chosen)
                        if row + 1 in dense_rank and row + 1 not in chosen and points_back_at(row + 1)]


def _ranks(values: dict[int, float]) -> dict[int, int]:
    """0 for the highest value, 1 for the next...; ties share the better rank's order by row."""
    order = sorted(values, key=lambda row: (-values[row], row))
    return {row: n for n, row in enumerate(order)}


def _name_swapped(question: Question, window: set[str], rows: list[int], text: str, question_runs: list[tuple[set[str], str, bool]],
                  matched_of, initials_of, pairs: list[tuple[frozenset[str], list[tuple[str, frozenset[str]]]]],
                  lowercase: frozenset[str]) -> float:
    """1 when a name the question gives is not in the span's ``window`` nor its wider
    context ``rows`` while the sentence names something the question does not:
    "When did Tajikistan ..." answered with a sentence on Kazakhstan. A name given there
    by its acronym, or an acronym by its words, is no swap."""
    missing = question.names - window
    if not missing or not _other_names(text, question):
        return 0.0
    seen = window | set().union(*(matched_of(r) for r in rows))
    missing -= seen
    if not missing:
        return 0.0
    # a two-word name is there when one of its words that the document never writes in lower
    # case is: "Lott" for "Trent Lott" (but "Airlines" is no sign of "Southwest Airlines")
    for terms, words in pairs:
        if terms & missing and any(word.lower() not in lowercase and t & seen for word, t in words):
            missing -= terms
    if not missing:
        return 0.0
    present: set[str] | None = None
    for terms, acronym, is_acronym in question_runs:
        if terms & missing:
            if present is None:  # the rows' all-capital words and initials of names, read once
                present = set().union(*(initials_of(r)[1] for r in rows))
                initials = [run for r in rows for run in initials_of(r)[0]]
            # an acronym the question writes may stand inside a longer run of initials ("OSCE" in
            # "the Vienna Organization for Security ..."); the initials of words the question
            # writes out must stand alone ("Airbus A320neo" is not the "aa" of "FAA")
            if acronym in present or (is_acronym and any(acronym in run for run in initials)):
                missing -= terms
    return float(bool(missing))


def _other_names(text: str, question: Question) -> set[str]:
    """Stemmed names (capitalised words, acronyms, numbers) of a sentence that the question does not use."""
    asked = set(question.text.lower().split())
    words = [word for word in name_words(text) if word.lower() not in asked]
    if not words:
        return set()
    names = set().union(*map(_word_name_terms, words))
    return names - question.matched(names) - set(question.weights)


@lru_cache(maxsize=65536)
def _word_name_terms(word: str) -> frozenset[str]:
    """``names_terms([word])``, kept: the same names recur from sentence to sentence."""
    return frozenset(names_terms([word]))
