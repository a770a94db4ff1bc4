"""Stage 1 — load: read a file of ``documents/`` and clean its text.

A :class:`Document` holds the *cleaned* text of a whole file and the span of
each page in it. Every later offset (chunks, answer sentences) points into this
cleaned text, so ``document.text[start:end] == chunk.text`` always holds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path

from .errors import DocumentError, DocumentsFolderError
from .settings import SUPPORTED_SUFFIXES

logger = logging.getLogger(__name__)

#: Text files with more than this share of undecodable or control characters are
#: taken for binary files named ``.txt``.
MAX_JUNK_SHARE = 0.05
#: Paragraphs are separated by this in the cleaned text.
PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class Page:
    """A page of a document: its 1-based number (None for text files) and span."""

    number: int | None
    start: int
    end: int
    #: the page had no text layer (or only a stamp on a scan) and was read by OCR (its text may
    #: hold recognition errors)
    ocr: bool = False


@dataclass
class Document:
    """The cleaned text of one file and where each of its pages lies in it."""

    source: str
    text: str
    pages: list[Page] = field(default_factory=list)
    #: numbers of the PDF pages that hold no text (dropped from ``text``)
    empty_pages: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "characters": len(self.text),
            "pages": [page.number for page in self.pages],
            "empty_pages": self.empty_pages,
        }


# --------------------------------------------------------------------------- files


def list_document_files(documents_dir: str | Path) -> list[Path]:
    """Every visible file under ``documents_dir``, sorted; raises if there are none."""
    folder = Path(documents_dir)
    if not folder.exists():
        raise DocumentsFolderError(f"documents folder not found: {folder}")
    if not folder.is_dir():
        raise DocumentsFolderError(f"documents folder is not a folder: {folder}")
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    if not files:
        raise DocumentsFolderError(
            f"documents folder is empty: {folder} (add .pdf, .txt or .md files to it)"
        )
    return files


def source_name(path: Path, documents_dir: str | Path) -> str:
    """The name a document is cited by: its path relative to the documents folder."""
    return path.relative_to(documents_dir).as_posix()


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes: unchanged content is never embedded twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_document(
    path: str | Path,
    source: str | None = None,
    *,
    ocr_cache: str | Path | None = None,
    on_ocr_page: Callable[[int, int], None] | None = None,
) -> Document:
    """Read and clean one ``.pdf``, ``.txt`` or ``.md`` file.

    PDF pages without a text layer, or with only a few characters on a picture covering
    the page, are read by OCR (:mod:`eucaqa.ocr`) when it is available, cached in
    ``ocr_cache``; ``on_ocr_page(done, total)`` is called before each page OCR reads.

    Raises:
        DocumentError: the file is empty, unreadable, encrypted, image-only,
            binary, or of an unsupported type. The message says which.
    """
    path = Path(path)
    source = source or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"unsupported file type '{suffix or path.name}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DocumentError(f"cannot read file: {error.strerror or error}") from error
    if size == 0:
        raise DocumentError("empty file")
    if suffix == ".pdf":
        cleaned = join_split_ligatures([(number, clean_text(raw)) for number, raw in _read_pdf_pages(path)])
        pages = _with_ocr(path, cleaned, ocr_cache, on_ocr_page)
    else:
        pages = [(None, clean_text(_read_text_file(path, source)), False)]
    document = _assemble(source, pages)
    if not document.pages:
        if suffix == ".pdf":
            from .ocr import ocr_unavailable_reason

            reason = ocr_unavailable_reason()
            raise DocumentError("no extractable text (a scanned or image-only PDF?)" + (f"; {reason}" if reason else ""))
        raise DocumentError("no text after cleaning (the file holds only whitespace)")
    return document


def _with_ocr(
    path: Path,
    pages: list[tuple[int, str]],
    cache_folder: str | Path | None,
    on_ocr_page: Callable[[int, int], None] | None,
) -> list[tuple[int, str, bool]]:
    """The cleaned pages, with those that have no text read by OCR (and cleaned) when it is available,
    and those whose few characters lie on a picture covering the page (a stamped scan)."""
    from .ocr import STAMP_MAX_CHARS, OcrCache, ocr_unavailable_reason, read_page, scanned_pages

    stamped = [number for number, text in pages if 0 < len(text) < STAMP_MAX_CHARS]
    if (not stamped and all(text for _, text in pages)) or ocr_unavailable_reason() is not None:
        return [(number, text, False) for number, text in pages]
    try:
        stamped_scans = scanned_pages(path, stamped) if stamped else set()
    except Exception as error:  # pdfium on a damaged file: those pages keep their text layer
        logger.warning("%s: pictures not measured (%s)", path.name, type(error).__name__)
        stamped_scans = set()
    scanned = [number for number, text in pages if not text or number in stamped_scans]
    if not scanned:
        return [(number, text, False) for number, text in pages]
    cache, content_hash = OcrCache(cache_folder), file_hash(path)
    read: dict[int, str] = {}
    for done, number in enumerate(scanned):
        text = cache.get(content_hash, number)
        if text is None:
            if on_ocr_page:
                on_ocr_page(done, len(scanned))
            try:
                text = read_page(path, number)
            except Exception as error:  # pdfium or the engine on a damaged page: the others still count
                logger.warning("%s: OCR of p. %d failed (%s)", path.name, number, type(error).__name__)
                continue
            cache.put(content_hash, number, text)
        read[number] = clean_text(text)
    return [(number, read.get(number, text), number in read) for number, text in pages]


def _read_text_file(path: Path, source: str) -> str:
    data = path.read_bytes()
    if b"\x00" in data:
        raise DocumentError("not a text file (binary content)")
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd")
    controls = sum(1 for char in text if unicodedata.category(char) == "Cc" and char not in "\n\r\t\f")
    if (replaced + controls) > MAX_JUNK_SHARE * max(len(text), 1):
        raise DocumentError("not a text file (binary content)")
    if replaced:
        logger.warning("%s: %d bytes are not valid UTF-8 and were replaced", source, replaced)
    return text


def _read_pdf_pages(path: Path) -> list[tuple[int, str]]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            # pypdf tries the empty user password itself; this tells whether it worked.
            reader.decrypt("")
        page_count = len(reader.pages)
    except FileNotDecryptedError as error:
        raise DocumentError("encrypted PDF that needs a password") from error
    except Exception as error:  # pypdf raises many kinds on broken files
        raise DocumentError(f"unreadable PDF ({type(error).__name__}: {error})") from error
    pages: list[tuple[int, str]] = []
    failures = []
    for number in range(1, page_count + 1):
        try:
            pages.append((number, reader.pages[number - 1].extract_text() or ""))
        except FileNotDecryptedError as error:
            raise DocumentError("encrypted PDF that needs a password") from error
        except Exception as error:  # one bad page must not lose the others
            failures.append(f"p. {number}: {type(error).__name__}")
    if failures and len(failures) == page_count:
        raise DocumentError(f"unreadable PDF (no page could be read; {failures[0]})")
    if failures:
        logger.warning("%s: skipped unreadable pages: %s", path.name, ", ".join(failures))
    return pages


def _assemble(source: str, cleaned_pages: list[tuple[int | None, str, bool]]) -> Document:
    """Lay the non-empty cleaned pages end to end in one text."""
    parts: list[str] = []
    pages: list[Page] = []
    empty: list[int] = []
    offset = 0
    for number, cleaned, ocr in cleaned_pages:
        if not cleaned:
            if number is not None:
                empty.append(number)
            continue
        if parts:
            parts.append(PARAGRAPH_BREAK)
            offset += len(PARAGRAPH_BREAK)
        parts.append(cleaned)
        pages.append(Page(number=number, start=offset, end=offset + len(cleaned), ocr=ocr))
        offset += len(cleaned)
    return Document(source=source, text="".join(parts), pages=pages, empty_pages=empty)


# ------------------------------------------------------------------------ cleaning

#: Bumped whenever cleaning changes what text a file gives, so that stored vectors are not reused
#: (2: words split after an "fi"/"fl" ligature are mended; 3: margin line numbers are dropped).
TEXT_CLEANING_VERSION = 3

# A hyphen at a line end with a word part on each side: "Kazakh-\nstan".
_LINE_END_HYPHEN = re.compile(r"(\w+)-[ \t]*\n[ \t\n]*(\w+)")
_WORDS = re.compile(r"\w+")
_HYPHENATED_WORDS = re.compile(r"\w+(?:-\w+)+")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
# A line holding only a number, perhaps tagged with a capital ("S32", "33R").
_NUMBER_LINE = re.compile(r"[A-Z]?(\d{1,3})[A-Z]?")
#: Fewest lines of consecutive numbers read as a page's margin line numbering.
LINE_NUMBER_RUN = 5


def clean_text(raw: str) -> str:
    """Turn extracted or typed text into clean running text.

    - Unicode NFKC (ligatures such as U+FB01 become ``fi``); private-use and
      control characters become spaces; soft hyphens are dropped.
    - A margin's line numbering (five or more lines holding only consecutive
      numbers, as pleadings and typeset books print beside the text) is dropped.
    - Words broken at a line end are joined (``Kazakh-\\nstan`` -> ``Kazakhstan``)
      unless the hyphen is real: the next part starts with a capital or digit
      (``EU-\\nCentral``), or the document spells the word with a hyphen
      elsewhere and never without (``multi-\\ndimensional``).
    - Lines of a paragraph are joined with one space; blank lines separate
      paragraphs; runs of spaces collapse to one.
    """
    text = unicodedata.normalize("NFKC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00ad", "")
    text = "".join(
        " " if (unicodedata.category(char) in ("Co", "Cc", "Cs") and char not in "\n\t") else char
        for char in text
    )
    text = _drop_line_numbers(text)
    text = _join_broken_words(text)
    paragraphs = []
    for block in _BLANK_LINES.split(text):
        lines = (_SPACES.sub(" ", line).strip() for line in block.split("\n"))
        paragraph = " ".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return PARAGRAPH_BREAK.join(paragraphs)


# A word part ending in a ligature that the PDF gave a space after: "fi ve", "Offi cers", "infl icted".
_SPLIT_LIGATURE = re.compile(r"\b(\w*?f[il]) ([a-z]+)\b")


def join_split_ligatures(pages: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Mend words that text extraction split after an "fi" or "fl" ligature ("fi ve" ->
    "five", "Ratifi ed" -> "Ratified"), over a whole PDF's cleaned pages.

    A pair is joined unless the part after the space is a word the document uses on
    its own elsewhere and the joined word is not ("chief of": "of" is a word)."""
    texts = [text for _, text in pages]
    if not any(_SPLIT_LIGATURE.search(text) for text in texts):
        return pages
    flat = " ".join(_SPLIT_LIGATURE.sub(" ", text) for text in texts)
    known_words = set(_WORDS.findall(flat))  # as written: "X" (a numeral) is not "x"

    def join(match: re.Match) -> str:
        left, right = match.group(1), match.group(2)
        if right in known_words and left + right not in known_words and (left + right).lower() not in known_words:
            return match.group(0)
        return left + right

    return [(number, _SPLIT_LIGATURE.sub(join, text)) for number, text in pages]


