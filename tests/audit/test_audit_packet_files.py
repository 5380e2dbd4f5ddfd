"""`rpm-logger audit packet`: HTML and PDF files (the PDF read back with pypdf), --all, and
--verify's exits: 0 intact and current, 3 edited, 4 records changed (saying what); what --out
refuses to replace and the crafted files --verify refuses (issue 27, items 4 and 5)."""

import hashlib
import io
import json
import os
import re
import stat
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.audit.conftest import STAFF, cli_env
from tests.audit.packet_reading import pdf_lines, squeezed
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.snapshots import seeded_by_cli

MONTH = "2026-10"


@pytest.fixture
def cli(db_url: str, clock: FrozenClock) -> Cli:
    cli = Cli(cli_env(db_url), clock=clock)
    seeded_by_cli(
        cli, *STAFF,
        ("patient", "add", "P-1042", "--initials", "JD", "--phone", "(617) 555-0123",
         "--consent", "2026-09-01", "--condition", "I10", "--provider", "U02DOC",
         "--enrolled", "2026-09-01", "--ordered-by", "U02DOC", "--order-date", "2026-09-01"),
        ("patient", "add", "P-2000", "--initials", "AB", "--consent", "2026-09-01",
         "--provider", "U02DOC", "--enrolled", "2026-09-01"),
        ("log", "P-1042", "15m", "review", "Reviewed BP log, 3 highs", "--staff", "U01NURSE",
         "--at", "2026-10-02T10:00"),
        ("log", "P-1042", "7m", "call", "Discussed readings, dose kept", "--staff",
         "U01NURSE", "--at", "2026-10-06T11:00"),
        ("log", "P-2000", "5m", "review", "Short look at the log", "--staff", "U01NURSE",
         "--at", "2026-10-03T10:00"))
    return cli


