"""Tables on scanned pages, read a row at a time.

Tesseract reads a table a column of cells at a time (the row labels, then the
figures), so no sentence holds a row's label with its figures. ``img2table``
finds the page's tables in the picture (rows and columns, from rules or from the
white space between them); each word Tesseract read goes to the cell holding
most of its box, and each table is written one row to a paragraph, its cells in
order, where Tesseract met its first word; the rest of the page is Tesseract's
text as it was. A "table" whose columns read as running text (two columns of
prose) is left to Tesseract (:func:`is_running_text`). A table with no rules
that ``img2table`` misses still has its lines of figures written after their
row's label (:func:`figures_beside_labels`). :mod:`eucaqa.ocr` calls these on
each page it reads.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

#: A table's column reads as running text when at least this share of its cells, after the
#: first, start with a small letter: they go on with the sentence of the cell above.
RUNNING_TEXT_SHARE = 1 / 3
#: A word of a line of figures: digits, signs and marks, with at most one letter (a dash or a
#: mark Tesseract read as a letter).
FIGURE_WORD = re.compile(r"[^A-Za-z]*[A-Za-z]?[^A-Za-z]*")


@dataclass(frozen=True)
class Word:
    """A word Tesseract read: its text, its box (left, top, right, bottom) in pixels, and
    the numbers of its line and paragraph on the page."""

    text: str
    box: tuple[int, int, int, int]
    line: int
    paragraph: int


@dataclass
class TableCell:
    """A cell of a table row: the table's column it starts in, and its words (indices
    into the page's words, in Tesseract's order)."""

    column: int
    words: list[int]


def page_words(engine) -> list[Word]:
    """The words of the page ``engine`` has recognised, in its reading order."""
    from tesserocr import RIL

    iterator = engine.GetIterator()
    words: list[Word] = []
    line = paragraph = -1
    while iterator is not None:
        if iterator.IsAtBeginningOf(RIL.PARA):
            paragraph += 1
        if iterator.IsAtBeginningOf(RIL.TEXTLINE):
            line += 1
        text, box = iterator.GetUTF8Text(RIL.WORD), iterator.BoundingBox(RIL.WORD)
        if text and text.strip() and box:
            words.append(Word(text.strip(), box, line, paragraph))
        if not iterator.Next(RIL.WORD):
            break
    return words


def find_tables(image) -> list:
    """The tables ``img2table`` finds in the page's picture, ruled or not: their rows of
    cells (a cell spanning rows or columns stands in each of them), no text yet."""
    from img2table.document import Image

    picture = io.BytesIO()
    image.convert("RGB").save(picture, format="BMP")  # encodes in 10 ms, PNG in 130
    return Image(picture.getvalue()).extract_tables(borderless_tables=True)


def table_rows(table, words: list[Word]) -> list[list[TableCell]]:
    """The table's rows, each a list of its cells that hold words. A word belongs to the
    cell holding more than half of its box (as img2table fills cells); a cell spanning
    columns is one cell; a cell reaching over several rows' bands (a row's band: where
    all its cells overlap) is cut between them, each word going to the row its middle
    stands in, since on lightly shaded rows img2table may miss a row's edge in some
    columns and join two rows' figures in one cell."""
    rows = list(table.content.values())
    bands = [(max(cell.bbox.y1 for cell in row), min(cell.bbox.y2 for cell in row)) for row in rows]
    in_table = [index for index, word in enumerate(words) if _inside(word, table.bbox)]
    taken: set[int] = set()
    cells_of_rows: list[list[TableCell]] = [[] for _ in rows]
    for number, row in enumerate(rows):
        for position, cell in enumerate(row):
            if position and row[position - 1].bbox == cell.bbox:
                continue  # the same cell, spanning columns
            spanned = [other for other, (top, bottom) in enumerate(bands) if top < cell.bbox.y2 and bottom > cell.bbox.y1]
            spanned = spanned or [number]
            inside = [index for index in in_table if index not in taken and _inside(words[index], cell.bbox)]
            mine = [index for index in inside if _nearest(words[index], spanned, bands) == number]
            taken.update(mine)
            if mine:
                cells_of_rows[number].append(TableCell(position, mine))
    return cells_of_rows


def _nearest(word: Word, rows: list[int], bands: list[tuple[int, int]]) -> int:
    """Of ``rows``, the one whose band holds the middle of ``word``, or is nearest to it."""
    middle = (word.box[1] + word.box[3]) / 2
    return min(rows, key=lambda row: _distance(middle, *bands[row]))


def _distance(middle: float, top: float, bottom: float) -> float:
    """How far ``middle`` stands above or below the band from ``top`` to ``bottom`` (0 inside it)."""
    return max(top - middle, middle - bottom, 0)


def _around(boxes) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) around ``boxes``."""
    lefts, tops, rights, bottoms = zip(*boxes)
    return min(lefts), min(tops), max(rights), max(bottoms)


def is_running_text(rows: list[list[TableCell]], words: list[Word]) -> bool:
    """Whether a found table is columns of running text: in some column, a third or more of
    the cells below another start with a small letter (a sentence going on from the line
    above), as two columns of prose do and a table's cells do not."""
    columns: dict[int, list[str]] = {}
    for cells in rows:
        for cell in cells:
            columns.setdefault(cell.column, []).append(words[cell.words[0]].text)
    for firsts in columns.values():
        below = firsts[1:]
        if len(below) >= 3 and sum(text[0].islower() for text in below) >= RUNNING_TEXT_SHARE * len(below):
            return True
    return False