def _drop_line_numbers(text: str) -> str:
    """Drop runs of LINE_NUMBER_RUN or more lines that hold only consecutive numbers ("1", "2", ... "S32")."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    numbers = [_NUMBER_LINE.fullmatch(line.strip()) for line in lines]
    keep = [True] * len(lines)
    start = 0
    while start < len(lines):
        end = start + 1
        if numbers[start]:
            while end < len(lines) and numbers[end] and int(numbers[end].group(1)) == int(numbers[end - 1].group(1)) + 1:
                end += 1
            if end - start >= LINE_NUMBER_RUN:
                keep[start:end] = [False] * (end - start)
        start = end
    return "\n".join(line for line, kept in zip(lines, keep) if kept)


def _join_broken_words(text: str) -> str:
    if "-" not in text:
        return text
    # What the document itself says, away from line ends, decides doubtful cases.
    flat = _LINE_END_HYPHEN.sub(" ", text)
    known_words = {word.lower() for word in _WORDS.findall(flat)}
    known_hyphenated = {word.lower() for word in _HYPHENATED_WORDS.findall(flat)}

    def join(match: re.Match) -> str:
        left, right = match.group(1), match.group(2)
        if not (left[-1].isalpha() and right[0].islower()):
            return f"{left}-{right}"  # "EU-\nCentral", "2013-\n2017": a real hyphen
        joined = (left + right).lower()
        hyphenated = f"{left}-{right}".lower()
        if hyphenated in known_hyphenated and joined not in known_words:
            return f"{left}-{right}"
        return left + right

    return _LINE_END_HYPHEN.sub(join, text)

