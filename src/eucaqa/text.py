"""Text analysis shared by every stage: sentences, lexical terms, stopwords, abbreviations.

The ground floor of the package: it imports nothing of eucaqa, and every stage
that splits or matches words (chunking, the index's BM25, retrieval, evidence)
takes its rules from here, so that a question's words and a document's words are
always seen the same way.

- :func:`sentence_spans`: sentences of a text (``blingfire``, a finite-state
  segmenter), with over-long run-ons cut at inner punctuation;
- :func:`lexical_terms`: BM25's view of a text (lower case, words of two or more
  word characters, :data:`STOPWORDS` left out, Snowball English stems from
  ``PyStemmer``), after :func:`join_abbreviations`;
- :func:`bm25_tokens`: the same view of many texts, as ``bm25s`` indexes them.
"""

from __future__ import annotations

import re
import threading

#: Words left out of BM25 and of every term match: English function words and their
#: contractions. The project's own list; it equals the "en_plus" list of ``bm25s``
#: (NLTK's English stopwords and their contractions), whose name the index manifest records.
STOPWORDS: tuple[str, ...] = tuple("""
a about above after again against ain all am an and any are aren aren't as at be because been before
being below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing
don don't down during each few for from further had hadn hadn't has hasn hasn't have haven haven't
having he her here hers herself him himself his how i if in into is isn isn't it it's its itself
just ll m ma me mightn mightn't more most mustn mustn't my myself needn needn't no nor not now o of
off on once only or other our ours ourselves out over own re s same shan shan't she she's should
should've shouldn shouldn't so some such t than that that'll the their theirs them themselves then
there these they this those through to too under until up ve very was wasn wasn't we were weren
weren't what when where which while who whom why will with won won't wouldn wouldn't y you you'd
you'll you're you've your yours yourself yourselves
""".split())
#: The name the index manifest records for :data:`STOPWORDS` (a change of list forces a full build).
STOPWORDS_NAME = "en_plus"
_STOPWORD_SET = frozenset(STOPWORDS)

#: bm25s's default token pattern: words of two or more word characters.
TOKEN = re.compile(r"(?u)\b\w\w+\b")

#: An abbreviation written with full stops, "U.S." or "e.g.": each letter alone is no token.
_DOTTED_ABBREVIATION = re.compile(r"\b(?:[^\W\d_]\.){2,}")
#: What every such abbreviation holds: found much faster, since it opens with a plain full stop.
_DOT_LETTER_DOT = re.compile(r"\.[^\W\d_]\.")

_PARAGRAPH = re.compile(r"[^\n]+")
#: Sentence-ending or clause-ending punctuation (with closing quotes) then a space.
_INNER_BOUNDARY = re.compile(r"[.;:!?][\"'\u201d\u2019)\]]*\s+")
#: A "sentence" longer than this is cut at inner punctuation (:func:`sentence_spans`)...
MAX_SENTENCE_CHARS = 400
#: ...into pieces of at least this many characters.
MIN_PIECE_CHARS = 40

_per_thread = threading.local()


def is_stopword(word: str) -> bool:
    """Whether a lower-case word is one of :data:`STOPWORDS`."""
    return word in _STOPWORD_SET


def join_abbreviations(text: str) -> str:
    """Write abbreviations with full stops without them ("U.S." -> "US"), so that the
    token pattern, which skips one-letter words, sees them as the word they stand for."""
    if "." not in text or not _DOT_LETTER_DOT.search(text):
        return text
    return _DOTTED_ABBREVIATION.sub(lambda match: match.group(0).replace(".", ""), text)


def stem_words(words: list[str]) -> list[str]:
    """Snowball English stems of lower-case words (one PyStemmer object per thread: they are not thread-safe)."""
    stemmer = getattr(_per_thread, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _per_thread.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWords(words)


def lexical_terms(text: str) -> list[str]:
    """Stemmed, lower-cased words without stopwords: BM25's view of a text.

    The same steps as :func:`bm25_tokens` (lower case, its token pattern, its
    stopword list, Snowball English), without its per-call set-up, which costs
    more than the work itself on a single sentence; abbreviations with full stops
    are joined first (:func:`join_abbreviations`), as the index does.
    """
    return stem_words([word for word in TOKEN.findall(join_abbreviations(text).lower()) if word not in _STOPWORD_SET])


def bm25_tokens(texts: list[str]):
    """``bm25s.tokenize`` of ``texts`` with the project's rules (what the index's BM25 holds)."""
    import bm25s
    import Stemmer

    return bm25s.tokenize(
        [join_abbreviations(text) for text in texts],
        stopwords=list(STOPWORDS),
        stemmer=Stemmer.Stemmer("english"),
        show_progress=False,
    )


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text[start:end]``, paragraph by paragraph.

    Sentence boundaries come from ``blingfire`` (a finite-state tokenizer, about
    25 times faster than ``pysbd`` here at the same answer quality). Spans are
    stripped of surrounding whitespace and never cross a paragraph break.
    """
    import blingfire

    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for paragraph in _PARAGRAPH.finditer(text, start, end):
        base, body = paragraph.start(), paragraph.group()
        _, offsets = blingfire.text_to_sentences_and_offsets(body)
        cursor = 0
        for first, last in offsets:
            first, last = max(first, cursor), min(last, len(body))
            piece = body[first:last]
            stripped = piece.strip()
            if not stripped:
                continue
            first += len(piece) - len(piece.lstrip())
            spans.extend((base + a, base + b) for a, b in _split_overlong(body, first, first + len(stripped)))
            cursor = first + len(stripped)
        rest = body[cursor:]
        if rest.strip():  # text the segmenter left out stays a sentence of its own
            lead = len(rest) - len(rest.lstrip())
            spans.append((base + cursor + lead, base + cursor + len(rest.rstrip())))
    return spans


def _split_overlong(body: str, first: int, last: int) -> list[tuple[int, int]]:
    """Cut a "sentence" longer than MAX_SENTENCE_CHARS after inner ``.;:!?`` marks.

    Such run-ons are nearly always splitter misses on PDF text (a page break
    and a footnote inside a sentence, a list run together); smaller pieces make
    better answers. Pieces shorter than MIN_PIECE_CHARS are not cut off.
    """
    if last - first <= MAX_SENTENCE_CHARS:
        return [(first, last)]
    pieces, start = [], first
    for mark in _INNER_BOUNDARY.finditer(body, first, last):
        cut = mark.start() + len(mark.group().rstrip())
        if cut - start >= MIN_PIECE_CHARS and last - mark.end() >= MIN_PIECE_CHARS:
            pieces.append((start, cut))
            start = mark.end()
    pieces.append((start, last))
    return pieces
