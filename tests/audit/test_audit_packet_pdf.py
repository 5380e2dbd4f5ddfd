"""Issue 26 #15: the PDF packet prints its sections as tables, as the HTML does (format v4:
A4 portrait, a header row repeated on every page, long cells wrapped, a row taller than a
page continued on the next), read back with pypdf and compared with the HTML section by
section, row by row, cell by cell. A packet printed before (format v3, its text layout)
keeps verifying: the layout is the one its content's format printed with.

`printed_v3/` holds a PDF and an HTML packet printed by main at 86c0e83 (the last version
before tables) and the SQLite records they were printed from (print_packets.py beside them
prints them again from that commit).
"""

import io
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from billing.tally import OUTSIDE_WINDOW
from presentation import packet_pdf
from presentation.packet import html, pdf, read, subtitle
from service import Service
from service.audit_packets import FORMAT, FORMATS, Packet, as_format
from tests.audit.conftest import cli_env
from tests.audit.packet_reading import (
    assert_table,
    html_sections,
    pdf_lines,
    section_lines,
    squeezed,
)
from tests.audit.test_audit_packet import OCTOBER, month  # noqa: F401 - the fixture
from tests.cli.runner import Cli
from tests.conftest import FrozenClock

PRINTED_V3 = Path(__file__).with_name("printed_v3")
PRINTED_AT = FrozenClock(datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
V3 = "rpm-logger audit packet v3"
A4_PORTRAIT = (595.28, 841.89)
# The layout is the same whatever database the content came from: these run on SQLite only.
LAYOUT_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _assert_printed_as_the_html(data: bytes, page: str) -> None:
    """Every section of the HTML, in its order, in the PDF: its pairs as a two-column
    table, its table under its header row, every row with every cell in its column."""
    lines = pdf_lines(data)
    sections = html_sections(page)
    titles = [s.title for s in sections]
    # 10, and the device readings from v6 on (content without them prints without)
    assert titles[-1] == "Checking this packet"
    assert len(titles) == 10 + ("Device readings (clinic days)" in titles)
    for section, following in zip(sections, [*titles[1:], None], strict=True):
        printed = section_lines(lines, section.title, following)
        split = len(printed)
        if section.headers:  # the pairs' table, then the section's own
            split = next(n for n, line in enumerate(printed) if line.text == section.headers[0])
        if section.pairs:
            assert_table(printed[:split], [list(pair) for pair in section.pairs])
        if section.headers:
            assert_table(printed[split:], section.rows, header=section.headers)
        text = squeezed("".join(line.text for line in printed))
        for paragraph in section.paragraphs:  # "none", what the verifying does
            assert squeezed(paragraph) in text


def _pages(data: bytes) -> list[tuple[float, float]]:
    return [(float(p.mediabox.width), float(p.mediabox.height))
            for p in PdfReader(io.BytesIO(data)).pages]


@LAYOUT_ONLY
def test_every_section_and_row_of_the_html_is_a_table_in_the_pdf(
        svc: Service, month: dict[str, object]) -> None:  # noqa: F811
    """A month with every part: entries, a bridged call, a manual live mark, a void, the
    close, an amendment logged into it and one voided out of it."""
    packet = svc.audit_packets.packet("P-1042", OCTOBER)
    assert packet.content["format"] == FORMAT
    data = pdf(packet)
    assert set(_pages(data)) == {A4_PORTRAIT}
    first = [line.text for line in pdf_lines(data)[:4]]  # as the HTML heads its page
    assert first[:2] == [f"Audit packet: P-1042 (JD), {OCTOBER}", subtitle(packet.content)]
    assert first[2] == f"SHA-256 {packet.digest}"
    _assert_printed_as_the_html(data, html(packet))


def _many_entries(content: dict[str, Any], count: int) -> dict[str, Any]:
    """The content with `count` entries made from its first, each note a few lines long
    (layout only: no store)."""
    entry = content["entries"][0]
    note = "\n".join(f"reading {n}: 150/95, called back, dose kept" for n in range(12))
    return content | {"entries": [entry | {"id": 1000 + n, "note": f"Entry {n}. {note}"}
                                  for n in range(count)]}


def _printed_v3() -> dict[str, Any]:
    """The content of the v3 PDF printed before tables (no store needed to lay it out)."""
    reader = PdfReader(PRINTED_V3 / "v3.pdf")
    return json.loads(reader.attachments["packet.json"][0])  # type: ignore[no-any-return]


def test_a_table_longer_than_a_page_repeats_its_header_on_every_page() -> None:
    packet = Packet(_many_entries(_printed_v3() | {"format": FORMAT}, 12))
    data = pdf(packet)
    entries = section_lines(pdf_lines(data), "Time entries (clinic time)",
                            "Live interactions and their evidence")
    assert len({line.page for line in entries}) >= 2
    _assert_printed_as_the_html(data, html(packet))  # headers again on each later page


@pytest.fixture
def noted(staffed_cli: Cli) -> Cli:
    staffed_cli("patient", "add", "P-7", "--initials", "ŁŻ", "--consent", "2026-09-01",
                "--enrolled", "2026-09-01")
    staffed_cli("log", "P-7", "5m", "review", "Short look", "--staff", "U01NURSE",
                "--at", "2026-10-02T10:00")
    return staffed_cli


@LAYOUT_ONLY
def test_a_row_taller_than_a_page_goes_on_over_the_page_and_verifies(
        noted: Cli, tmp_path: Path) -> None:
    """A note at its 2,000-character maximum is taller than a page in its column: the row
    goes on in the next, under the header again, every character in order."""
    words = " ".join(f"reading{n:04d}" for n in range(180))[:2000]
    noted("log", "P-7", "6m", "review", words, "--staff", "U01NURSE", "--at",
          "2026-10-03T10:00")
    out = tmp_path / "p.pdf"
    noted("audit", "packet", "P-7", "--month", "2026-10", "--format", "pdf", "--out", str(out))
    page = noted("audit", "packet", "P-7", "--month", "2026-10").stdout
    data = out.read_bytes()
    # each printing is an access record (issue 24), so the HTML printed after the PDF names
    # the chain's next record as its head: everything else is the same
    head = read(data).content["printed"]["audit_trail_head"]
    page = re.sub(r"record #\d+, hash [0-9a-f]{64}", f"record #{head['id']}, hash {head['hash']}",
                  page)
    _assert_printed_as_the_html(data, page)
    assert len(_pages(data)) >= 2
    noted("audit", "packet", "--verify", str(out))


def test_every_format_prints_in_its_own_layout_and_no_other() -> None:
    """v4 on: A4 portrait, tables; v2 and v3: A4 landscape, each row a run of text, as they
    printed it. Content in one format's layout with another's pages is not as printed: the
    format decides the layout, so changing either shows (exit 3)."""
    newest = _printed_v3() | {"format": FORMAT}
    for fmt in FORMATS:
        packet = Packet(as_format(newest, fmt))
        data = pdf(packet)
        text = [line.text for line in pdf_lines(data)]
        tables = FORMATS.index(fmt) >= FORMATS.index("rpm-logger audit packet v4")
        if tables:
            assert set(_pages(data)) == {A4_PORTRAIT}, fmt
            assert "Call note" in text, fmt  # a header cell of its own
        else:
            assert set(_pages(data)) == {A4_PORTRAIT[::-1]}, fmt
            assert "Call note" not in text and any("; Call note: " in t for t in text), fmt
        other = packet_pdf.text(packet) if tables else packet_pdf.tables(packet)
        reading = read(other)
        assert not reading.intact and "edited" in reading.problem, fmt


# -- packets printed before the tables -------------------------------------------------------

@pytest.fixture
def printed_v3(tmp_path: Path) -> Cli:
    """The records the v3 packets were printed from, in a SQLite file."""
    path = tmp_path / "before.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((PRINTED_V3 / "records.sql").read_text())
    return Cli(cli_env(f"sqlite:///{path}"), clock=PRINTED_AT)


@pytest.mark.parametrize("name", ["v3.pdf", "v3.html"])
def test_a_packet_printed_before_the_tables_keeps_verifying(printed_v3: Cli, tmp_path: Path,
                                                            name: str) -> None:
    printed = tmp_path / name
    shutil.copyfile(PRINTED_V3 / name, printed)
    said = printed_v3("audit", "packet", "--verify", str(printed)).stdout
    assert "intact, and the records of P-1042 2026-10 are as printed" in said
    # an edit of the file is still one
    edited = tmp_path / f"edited-{name}"
    data = printed.read_bytes()
    edited.write_bytes(data.replace(b"(rpm-logger)", b"(rpm-logged)", 1) if name.endswith("pdf")
                       else data.replace(b"Nina Nurse (clinical_staff)</td>",
                                         b"Nina Nurse (physician)</td>", 1))
    assert edited.read_bytes() != data
    assert "edited" in printed_v3("audit", "packet", "--verify", str(edited), code=3).stderr
    # and so is a record changed since
    entry = printed_v3("log", "P-1042", "5m", "review", "Found later", "--staff", "U01NURSE",
                       "--at", "2026-10-29T10:00", "--amend", "late paper note").stdout.strip()
    said = printed_v3("audit", "packet", "--verify", str(printed), code=4).stderr
    assert f"entries[{entry}]: added since printing" in said


@pytest.fixture
def rpm(staffed_cli: Cli) -> Cli:
    staffed_cli("patient", "add", "P-100", "--initials", "AB", "--consent", "2026-09-01",
                "--provider", "U02DOC", "--enrolled", "2026-09-01", "--ordered-by", "U02DOC",
                "--order-date", "2026-09-01")
    staffed_cli("log", "P-100", "21m", "call", "Talked BP", "--staff", "U01NURSE", "--at",
                "2026-10-05T10:00", "--live")
    return staffed_cli


def test_a_v3_packet_of_todays_records_prints_as_v3_did_and_verifies(rpm: Cli,
                                                                    tmp_path: Path) -> None:
    """On both databases: the content printed as v3 (what `--verify` rebuilds for a v3
    file) renders the text layout, verifies, and names a record changed since."""
    out = tmp_path / "p.pdf"
    rpm("audit", "packet", "P-100", "--month", "2026-10", "--format", "pdf", "--out", str(out))
    content = json.loads(PdfReader(out).attachments["packet.json"][0])
    assert content["format"] == FORMAT != V3
    old = tmp_path / "old.pdf"
    old.write_bytes(pdf(Packet(as_format(content, V3))))
    assert set(_pages(old.read_bytes())) == {A4_PORTRAIT[::-1]}
    rpm("audit", "packet", "--verify", str(old))
    rpm("log", "P-100", "3m", "review", "More", "--staff", "U01NURSE", "--at",
        "2026-10-06T10:00")
    said = rpm("audit", "packet", "--verify", str(old), code=4).stderr
    assert "month.counted_seconds: printed 1260, now 1440" in said


def _cut_words(data: bytes, page: str) -> set[str]:
    """The words of the HTML's cells (pairs, headers, rows) that no line of the PDF holds
    whole: a column too narrow for its word wrapped it mid-word ("enrolme" over "nt")."""
    printed = {word for line in pdf_lines(data) for word in line.text.split()}
    cells = [cell for s in html_sections(page)
             for cell in [*(v for pair in s.pairs for v in pair), *s.headers,
                          *(c for row in s.rows for c in row)]]
    return {word for cell in cells for word in cell.split()
            if len(word) <= 40 and word not in printed}


@LAYOUT_ONLY
def test_no_word_is_cut_across_lines_from_v5(svc: Service,
                                              month: dict[str, object]) -> None:  # noqa: F811
    """Outside auditor's retry of issue 26: the v4 PDF's narrow columns cut words
    ("enrolme" above "nt"); from v5 each column is at least as wide as its longest word.
    A packet printed as v4 keeps its widths (its bytes must print again the same)."""
    packet = svc.audit_packets.packet("P-1042", OCTOBER)
    assert packet.content["format"] == FORMAT == "rpm-logger audit packet v7"  # fitted since v5
    assert _cut_words(pdf(packet), html(packet)) == set()
    _assert_printed_as_the_html(pdf(packet), html(packet))
    # time outside the enrolment window, as the auditor's month had it (layout only)
    entry = packet.content["entries"][0] | {"not_counted_reasons": [OUTSIDE_WINDOW]}
    outside = Packet(packet.content | {"entries": [entry]})
    assert _cut_words(pdf(outside), html(outside)) == set()
    v4 = Packet(as_format(outside.content, "rpm-logger audit packet v4"))
    assert "enrolment" in _cut_words(pdf(v4), html(v4))  # what the auditor saw, kept in v4


def test_a_month_with_time_and_no_live_interaction_says_why_it_supports_no_code(
        svc: Service) -> None:
    """Outside auditor's retry of issue 26: a month of call attempts only printed "Warnings:
    none" and "May be billed: no: the month supports no code", never why (format v5)."""
    from billing.months import Month
    from tests.service.helpers import log, seed

    seed(svc)
    log(svc, "25m", "attempt", started_at=datetime(2026, 10, 14, 15, tzinfo=UTC))
    packet = svc.audit_packets.packet("P-1042", Month(2026, 10))
    why = "no live interaction in the month: its 25 min support no code without one"
    assert packet.content["month"]["no_code_because"] == why
    assert squeezed(f"no: the month supports no code ({why})") in squeezed(html(packet))
    v4 = Packet(as_format(packet.content, "rpm-logger audit packet v4"))
    assert "no_code_because" not in v4.content["month"] and why not in html(v4)
