"""What every PDF packet shares, whatever its layout (presentation/packet_pdf.py picks the
layout by the content's format): the shipped font, text as that font can draw it, the
document's metadata and the content attached as `packet.json`.

The document's dates are the printing time, so the same content gives the same bytes, which
is how `--verify` checks a file. A change here changes the bytes of every layout: the
packets printed before (tests/audit/printed_v3, tests/episodes/printed_before) must still
verify after it.
"""

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpdf import FPDF

from presentation.packet import ATTACHMENT, title
from service.audit_packets import Packet

FONT = "DejaVuSans"
_FONT_FILE = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"  # shipped: presentation/fonts


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    """The code points the shipped font draws (read once from its cmap)."""
    from fontTools.ttLib import TTFont

    with TTFont(str(_FONT_FILE), lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> str:
    """Text as the PDF's font can draw it: every character it has a glyph for as is (Latin,
    Greek, Cyrillic: 'Ł.Ż.'), any other as its code point, '[U+674E]', never a '?' (the
    embedded JSON and the HTML keep every character exactly)."""
    glyphs = _glyphs()
    return "".join(c if ord(c) in glyphs or c in "\n\t" else f"[U+{ord(c):04X}]"
                   for c in text)


def _printed_at(content: dict[str, Any]) -> datetime:
    at = (content.get("printed") or {}).get("at_utc")
    return datetime.fromisoformat(at) if at else datetime(2000, 1, 1).astimezone()


def document(packet: Packet, orientation: str) -> FPDF:
    """An A4 document with the packet's metadata, the font added and its first page."""
    doc = FPDF(orientation=orientation, format="A4")
    doc.add_font(FONT, fname=str(_FONT_FILE))
    doc.set_creation_date(_printed_at(packet.content))
    doc.set_title(f"Audit packet {title(packet.content)}")
    doc.set_subject(f"SHA-256 {packet.digest}")
    doc.set_creator("rpm-logger")
    doc.set_auto_page_break(True, margin=12)
    doc.add_page()
    return doc


def finished(doc: FPDF, packet: Packet) -> bytes:
    """The document's bytes, with the packet's content attached."""
    at = _printed_at(packet.content)
    doc.embed_file(bytes=packet.canonical.encode(), basename=ATTACHMENT,
                   desc="the packet's content, canonical JSON", modification_date=at,
                   creation_date=at, mime_type="application/json")
    return bytes(doc.output())