def _inside(word: Word, bbox) -> bool:
    """Whether more than half of ``word``'s box lies in ``bbox``."""
    left, top, right, bottom = word.box
    width = max(0, min(right, bbox.x2) - max(left, bbox.x1))
    height = max(0, min(bottom, bbox.y2) - max(top, bbox.y1))
    return width * height > 0.5 * (right - left) * (bottom - top)


def text_with_tables(words: list[Word], tables: list[list[list[TableCell]]],
                     figures: dict[int, list[int]] | None = None) -> str:
    """The page's text: Tesseract's words, lines and paragraphs, but each table's words
    replaced by its rows (one paragraph a row, its cells' words in order), the table
    standing where Tesseract read its first word; and each line of figures
    (:func:`figures_beside_labels`: ``{word: the figures' words}``) written after that word
    of its row's label instead of where it was."""
    figures = figures or {}
    moved = {index for indices in figures.values() for index in indices}
    table_of: dict[int, int] = {}
    table_texts = []
    for number, rows in enumerate(tables):
        for cells in rows:
            table_of.update((index, number) for cell in cells for index in cell.words)
        table_texts.append("\n\n".join(" ".join(words[index].text for cell in cells for index in cell.words)
                                       for cells in rows if cells))
    parts: list[str] = []
    written: set[int] = set()
    last = None  # (paragraph, line) of the word written last, or None after a table
    for index, word in enumerate(words):
        if index in table_of:
            if table_of[index] not in written:
                written.add(table_of[index])
                parts += ["\n\n", table_texts[table_of[index]]]
                last = None
            continue
        if index not in moved:
            if last is None or last[0] != word.paragraph:
                parts.append("\n\n")
            elif last[1] != word.line:
                parts.append("\n")
            else:
                parts.append(" ")
            parts.append(word.text)
            last = (word.paragraph, word.line)
        if index in figures:
            parts += [" " + words[moved_index].text for moved_index in figures[index]]
    return "".join(parts).strip()


def figures_beside_labels(words: list[Word], taken: set[int]) -> dict[int, list[int]]:
    """Lines of figures that Tesseract read apart from their row's label, by the word of the
    label they belong after (its line's last word outside the tables found): ``{index of that
    word: indices of the figures' words, left to right}``.

    A table with no rules that ``img2table`` does not find is read a column at a time:
    the labels, then each column of figures as paragraphs of their own, often at the end
    of the page. A line of figures (no word of two letters or more, a digit in it) that
    opens its paragraph, or follows only such lines, goes to the leftmost paragraph of
    other text left of it whose lines' height holds the figures' middle: the row's label.
    It is written after the label's line nearest to it in height, or after the label's
    last line when all the figures given to that label stand in one row. Words in
    ``taken`` (the tables found) play no part."""
    lines: dict[int, list[int]] = {}
    for index, word in enumerate(words):
        if index not in taken:
            lines.setdefault(word.line, []).append(index)
    box = {line: _around(words[i].box for i in indices) for line, indices in lines.items()}
    figure_line = {line: any(c.isdigit() for i in indices for c in words[i].text)
                   and all(FIGURE_WORD.fullmatch(words[i].text) for i in indices)
                   for line, indices in lines.items()}
    paragraph_lines: dict[int, list[int]] = {}
    for line, indices in lines.items():
        paragraph_lines.setdefault(words[indices[0]].paragraph, []).append(line)
    movable, label_lines = [], {}
    for paragraph, its_lines in paragraph_lines.items():
        leading = 0
        while leading < len(its_lines) and figure_line[its_lines[leading]]:
            leading += 1
        movable += its_lines[:leading]
        if its_lines[leading:]:
            label_lines[paragraph] = its_lines[leading:]
    label_box = {paragraph: _around(box[line] for line in its_lines) for paragraph, its_lines in label_lines.items()}
    given: dict[int, list[int]] = {}
    for line in movable:
        left, top, _, bottom = box[line]
        middle = (top + bottom) / 2
        holders = [paragraph for paragraph, (p_left, p_top, p_right, p_bottom) in label_box.items()
                   if p_right <= left and p_top <= middle <= p_bottom]
        if holders:
            given.setdefault(min(holders, key=lambda paragraph: label_box[paragraph][0]), []).append(line)
    placed: dict[int, list[int]] = {}
    for paragraph, its_figures in given.items():
        one_row = max(box[line][1] for line in its_figures) < min(box[line][3] for line in its_figures)
        for line in its_figures:
            middle = (box[line][1] + box[line][3]) / 2
            after = label_lines[paragraph][-1] if one_row else min(
                label_lines[paragraph], key=lambda label: _distance(middle, box[label][1], box[label][3]))
            placed.setdefault(after, []).append(line)
    return {lines[after][-1]: [index for line in sorted(its_figures, key=lambda line: box[line][0]) for index in lines[line]]
            for after, its_figures in placed.items()}
