"""The audit packet as a PDF, in the layout its content's format was printed in: tables
from format v4 on, as the HTML shows them (issue 26 #15: an outside auditor found the PDF
"a wall of text"); v2 and v3 in their text layout (presentation/packet_pdf_text.py), kept
so the packets printed in it re-render byte for byte and keep verifying.

The tables: A4 portrait (no wider than Letter), each section's pairs as a two-column table
with the labels shaded, its table under a shaded header row that fpdf2 repeats on top of
every page the table reaches, each column a fixed share of the page (`WIDTHS`) in which
long cells wrap. fpdf2 refuses a row taller than a page (a 2,000-character note in its
column), so such a row goes on in rows of its own, "(cont.)", each at most a page high.

Imported only to print or read back a PDF: fpdf takes ~0.3 s to import.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode
from fpdf.util import Padding

from presentation.packet import HOW_TO_VERIFY, Section, sections, subtitle, title
from presentation.packet_document import FONT, document, finished, printable
from presentation.packet_pdf_text import text
from service.audit_packets import FORMATS, Packet

TABLES_SINCE = "rpm-logger audit packet v4"
# From v5 a column is at least as wide as its longest word, so a word is never cut ("enrolme"
# above "nt" in v4, an outside auditor's retry of issue 26); v4 keeps its fixed widths.
FITTED_SINCE = "rpm-logger audit packet v5"
WIDEST_WORD = 0.4  # of the page: a longer word (a pasted link) is cut rather than fitted

# Each section's table: its columns' widths in mm, in the order of its headers, filling the
# 190 mm between A4's margins (Letter is wider); a column fits its usual longest word at SIZE
# (an id of 6 digits, a date, a time, "(clinical_staff)").
WIDTHS: dict[str, tuple[float, ...]] = {
    "Codes and time": (50, 30, 40, 40, 30),
    "Time entries (clinic time)": (11, 19.5, 18.5, 18.5, 13, 13, 15.5, 16, 30, 15, 20),
    "Live interactions and their evidence": (11, 18.5, 34, 22, 15, 69.5, 20),
    "Calls (every leg, numbers masked)": (26, 26, 20, 26, 16, 19, 13, 18.5, 14.5, 11),
    "Voided entries": (11, 19.5, 18.5, 13, 15.5, 30, 18.5, 34.5, 29.5),
    "Amendments": (22, 12, 40, 18.5, 97.5),
    "Month close record": (16, 18.5, 26, 43.5, 26, 60),
    # format v6 on (issue 28): day, number of readings, their sources ("webhook, csv")
    "Device readings (clinic days)": (30, 25, 135),
}
PAIRS = (55, 135)  # label, value

TITLE = 6  # mm a section's title takes
SIZE = 7  # points, in every table
LINE = 3.2  # mm a line of it takes
PADDING = Padding(top=0.8, right=0.8, bottom=0.8, left=0.8)  # mm around a cell's text
SHADED = FontFace(emphasis="", fill_color=235)  # the one font has no bold: headers shaded


def pdf(packet: Packet) -> bytes:
    """The layout of the content's format: tables from v4, the text layout before."""
    if FORMATS.index(packet.content["format"]) < FORMATS.index(TABLES_SINCE):
        return text(packet)
    return tables(packet)


def tables(packet: Packet) -> bytes:
    content = packet.content
    doc = document(packet, "portrait")
    doc.set_font(FONT, size=14)
    doc.multi_cell(0, 7, printable(f"Audit packet: {title(content)}"), new_x="LMARGIN",
                   new_y="NEXT")
    doc.set_font(FONT, size=8)
    doc.multi_cell(0, 4, printable(subtitle(content)), new_x="LMARGIN", new_y="NEXT")
    doc.ln(1)
    doc.set_font("Courier", size=9)
    doc.multi_cell(0, 6, f"SHA-256 {packet.digest}", border=1, padding=(0, 1),
                   new_x="LMARGIN", new_y="NEXT")
    fitted = FORMATS.index(content["format"]) >= FORMATS.index(FITTED_SINCE)
    for section in sections(content):
        _section(doc, section, fitted)
    _title(doc, "Checking this packet", 4 * LINE)
    doc.set_font(FONT, size=8)
    doc.multi_cell(0, 4, printable(HOW_TO_VERIFY), new_x="LMARGIN", new_y="NEXT")
    return finished(doc, packet)


def _title(doc: FPDF, words: str, keep: float) -> None:
    """A section's title, on the page its first `keep` mm fit on too (a title never stands
    alone at the foot of a page)."""
    doc.ln(3)
    if doc.will_page_break(TITLE + keep):
        doc.add_page()
    doc.set_font(FONT, size=11)
    doc.multi_cell(0, TITLE, printable(words), new_x="LMARGIN", new_y="NEXT")


@dataclass(frozen=True)
class _Grid:
    """A table laid out: its columns' widths, its header row (none for labelled pairs) and
    its rows, each cut into pieces a page holds."""

    shares: Sequence[float]
    head: list[str]
    pieces: list[list[str]]
    labelled: bool
    opening: float  # mm the header row and the first piece take: kept with the title