def _embedded(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="packet-data">(.*?)</script>',
                      html, re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def _digest(content: object) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def test_html_embeds_its_content_and_prints_its_digest(cli: Cli) -> None:
    html = cli("audit", "packet", "P-1042", "--month", MONTH).stdout
    content = _embedded(html)
    digest = _digest(content)
    assert f'<span id="packet-digest">{digest}</span>' in html
    assert content["patient"]["patient_id"] == "P-1042"  # type: ignore[index]
    assert "Reviewed BP log, 3 highs" in html and "Dee Doctor" in html
    assert "99457" in html and "2026-10-06" in html  # the code and its date of service
    assert "555" not in re.sub(r"[0-9a-f]{64}", "", html)  # no phone digits, hashes aside


def test_pdf_reads_back_with_digest_clinic_id_and_its_json(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "packet.pdf"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--format", "pdf", "--out", str(out))
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    words = "".join(page.extract_text() for page in reader.pages)
    content = json.loads(reader.attachments["packet.json"][0])
    digest = _digest(content)
    assert digest in words.replace("\n", "") and "P-1042" in words
    assert reader.metadata is not None and reader.metadata["/Subject"] == f"SHA-256 {digest}"
    assert content["month"]["codes_text"] == "99457"
    html_content = _embedded(cli("audit", "packet", "P-1042", "--month", MONTH).stdout)
    assert {k: v for k, v in content.items() if k != "printed"} == {
        k: v for k, v in html_content.items() if k != "printed"}  # one content, two formats


def test_a_pdf_needs_out_and_a_packet_needs_a_month(cli: Cli) -> None:
    assert "needs --out" in cli("audit", "packet", "P-1042", "--month", MONTH, "--format",
                                "pdf", code=2).stderr
    assert "--month" in cli("audit", "packet", "P-1042", code=2).stderr
    assert "Did you mean P-1042" in cli("audit", "packet", "P-1024", "--month", MONTH,
                                        code=2).stderr


def test_an_out_path_that_cannot_be_written_is_one_line_not_a_traceback(
        cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "p.pdf"
    result = cli("audit", "packet", "P-1042", "--month", MONTH, "--format", "pdf", "--out",
                 str(missing), code=2)
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert not missing.parent.exists()
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    result = cli("audit", "packet", "--month", MONTH, "--all", "--out", str(blocker / "d"),
                 code=2)
    assert "cannot create" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_verify_exits_0_when_intact_and_current(cli: Cli, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"p.{fmt}"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--format", fmt, "--out", str(out))
    said = cli("audit", "packet", "--verify", str(out)).stdout
    assert "intact" in said and "P-1042 2026-10" in said
    cli("audit", "packet", "p-1042", "--month", MONTH, "--verify", str(out))


@pytest.mark.parametrize(("edit", "why"), [
    (lambda t: t.replace("Reviewed BP log, 3 highs", "Reviewed BP log, 4 highs"), "digest"),
    (lambda t: t.replace("<dd>Dee Doctor", "<dd>Doc Holliday"), "printed text was edited"),
    (lambda t: t.replace("<td>900 s (15 min)</td>", "<td>1200 s (20 min)</td>", 1),
     "printed text was edited"),
])
def test_verify_exits_3_when_an_html_packet_was_edited(cli: Cli, tmp_path: Path, edit: object,
                                                       why: str) -> None:
    out = tmp_path / "p.html"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--out", str(out))
    original = out.read_text()
    edited = edit(original)  # type: ignore[operator]
    assert edited != original
    out.write_text(edited)
    assert why in cli("audit", "packet", "--verify", str(out), code=3).stderr


def test_verify_exits_3_when_a_pdf_packet_was_edited(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "p.pdf"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--format", "pdf", "--out", str(out))
    data = out.read_bytes()
    assert b"/Creator" in data
    out.write_bytes(data.replace(b"(rpm-logger)", b"(rpm-logged)", 1))  # one printed byte
    cli("audit", "packet", "--verify", str(out), code=3)


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_verify_exits_4_saying_what_changed_in_the_records(cli: Cli, tmp_path: Path,
                                                           fmt: str) -> None:
    out = tmp_path / f"p.{fmt}"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--format", fmt, "--out", str(out))
    entry = cli("log", "P-1042", "6m", "review", "Late chart review", "--staff", "U01NURSE",
                "--at", "2026-10-20T10:00").stdout.strip()
    said = cli("audit", "packet", "--verify", str(out), code=4).stderr
    assert f"entries[{entry}]: added since printing" in said
    assert "month.counted_seconds: printed 1320, now 1680" in said
    cli("void", entry, "--reason", "not for this month", "--staff", "U01NURSE")
    said = cli("audit", "packet", "--verify", str(out), code=4).stderr
    assert f"voided[{entry}]: added since printing" in said


def test_verify_refuses_a_mismatched_patient_or_month_and_a_stranger_file(
        cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--out", str(out))
    assert "not P-2000" in cli("audit", "packet", "P-2000", "--verify", str(out),
                               code=2).stderr
    assert "not 2026-11" in cli("audit", "packet", "--month", "2026-11", "--verify",
                                str(out), code=2).stderr
    stranger = tmp_path / "s.html"
    stranger.write_text("<html><body>hello</body></html>")
    assert "no embedded packet content" in cli("audit", "packet", "--verify", str(stranger),
                                               code=2).stderr


def test_all_writes_one_packet_per_billable_patient(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "packets"
    listed = cli("audit", "packet", "--month", MONTH, "--all", "--out", str(folder),
                 "--format", "pdf").stdout
    assert [p.name for p in folder.iterdir()] == ["packet-P-1042-2026-10.pdf"]  # P-2000: 5 min
    assert "packet-P-1042-2026-10.pdf" in listed
    cli("audit", "packet", "--verify", str(folder / "packet-P-1042-2026-10.pdf"))
    assert "--out DIR" in cli("audit", "packet", "--month", MONTH, "--all", code=2).stderr


@pytest.mark.parametrize(("damage", "code", "said"), [
    (lambda data: data[: len(data) // 2], 2, "the PDF cannot be read"),  # pypdf: EOF marker
    (lambda data: data[:300] + b"\0" * 400 + data[700:], 3, "was edited"),  # wrong pointer
])
def test_verify_of_a_damaged_pdf_says_only_our_error(cli: Cli, tmp_path: Path, damage: object,
                                                     code: int, said: str) -> None:
    """pypdf logs what it repairs ('EOF marker not found', 'Ignoring wrong pointing object'):
    the user sees one line, ours (outside auditor review)."""
    out = tmp_path / "p.pdf"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--format", "pdf", "--out", str(out))
    out.write_bytes(damage(out.read_bytes()))  # type: ignore[operator]
    stderr = cli("audit", "packet", "--verify", str(out), code=code).stderr
    assert said in stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr


@pytest.mark.parametrize(("initials", "printed"), [
    ("ŁŻ", "ŁŻ"),  # in the shipped font: as written (the core font printed "??")
    ("李", "[U+674E]"),  # no glyph in DejaVu Sans: its code point, never "?"
])
def test_pdf_prints_non_latin_initials(staffed_cli: Cli, tmp_path: Path, initials: str,
                                       printed: str) -> None:
    staffed_cli("patient", "add", "P-7", "--initials", initials)
    staffed_cli("log", "P-7", "5m", "review", "Przegląd – ciśnienie OK", "--staff",
                "U01NURSE", "--at", "2026-10-02T10:00")
    out = tmp_path / "p.pdf"
    staffed_cli("audit", "packet", "P-7", "--month", MONTH, "--format", "pdf", "--out",
                str(out))
    text = "".join(page.extract_text() for page in PdfReader(out).pages)
    lines = [line.text for line in pdf_lines(out.read_bytes())]
    assert lines[lines.index("Initials") + 1] == printed  # the value beside the label
    assert f"P-7 ({printed})" in text
    assert squeezed("Przegląd – ciśnienie OK") in squeezed(text)  # wrapped in its column
    assert "?" not in text
    staffed_cli("audit", "packet", "--verify", str(out))  # still renders byte for byte


def test_the_font_ships_inside_the_package() -> None:
    """Nothing may depend on a system font: the TTF and its license are package data."""
    import tomllib

    from presentation import packet

    folder = Path(packet.__file__).with_name("fonts")
    assert (folder / "DejaVuSans.ttf").stat().st_size > 100_000
    assert "Bitstream" in (folder / "LICENSE-DejaVu").read_text()
    pyproject = tomllib.loads((Path(packet.__file__).parents[1] / "pyproject.toml").read_text())
    assert "fonts/*.ttf" in pyproject["tool"]["setuptools"]["package-data"]["presentation"]


def test_a_packet_of_another_format_version_is_named_not_called_edited(
        cli: Cli, tmp_path: Path) -> None:
    """A v1 packet (before names and the Unicode font) is not 'edited': it is refused as
    another version's (exit 2), saying which."""
    out = tmp_path / "p.html"
    cli("audit", "packet", "P-1042", "--month", MONTH, "--out", str(out))
    html = out.read_text()
    old = _embedded(html) | {"format": "rpm-logger audit packet v1"}
    text = json.dumps(old, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    html = re.sub(r'(id="packet-data">)(.*?)(</script>)', lambda m: m.group(1) + text
                  + m.group(3), html, flags=re.S)
    out.write_text(re.sub(r'content="[0-9a-f]{64}"', f'content="{_digest(old)}"', html))
    said = cli("audit", "packet", "--verify", str(out), code=2).stderr
    assert "printed as 'rpm-logger audit packet v1'" in said


# -- --out never overwrites what it must not (issue 27, item 4) ---------------------------

# The file system is the point of these tests, not the database: SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _packet_to(cli: Cli, out: Path, *extra: str, code: int = 0) -> str:
    """`audit packet P-1042 --month MONTH --out OUT EXTRA`: its stderr."""
    return cli("audit", "packet", "P-1042", "--month", MONTH, "--out", str(out), *extra,
               code=code).stderr


@SQLITE_ONLY
@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_out_refuses_an_existing_file_and_leaves_it_as_it_was(cli: Cli, tmp_path: Path,
                                                               fmt: str) -> None:
    out = tmp_path / f"p.{fmt}"
    out.write_bytes(b"the clinic's own notes")
    said = _packet_to(cli, out, "--format", fmt, code=2)
    assert "already exists" in said and "--force" in said
    assert said.count("\n") == 1 and said.startswith("error: "), said
    assert out.read_bytes() == b"the clinic's own notes"


@SQLITE_ONLY
@pytest.mark.parametrize("force", [(), ("--force",)], ids=["plain", "force"])
@pytest.mark.parametrize("target_exists", [True, False], ids=["to a file", "dangling"])
def test_out_never_writes_through_a_symlink_even_with_force(
        cli: Cli, tmp_path: Path, force: tuple[str, ...], target_exists: bool) -> None:
    """A planted link would make the packet overwrite (or create) its target: the link is
    refused, with or without --force, and neither it nor its target changes."""
    target = tmp_path / "elsewhere" / "precious.txt"
    target.parent.mkdir()
    if target_exists:
        target.write_text("precious")
    link = tmp_path / "p.html"
    link.symlink_to(target)
    said = _packet_to(cli, link, *force, code=2)
    assert "symbolic link" in said and "Traceback" not in said
    assert link.is_symlink() and link.readlink() == target
    if target_exists:
        assert target.read_text() == "precious"
    else:
        assert not target.exists()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("force", [(), ("--force",)], ids=["plain", "force"])
def test_out_refuses_the_live_sqlite_database(cli: Cli, db_url: str, tmp_path: Path,
                                              force: tuple[str, ...]) -> None:
    """`--out data/rpm-logger.db` replaced the running server's database; --force does not
    allow it either."""
    database = Path(db_url.removeprefix("sqlite:///"))
    before = database.read_bytes()
    said = _packet_to(cli, database, *force, code=2)
    assert "is the database rpm-logger uses" in said
    assert database.read_bytes() == before
    assert "P-1042" in cli("audit", "packet", "P-1042", "--month", MONTH).stdout  # still works


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_out_never_creates_a_database_file_that_is_not_there(cli: Cli, db_url: str) -> None:
    """Outside attacker: with no -wal at that moment, `--out rpm.db-wal --force` wrote one."""
    database = Path(db_url.removeprefix("sqlite:///"))
    for name in (f"{database.name}-wal", f"{database.name}-journal"):
        planted = database.parent / ".." / database.parent.name / name
        assert not planted.exists()
        said = _packet_to(cli, planted, "--force", code=2)
        assert "is the database rpm-logger uses" in said and not planted.exists()


@SQLITE_ONLY
@pytest.mark.parametrize("force", [(), ("--force",)], ids=["plain", "force"])
def test_all_refuses_a_planted_symlink_named_like_a_packet(cli: Cli, tmp_path: Path,
                                                           force: tuple[str, ...]) -> None:
    folder = tmp_path / "packets"
    folder.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    (folder / "packet-P-1042-2026-10.html").symlink_to(target)
    said = cli("audit", "packet", "--month", MONTH, "--all", "--out", str(folder), *force,
               code=2).stderr
    assert "symbolic link" in said and "nothing written" in said
    assert target.read_text() == "precious"
    assert [p.name for p in folder.iterdir()] == ["packet-P-1042-2026-10.html"]
    assert (folder / "packet-P-1042-2026-10.html").is_symlink()


@SQLITE_ONLY
def test_all_refuses_an_existing_packet_without_force(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "packets"
    folder.mkdir()
    old = folder / "packet-P-1042-2026-10.html"
    old.write_text("printed last week")
    said = cli("audit", "packet", "--month", MONTH, "--all", "--out", str(folder),
               code=2).stderr
    assert "already exists" in said and "nothing written" in said
    assert old.read_text() == "printed last week"


@SQLITE_ONLY
def test_force_replaces_a_regular_file_with_the_packet(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    out.write_text("an older printing")
    _packet_to(cli, out, "--force")
    assert "intact" in cli("audit", "packet", "--verify", str(out)).stdout
    folder = tmp_path / "packets"
    folder.mkdir()
    (folder / "packet-P-1042-2026-10.html").write_text("an older printing")
    cli("audit", "packet", "--month", MONTH, "--all", "--out", str(folder), "--force")
    cli("audit", "packet", "--verify", str(folder / "packet-P-1042-2026-10.html"))
    assert sorted(p.name for p in folder.iterdir()) == ["packet-P-1042-2026-10.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.html", "packets", "rpm.db"]


@SQLITE_ONLY
def test_force_needs_out(cli: Cli) -> None:
    said = cli("audit", "packet", "P-1042", "--month", MONTH, "--force", code=2).stderr
    assert "--force" in said and "--out" in said


# -- --verify on crafted files (issue 27, item 5) -------------------------------------------

DATA_TAG = '<script type="application/json" id="packet-data">'
DIGEST_META = '<meta name="packet-sha256" content="' + "0" * 64 + '">'


@pytest.fixture
def bare_cli(db_url: str, clock: FrozenClock) -> Cli:
    """`rpm-logger` on an empty database: a crafted file is refused before any is read."""
    return Cli(cli_env(db_url), clock=clock)


def _refused(cli: Cli, path: Path) -> str:
    """`--verify PATH`: exit 2 with one line, no traceback; that line."""
    stderr = cli("audit", "packet", "--verify", str(path), code=2).stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr
    return stderr


@SQLITE_ONLY
@pytest.mark.timeout(20)
def test_verify_reads_200000_unclosed_data_tags_in_one_pass(db_url: str,
                                                           tmp_path: Path) -> None:
    """10 MB of unclosed `<script id="packet-data">` tags: the regex `(.*?)</script>` scanned
    to the end from each of them (hours of CPU); now one pass, refused. The console script,
    not the in-process CLI: a regular expression in C holds the interpreter until it ends,
    so only a separate process lets the timeout fail this test instead of hanging it."""
    crafted = tmp_path / "crafted.html"
    crafted.write_text("<!doctype html>" + DIGEST_META + DATA_TAG * 200_000)
    assert crafted.stat().st_size > 9_000_000
    assert "no embedded packet content" in _refused(Cli(cli_env(db_url), process=True),
                                                    crafted)


@SQLITE_ONLY
def test_verify_refuses_a_file_over_the_size_limit_saying_the_limit(bare_cli: Cli,
                                                                    tmp_path: Path) -> None:
    from presentation.packet import MAX_PACKET_BYTES

    big = tmp_path / "big.html"
    with big.open("wb") as file:  # sparse: the limit, plus one byte
        file.write(("<!doctype html>" + DIGEST_META + DATA_TAG + "{}</script>").encode())
        file.truncate(MAX_PACKET_BYTES + 1)
    said = _refused(bare_cli, big)
    assert f"larger than {MAX_PACKET_BYTES // 2**20} MiB" in said and "MAX_PACKET_BYTES" in said


@SQLITE_ONLY
@pytest.mark.parametrize("depth", [33, 100_000], ids=["past the limit", "past recursion"])
def test_verify_refuses_deeply_nested_json_without_a_traceback(bare_cli: Cli, tmp_path: Path,
                                                               depth: int) -> None:
    """100,000 nested arrays were a RecursionError traceback (exit 1); a content that loads
    but nests deeper than any packet is refused the same way."""
    from presentation.packet import MAX_CONTENT_DEPTH

    assert depth > MAX_CONTENT_DEPTH
    nested = '{"format":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    crafted = tmp_path / "nested.html"
    crafted.write_text("<!doctype html>" + DIGEST_META + DATA_TAG + nested + "</script>")
    said = _refused(bare_cli, crafted)
    assert f"nests deeper than {MAX_CONTENT_DEPTH} levels" in said


@SQLITE_ONLY
def test_verify_refuses_content_with_a_right_digest_but_no_packet_in_it(
        bare_cli: Cli, tmp_path: Path) -> None:
    """The digest is no secret: content of the current format that lacks a packet's parts,
    with its digest computed, crashed the re-render (KeyError traceback, exit 1)."""
    from presentation.packet import FORMATS, Packet

    content = {"format": FORMATS[-1]}
    digest = Packet(content).digest
    crafted = tmp_path / "crafted.html"
    crafted.write_text('<!doctype html><meta name="packet-sha256" content="' + digest + '">'
                       + DATA_TAG + json.dumps(content) + "</script>")
    said = _refused(bare_cli, crafted)
    assert "lacks or mistypes a part every packet has" in said
    assert "not printed by rpm-logger" in said


@SQLITE_ONLY
def test_packets_are_readable_by_their_owner_only(cli: Cli, tmp_path: Path) -> None:
    """A packet names a patient and their month: not world-readable whatever the umask."""
    old_umask = os.umask(0)
    try:
        _packet_to(cli, tmp_path / "p.pdf", "--format", "pdf")
        _packet_to(cli, tmp_path / "forced.html")
        _packet_to(cli, tmp_path / "forced.html", "--force")
        folder = tmp_path / "packets"
        folder.mkdir()
        cli("audit", "packet", "--month", MONTH, "--all", "--out", str(folder))
    finally:
        os.umask(old_umask)
    written = [tmp_path / "p.pdf", tmp_path / "forced.html", *folder.iterdir()]
    assert len(written) == 3
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o600}
