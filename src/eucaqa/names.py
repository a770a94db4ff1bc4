"""What a text names: capitalised words, acronyms, numbers (in digits, words,
ordinals or Roman numerals), and the runs of words an acronym stands for.

The extract stage checks that what a question names is found around the span it
cites (:mod:`eucaqa.evidence`, :mod:`eucaqa.candidates`); these are the words it
looks for, and the forms under which a text may give them.
"""

from __future__ import annotations

import re

from .text import lexical_terms

#: Words that may be capitalised in a question without naming anything.
NOT_NAMES = frozenset(
    "what which who whom whose when where why how is are was were do does did can could will would should "
    "has have had in on at of for from to by the a an and or i according".split()
)

_WORD = re.compile(r"[\w’'.-]*\w")
_DIGIT = re.compile(r"\d")


def name_words(question: str) -> list[str]:
    """The words by which a question names something: capitalised words after
    the first, acronyms, and numbers ("Tajikistan", "WTO", "2015")."""
    return [word for position, word in enumerate(_WORD.findall(question)) if _is_name_word(word, position)]


def name_word_spans(question: str) -> list[tuple[int, int]]:
    """Where in the question each word of :func:`name_words` stands: ``(start, end)`` characters."""
    return [
        match.span() for position, match in enumerate(_WORD.finditer(question))
        if _is_name_word(match.group(0), position)
    ]


def _is_name_word(word: str, position: int) -> bool:
    """A number, an acronym, or a capitalised word that is not the question's first nor a question word."""
    return bool(_DIGIT.search(word)) or (
        word[0].isupper() and (position > 0 or (word.isupper() and len(word) >= 2)) and word.lower() not in NOT_NAMES
    )


#: Lower-case words that may stand inside a name ("Organization for Security and Co-operation in Europe").
_NAME_LINKS = frozenset("of for and in on the de".split())


def name_runs(text: str) -> list[tuple[list[str], str]]:
    """Runs of capitalised words (two or more, small linking words allowed inside, and
    every stretch of two or more of them) and all-capital words, each with the acronym
    that stands for it, lower case:
    "Central Asian" -> "ca", "Organization for Security and Co-operation in Europe" -> "osce",
    "UN" -> "un". A text may name a thing either way; finding one for the other is no swap."""
    runs: list[tuple[list[str], str]] = []
    words = _WORD.findall(text)
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _NAME_LINKS:
            run.pop()
        capitals = [word for word in run if word[0].isupper()]
        # every stretch of two or more: "Citizen of the United States" holds "United States"
        for start in range(len(capitals) - 1):
            for stop in range(start + 2, len(capitals) + 1):
                runs.append((capitals[start:stop], "".join(word[0] for word in capitals[start:stop]).lower()))
        run.clear()

    for word in words:
        if word.isupper() and len(word) >= 2 and word.isalpha():
            runs.append(([word], word.lower()))
        lower = word.lower()
        if word[0].isupper() and not word.isupper() and lower not in NOT_NAMES and lower not in _NAME_LINKS:
            run.append(word)
        elif run and lower in _NAME_LINKS:
            run.append(word)
        else:
            close()
    close()
    return runs


#: A run of capitalised words, separated by single spaces.
_CAPITALISED_RUN = re.compile(r"(?<![\w’'-])[A-Z][\w’'-]*(?: [A-Z][\w’'-]*)*")


def capitalised_runs(text: str) -> list[list[str]]:
    """The runs of capitalised words of ``text``, each ended by a possessive too:
    "George Eastman's Kodak camera" -> [["George", "Eastman's"], ["Kodak"]]."""
    runs = []
    for run in _CAPITALISED_RUN.findall(text):
        current: list[str] = []
        for word in run.split():
            current.append(word)
            if word.endswith(("'s", "’s")):
                runs.append(current)
                current = []
        if current:
            runs.append(current)
    return runs


def two_word_names(text: str) -> list[list[str]]:
    """The runs of :func:`capitalised_runs` of exactly two words, neither an acronym ("Trent Lott")."""
    return [run for run in capitalised_runs(text) if len(run) == 2 and all(word[1:2].islower() for word in run)]