def _section(doc: FPDF, section: Section, fitted: bool) -> None:
    doc.set_font(FONT, size=SIZE)  # what the grids are measured in
    grids = []
    if section.pairs:
        grids.append(_grid(doc, PAIRS, [list(pair) for pair in section.pairs], labelled=True,
                           fitted=fitted))
    table = section.table
    if table is not None and table.rows:
        grids.append(_grid(doc, WIDTHS[section.title], [list(row) for row in table.rows],
                           header=list(table.headers), fitted=fitted))
    _title(doc, section.title, grids[0].opening if grids else 4 * LINE)
    doc.set_font(FONT, size=SIZE)
    for n, grid in enumerate(grids):
        if n:  # the pairs, then the table
            doc.ln(2)
        _draw(doc, grid)
    if table is not None and not table.rows:
        doc.multi_cell(0, 4, printable(table.empty), new_x="LMARGIN", new_y="NEXT")


def _grid(doc: FPDF, shares: Sequence[float], rows: list[list[str]], *,
          header: list[str] | None = None, labelled: bool = False,
          fitted: bool = False) -> _Grid:
    head = [printable(cell) for cell in header] if header else []
    if fitted:
        shares = fit_words(doc, shares, [head, *([printable(c) for c in r] for r in rows)])
    widths = [doc.epw * share / sum(shares) for share in shares]
    room = _lines_a_page_holds(doc, head, widths)
    pieces = [piece for row in rows
              for piece in _pieces(doc, [printable(cell) for cell in row], widths, room)]
    opening = sum(_height(doc, row, widths) for row in (head, pieces[0]) if row)
    return _Grid(shares, head, pieces, labelled, opening)


def fit_words(doc: FPDF, shares: Sequence[float], rows: list[list[str]]) -> tuple[float, ...]:
    """The columns' widths (mm, filling the page) with each column at least as wide as its
    longest word in the current font, the room left shared as `shares` share it. A word
    wider than WIDEST_WORD of the page is cut where it must be; when even the words that fit
    cannot all fit side by side, the shares stay as they are."""
    page = doc.epw
    widths = [page * share / sum(shares) for share in shares]
    pad = PADDING.left + PADDING.right + 0.1  # fpdf2's rounding: a hair to spare
    need = [min(max((doc.get_string_width(word) for row in rows if row
                     for word in row[n].split()), default=0) + pad, page * WIDEST_WORD)
            for n in range(len(widths))]
    if sum(need) > page:
        return tuple(widths)
    short = [n for n, width in enumerate(widths) if width < need[n]]
    deficit = sum(need[n] - widths[n] for n in short)
    spare = {n: widths[n] - need[n] for n in range(len(widths)) if n not in short}
    room = sum(spare.values())  # >= deficit, since the needs fit the page
    for n in short:
        widths[n] = need[n]
    for n, extra in spare.items():
        widths[n] -= deficit * extra / room if room else 0
    return tuple(widths)


def _draw(doc: FPDF, grid: _Grid) -> None:
    """The grid under its header row (repeated on every page), or as labelled pairs (the
    first column shaded)."""
    with doc.table(col_widths=grid.shares, align="LEFT", text_align="LEFT", v_align="TOP",
                   line_height=LINE, padding=PADDING, headings_style=SHADED,
                   first_row_as_headings=bool(grid.head),
                   num_heading_rows=int(bool(grid.head)), repeat_headings=1) as table:
        if grid.head:
            table.row(grid.head)
        for piece in grid.pieces:
            row = table.row()
            for column, cell in enumerate(piece):
                row.cell(cell, style=SHADED if grid.labelled and column == 0 else None)


def _height(doc: FPDF, row: list[str], widths: list[float]) -> float:
    lines = max(len(_lines(doc, cell, w)) for cell, w in zip(row, widths, strict=True))
    return lines * LINE + PADDING.top + PADDING.bottom


def _lines(doc: FPDF, cell: str, width: float) -> list[str]:
    """The lines `cell` wraps to in a column `width` wide, as the table wraps them."""
    lines = doc.multi_cell(w=width, h=LINE, text=cell, max_line_height=LINE, padding=PADDING,
                           dry_run=True, output="LINES", wrapmode=WrapMode.WORD)
    return list(lines)  # type: ignore[arg-type]


def _lines_a_page_holds(doc: FPDF, head: list[str], widths: list[float]) -> int:
    """How many lines of a row fit on a page under a section's title and the header row
    (one kept spare)."""
    header = _height(doc, head, widths) if head else 0
    below = doc.page_break_trigger - doc.t_margin - TITLE - header - PADDING.top - PADDING.bottom
    return int(below // LINE) - 1


def _pieces(doc: FPDF, row: list[str], widths: list[float], room: int) -> list[list[str]]:
    """The row, or, when a cell wraps to more lines than a page holds, the row in pieces of
    `room` lines, each piece after the first marked "(cont.)" in its first column."""
    cells = list(zip(row, widths, strict=True))
    # a line holds a character at least: only a cell longer than `room` may not fit
    wrapped = {n: _lines(doc, cell, w) for n, (cell, w) in enumerate(cells) if len(cell) > room}
    if all(len(lines) <= room for lines in wrapped.values()):
        return [row]
    lines = [wrapped[n] if n in wrapped else _lines(doc, cell, w)
             for n, (cell, w) in enumerate(cells)]
    count = ceil(max(len(cell) for cell in lines) / room)
    pieces = [["\n".join(cell[n * room:(n + 1) * room]) for cell in lines]
              for n in range(count)]
    for piece in pieces[1:]:
        piece[0] = piece[0] or f"{row[0]} (cont.)"
    return pieces
