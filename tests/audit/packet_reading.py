"""Printed packets read back for the layout tests: the HTML's sections by their tags, the
PDF's text by where pypdf finds each line of it, and a table checked column by column.

A PDF table cell is left-aligned, so every line of it starts at its column's x: the distinct
x positions of a table's text are its columns. Read in the order the PDF draws them (row by
row, cell by cell, line by line), one column's lines give its cells in order; a cell whose
first line starts a row shares that line's height with the rest of its row.
"""

import io
from bisect import bisect_right
from dataclasses import dataclass, field
from html.parser import HTMLParser

from pypdf import PdfReader


@dataclass
class HtmlSection:
    title: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


class _Sections(HTMLParser):
    """Each `<h2>` section: its `<dt>`/`<dd>` pairs, `<th>` headers, `<td>` rows, `<p>`s."""

    TEXT = ("h2", "dt", "dd", "th", "td", "p")

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[HtmlSection] = []
        self.text: list[str] | None = None
        self.label = ""
        self.row: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self.TEXT:
            self.text = []
        elif tag == "tr":
            self.row = []

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self.row:
            self.sections[-1].rows.append(self.row)
        if tag not in self.TEXT or self.text is None:
            return
        text, self.text = "".join(self.text), None
        if tag == "h2":
            self.sections.append(HtmlSection(text))
        elif not self.sections:
            return  # the heading, the line under it and the digest
        elif tag == "dt":
            self.label = text
        elif tag == "dd":
            self.sections[-1].pairs.append((self.label, text))
        elif tag == "th":
            self.sections[-1].headers.append(text)
        elif tag == "td":
            self.row.append(text)
        else:
            self.sections[-1].paragraphs.append(text)


def html_sections(page: str) -> list[HtmlSection]:
    parser = _Sections()
    parser.feed(page)
    return parser.sections


@dataclass(frozen=True)
class Line:
    """One line of text as the PDF draws it: page (from 0), x and y in points."""

    page: int
    x: float
    y: float
    text: str


def pdf_lines(data: bytes) -> list[Line]:
    """Every line of text in the order the PDF draws it."""
    found: list[Line] = []
    for number, page in enumerate(PdfReader(io.BytesIO(data)).pages):
        def seen(text: str, cm: list[float], tm: list[float], *_: object,
                 number: int = number) -> None:
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                found.append(Line(number, round(x, 1), round(y, 1), text.strip()))
        page.extract_text(visitor_text=seen)
    return found


def squeezed(text: str) -> str:
    """Text without its white space: where a cell wraps is the column's width, not its text."""
    return "".join(text.split())


def section_lines(lines: list[Line], title: str, following: str | None) -> list[Line]:
    """The lines after the section title `title` up to the next one's, `following`."""
    titles = [line.text for line in lines]
    start = titles.index(title) + 1
    end = titles.index(following, start) if following is not None else len(lines)
    return lines[start:end]


def assert_table(lines: list[Line], rows: list[list[str]],
                 header: list[str] | None = None) -> None:
    """`lines` print `rows` as a table (under `header`, repeated on top of every page the
    table reaches): as many columns as a row has cells, each cell in its column, the rows in
    order, each row's cells starting on one line."""
    columns = sorted({line.x for line in lines})
    table = [header, *rows] if header else rows
    assert len(columns) == len(table[0]), (columns, table[0])
    pages = sorted({line.page for line in lines})
    starts: list[set[tuple[int, float]]] = [set() for _ in table]
    for j, x in enumerate(columns):
        column = [line for line in lines if line.x == x]
        if header:
            column = _without_repeated_header(column, header[j], pages[1:])
        text, offsets = "", []
        for line in column:
            offsets.append(len(text))
            text += squeezed(line.text)
        line_starts = set(offsets)
        at = 0
        for i, row in enumerate(table):
            cell = squeezed(row[j])
            if not cell:
                continue
            found = text.find(cell, at)
            while found >= 0 and found not in line_starts:  # a cell starts a line
                found = text.find(cell, found + 1)
            assert found >= 0, f"column {j}, row {i}: {row[j]!r} not found in order"
            first = column[bisect_right(offsets, found) - 1]
            starts[i].add((first.page, first.y))
            at = found + len(cell)
    for i, row in enumerate(table):
        assert len(starts[i]) == 1, f"row {i} {row} does not start on one line: {starts[i]}"


def _without_repeated_header(column: list[Line], header: str, later: list[int]) -> list[Line]:
    """The column without the header printed again on top of each later page (which must
    be there: a reader of page 3 sees what each column is)."""
    dropped: set[int] = set()
    for page in later:
        on_page = [n for n, line in enumerate(column) if line.page == page]
        text = ""
        for n in on_page:
            if text == squeezed(header):
                break
            text += squeezed(column[n].text)
            dropped.add(n)
        assert text == squeezed(header), f"page {page + 1} does not repeat {header!r}"
    return [line for n, line in enumerate(column) if n not in dropped]