def name_initials(text: str) -> tuple[list[str], set[str]]:
    """The initials of each run of capitalised words of a text, lower case, and its
    all-capital words: an acronym of :func:`name_runs` is a stretch of one of the first
    or one of the second ("a Citizen of the United States and the UN" -> ["cus"], {"un"})."""
    initials: list[str] = []
    capitals: set[str] = set()
    run = ""
    for word in _WORD.findall(text):
        if word.isupper() and len(word) >= 2 and word.isalpha():
            capitals.add(word.lower())
        lower = word.lower()
        if word[0].isupper() and not word.isupper() and lower not in NOT_NAMES and lower not in _NAME_LINKS:
            run += lower[0]
        elif not (run and lower in _NAME_LINKS):
            if len(run) >= 2:
                initials.append(run)
            run = ""
    if len(run) >= 2:
        initials.append(run)
    return initials, capitals


_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_ORDINAL_UNITS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                  "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()
_ORDINAL_TENS = {"twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60, "seventieth": 70,
                 "eightieth": 80, "ninetieth": 90}
_ROMAN = re.compile(r"(?=[IVXLC]{2,}$)(?P<tens>XC|XL|L?X{0,3})(?P<units>IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_NUMBER_WORD = "|".join([*_UNITS, *_TENS, *_ORDINAL_UNITS, *_ORDINAL_TENS])
#: The words :func:`number_key` may read, found in one pass (most words of a text are none of these).
_NUMBER_LIKE = re.compile(
    rf"(?<![\w.-])(?:\d+(?:st|nd|rd|th|d)?|(?-i:[IVXLC]{{2,}})|(?:{_NUMBER_WORD})(?:-(?:{_NUMBER_WORD}))?)(?![\w-])",
    re.IGNORECASE,
)


def number_key(word: str) -> str | None:
    """The number a word stands for when it names something by number, as digits:
    "Twelfth", "12th", "XII" -> "12"; "Twenty-sixth", "twenty-six", "XXVI" -> "26".
    None for any other word (a single "I" or "V" is a word, not a numeral)."""
    if not _NUMBER_LIKE.fullmatch(word.strip(".")):
        return None
    lower = word.lower().strip(".")
    if re.fullmatch(r"\d+(st|nd|rd|th|d)?", lower):
        return str(int(re.match(r"\d+", lower).group(0)))
    parts = lower.split("-")
    if len(parts) <= 2 and all(parts):
        value = _word_value(parts[-1])
        if len(parts) == 2:
            tens = _TENS.get(parts[0])
            value = tens + value if tens is not None and value is not None and 0 < value < 10 else None
        if value is not None:
            return str(value)
    if _ROMAN.match(word.strip(".")):
        total = 0
        letters = word.strip(".")
        for n, letter in enumerate(letters):
            value = _ROMAN_VALUES[letter]
            total += -value if n + 1 < len(letters) and _ROMAN_VALUES[letters[n + 1]] > value else value
        return str(total)
    return None


def _word_value(word: str) -> int | None:
    for table in (_UNITS, _ORDINAL_UNITS):
        if word in table:
            return table.index(word)
    return _TENS.get(word, _ORDINAL_TENS.get(word))


def name_terms(word: str) -> set[str]:
    """The stemmed terms a name word is matched by: its number as digits when it
    names one ("Twelfth" -> "12"), else its stems ("Tajikistan" -> "tajikistan")."""
    return names_terms([word])


def names_terms(words: list[str]) -> set[str]:
    """:func:`name_terms` of many words at once (one stemming pass for those that are no number)."""
    keys = {word: number_key(word) for word in words}
    numbers = {key for key in keys.values() if key is not None}
    return numbers | set(lexical_terms(" ".join(word for word, key in keys.items() if key is None)))


def number_terms(text: str) -> set[str]:
    """The numbers a text names in words, ordinals or Roman numerals, as digits (see :func:`number_key`)."""
    return {key for key in map(number_key, _NUMBER_LIKE.findall(text)) if key is not None}
