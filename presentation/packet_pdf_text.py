"""The PDF layout of formats v2 and v3: A4 landscape, each pair one line and each table row
one run of text ("#: 1; Who: ...; Start: ..."), the layout an outside auditor called a wall
of text (issue 26 #15; v4 prints tables, presentation/packet_pdf.py).

Kept exactly as it printed: `--verify` renders a file's own content again and compares the
bytes, so a packet printed in v2 or v3 verifies only while this prints what it printed
(tests/audit/printed_v3 and tests/episodes/printed_before hold such files). Do not change
it; a new layout is a new format.
"""

from fpdf import FPDF

from presentation.packet import HOW_TO_VERIFY, Section, sections, title
from presentation.packet_document import FONT, document, finished, printable
from service.audit_packets import Packet


def text(packet: Packet) -> bytes:
    content = packet.content
    doc = document(packet, "landscape")
    doc.set_font(FONT, size=14)
    doc.multi_cell(0, 7, printable(f"Audit packet: {title(content)}"), new_x="LMARGIN",
                   new_y="NEXT")
    doc.set_font("Courier", size=9)
    doc.multi_cell(0, 5, f"SHA-256 {packet.digest}", new_x="LMARGIN", new_y="NEXT")
    for section in sections(content):
        _section(doc, section)
    doc.set_font(FONT, size=8)
    doc.multi_cell(0, 4, printable(HOW_TO_VERIFY), new_x="LMARGIN", new_y="NEXT")
    return finished(doc, packet)


def _section(doc: FPDF, section: Section) -> None:
    doc.ln(2)
    doc.set_font(FONT, size=11)
    doc.multi_cell(0, 6, printable(section.title), new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, size=8)
    for label, value in section.pairs:
        doc.multi_cell(0, 4, printable(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    table = section.table
    if table is None:
        return
    if not table.rows:
        doc.multi_cell(0, 4, printable(table.empty), new_x="LMARGIN", new_y="NEXT")
        return
    for row in table.rows:  # one block per record
        line = "; ".join(f"{head}: {cell}" for head, cell in zip(table.headers, row,
                                                                  strict=True))
        doc.multi_cell(0, 4, printable(line), new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)
