"""Import files read, pure: a CSV's bytes into rows of fields, each with its line number and
what is wrong with it. The use case that saves them is service/imports.py.

The columns are the options of `patient add/update` and `staff add/update`, named as the
options are (`--order-date` is `order_date`); the first line is the header, in any order and
case. An empty cell leaves its field as it is. List cells (phones, conditions, Twilio
numbers) hold several values separated by `;`. Dates are YYYY-MM-DD (billing.months.
parse_day, as the CLI reads them); phones go through the service's own reader
(service/phones.py), so a number refused here is refused there, and the refusal names the
cell, never the number.

A readings file (`import readings`, issue 28) is a vendor's export read by `reading_rows`:
the named columns of READING_COLUMNS, every other column a named value (a number, or empty);
each row's fields are then checked by the webhook's own reading check
(service.devices.reading_from), and the file refused at its first bad line.

What is refused for the whole file, before any row is read: more than MAX_FILE_BYTES, bytes
that are not UTF-8 (a UTF-8 byte-order mark, as Excel's "CSV UTF-8" writes, is dropped), a
NUL character, a missing or unknown key column, an unknown, unnamed or repeated column.
Per row: a cell over MAX_CELL_CHARS, a row with more or fewer cells than the header, a
missing or repeated key, a bad date, phone or yes/no, a phone given twice.
"""

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from billing.errors import InvalidInput
from billing.months import parse_day
from service.errors import BadInput
from service.lookups import clean_slack_user_id, patient_key
from service.patients import PatientFields
from service.phones import BadPhone, mask_phone, valid_phone
from service.staff import StaffChanges

__all__ = ["MAX_CELL_CHARS", "MAX_FILE_BYTES", "PATIENT_COLUMNS", "READING_COLUMNS",
           "STAFF_COLUMNS", "ImportRefused", "Line", "ParsedFile", "Problem", "patient_fields",
           "phone_book", "read", "reading_rows", "staff_row", "template"]

MAX_FILE_BYTES = 16 * 1024 * 1024  # ~100,000 patients' rows; a bigger file is split
MAX_CELL_CHARS = 1_000  # the longest cell a person fills in (a list of phones) is ~100
LIST_SEPARATOR = ";"

# (column, example) in the template's order; the first is the key
PATIENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient_id", "P-1042"), ("initials", "JD"),
    ("phones", "(202) 555-0101;(202) 555-0102"), ("caregiver_phones", "(202) 555-0103"),
    ("assign", "U01NURSE"), ("consent", "2026-10-01"), ("conditions", "I10;E11.9"),
    ("provider", "U02DOC"), ("enrolled", "2026-10-01"), ("ended", ""),
    ("ordered_by", "U02DOC"), ("order_date", "2026-09-15"), ("last_visit", "2026-09-01"),
)
STAFF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("slack_user_id", "U01NURSE"), ("name", "Nina Nurse"), ("role", "clinical_staff"),
    ("phones", "(202) 555-0111"), ("npi", ""), ("admin", "no"), ("twilio_numbers", ""),
    ("twilio_client", ""), ("email", "nina@clinic.example"),
)
# a readings file: its named columns (a reading's fields), then any number of value columns,
# each a number or empty (the template shows a blood pressure's two)
READING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reading_id", "vendor-123"), ("device_serial", "BP-0042"), ("patient_id", "P-1042"),
    ("measured_at", "2026-11-03T07:12:00-05:00"), ("kind", "blood_pressure"),
    ("systolic", "128"), ("diastolic", "82"),
)
READING_FIELDS = ("reading_id", "device_serial", "patient_id", "measured_at", "kind")
_VALUE_COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_COLUMNS = {"patients": PATIENT_COLUMNS, "staff": STAFF_COLUMNS}
_TEMPLATES = {**_COLUMNS, "readings": READING_COLUMNS}
_COLUMN_NAME = re.compile(r"[a-z][a-z_]{0,39}")  # what may be echoed of an unknown column
# columns people may expect that a file never sets, and what to do instead
_NOT_IMPORTED = {
    "voice_pin": "voice PINs never go in a file: `rpm-logger staff update SLACK_USER_ID "
                 "--voice-pin -` reads one from standard input",
    "active": "(de)activation is not imported: `rpm-logger staff update SLACK_USER_ID "
              "--inactive|--active`",
    "remove_phone": "numbers are removed with `--replace-lists` (patients) or "
                    "`rpm-logger patient|staff update ID --remove-phone NUMBER`",
}
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class Problem:
    """What is wrong with a line of the file (line 0: the file itself)."""

    line: int
    key: str | None
    reason: str


class ImportRefused(BadInput):
    """A file with bad rows (or a bad header): every problem found, nothing changed."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        rows = len({p.line for p in problems})
        super().__init__(f"{file}: {rows} bad {'line' if rows == 1 else 'lines'}, nothing "
                         "changed")
        self.file = file
        self.problems = tuple(sorted(problems, key=lambda p: p.line))


@dataclass
class Line:
    """One row of the file: where it starts, its key as typed, its non-empty cells."""

    number: int
    key: str
    cells: dict[str, str]
    problems: list[str] = field(default_factory=list)
    # its cells or its key cannot be read as a row of its own (cells missing or extra, no
    # key, a bad or repeated key): nothing more is checked; a line with only bad cells is
    # still checked by the service without them, so that it lists every reason it has
    unreadable: bool = False

    def problem(self, reason: str, *, unreadable: bool = False) -> None:
        self.problems.append(reason)
        self.unreadable = self.unreadable or unreadable


@dataclass(frozen=True)
class ParsedFile:
    name: str
    sha256: str
    lines: tuple[Line, ...]

    def problems(self) -> list[Problem]:
        return [Problem(line.number, line.key or None, reason)
                for line in self.lines for reason in line.problems]


def template(kind: str) -> dict[str, str]:
    """The columns of a `kind` (patients | staff | readings) file, each with its example
    cell, in order (presentation/render.py writes them as CSV: the product's one CSV
    writer)."""
    return dict(_TEMPLATES[kind])


def reading_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Each row of a readings file's text (header first) as where it is ("line 3, ") and
    its reading fields, for service.devices.reading_from to check; BadInput names the first
    bad line (and column) and never repeats a cell."""
    rows = _cells(text)
    header = [cell.strip() for cell in next(rows, (1, []))[1]]
    if "measured_at" not in header:
        raise BadInput("line 1: a header row with measured_at, kind, device_serial or "
                       "patient_id, and one column per value (`rpm-logger import template "
                       "readings`)")
    # a column is named in a refusal when it reads as a value's name (never a cell's words)
    shown = [column if _VALUE_COLUMN.fullmatch(column) else f"column {number}"
             for number, column in enumerate(header, start=1)]
    for number, column in enumerate(header, start=1):
        if not column:
            raise BadInput(f"line 1: column {number} has no name")
        if header.index(column) != number - 1:
            raise BadInput(f"line 1: {shown[number - 1]} is named twice")
    found = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a spreadsheet's empty row
        if len(cells) > len(header):
            raise BadInput(f"line {line}: more cells than the header names")
        fields: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for column, name, cell in zip(header, shown, cells, strict=False):
            cell = cell.strip()
            if column in READING_FIELDS:
                fields[column] = cell or None
            elif cell:
                values[column] = _number(cell, f"line {line}, {name}")
        fields["values"] = values
        found.append((f"line {line}, ", fields))
    if not found:
        raise BadInput("the file holds no reading")
    return found


def _cells(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each record of a readings file; a record too malformed to read (a
    cell over the csv module's limit, broken quoting) is refused naming its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadInput(f"line {reader.line_num}: not readable as CSV ({exc})") from None
        yield reader.line_num, cells


def _number(cell: str, where: str) -> int | float:
    try:
        number = float(cell)
    except ValueError:
        raise BadInput(f"{where}: a number (each column but {', '.join(READING_FIELDS)} is "
                       "a value)") from None
    return int(number) if number.is_integer() else number


def _refuse(name: str, line: int, reason: str) -> ImportRefused:
    return ImportRefused(name, [Problem(line, None, reason)])


def _text(data: bytes, name: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(name, 0, f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MiB: "
                      "split it and import the parts one by one")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _refuse(name, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save "
                      "the file as \"CSV UTF-8\"") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise _refuse(name, line, "a NUL character: is it a UTF-16 file? Save it as "
                      "\"CSV UTF-8\"")
    if not text.strip():
        raise _refuse(name, 1, "the file is empty: its first line must be the header "
                      "(`rpm-logger import template patients|staff`)")
    return text


def _records(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each CSV record; a record too malformed to read ends the file
    with a refusal that names its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = (f"a cell is over {MAX_CELL_CHARS:,} characters, the most a cell may "
                      "hold" if "field larger" in str(exc) else f"not readable as CSV ({exc})")
            raise _refuse(name, start, f"{reason}; nothing after it was read") from None
        yield start, cells
        start = reader.line_num + 1


def _header(cells: list[str], kind: str, name: str) -> list[str]:
    """The columns of the first line. A first line without the key column is no header (a
    data row): refused as such, its cells never repeated (they may be phone numbers); an
    unknown column is named only when it reads as a column name."""
    known = [column for column, _ in _COLUMNS[kind]]
    header = [cell.strip().lower().replace("-", "_").replace(" ", "_") for cell in cells]
    if known[0] not in header:
        raise _refuse(name, 1, f"no header line (no {known[0]} column): the first line must "
                      f"be the header (`rpm-logger import template {kind}`); its cells are "
                      "not repeated here")
    problems = []
    for number, column in enumerate(header, start=1):
        if not column:
            problems.append(f"column {number} has no name")
        elif column in _NOT_IMPORTED:
            problems.append(f"column {column}: {_NOT_IMPORTED[column]}")
        elif column not in known:
            shown = repr(column) if _COLUMN_NAME.fullmatch(column) else f"{number}"
            problems.append(f"unknown column {shown}: the columns are {', '.join(known)}")
        elif header.index(column) != number - 1:
            problems.append(f"column {column} is named twice")
    if problems:
        raise ImportRefused(name, [Problem(1, None, p) for p in problems])
    return header


def read(data: bytes, *, name: str, kind: str) -> ParsedFile:
    """The rows of an import file of `kind` (patients | staff): refused whole when the file
    or its header is bad (ImportRefused); each row's own problems are on the row."""
    text = _text(data, name)
    records = _records(text, name)
    first = next(records, None)
    if first is None:
        raise _refuse(name, 1, "the file has no header")
    header = _header(first[1], kind, name)
    key_column = header.index(_COLUMNS[kind][0][0])
    lines: list[Line] = []
    for number, cells in records:
        values = [cell.strip() for cell in cells]
        if not any(values):
            continue  # a blank line, or a spreadsheet's empty row
        key = values[key_column] if key_column < len(values) else ""
        line = Line(number, key[:64], {})
        lines.append(line)
        if len(values) != len(header):
            line.problem(f"{len(values)} cells where the header names {len(header)}",
                         unreadable=True)
            continue
        for column, value in zip(header, values, strict=True):
            if len(value) > MAX_CELL_CHARS:
                line.problem(f"{column}: {len(value):,} characters, over the "
                             f"{MAX_CELL_CHARS:,} a cell may hold")
            elif value:
                line.cells[column] = value
        if not key:
            line.problem(f"no {header[key_column]}", unreadable=True)
    _check_keys(lines, kind)
    return ParsedFile(name, hashlib.sha256(data).hexdigest(), tuple(lines))


def _check_keys(lines: list[Line], kind: str) -> None:
    """Each key once in the file (as the service compares them: case-insensitive ids)."""
    seen: dict[str, int] = {}
    for line in lines:
        if not line.key or line.unreadable:
            continue
        try:
            key = patient_key(line.key) if kind == "patients" else clean_slack_user_id(line.key)
        except InvalidInput as exc:
            line.problem(str(exc), unreadable=True)
            continue
        if key in seen:
            line.problem(f"{line.key} is on line {seen[key]} too: one row per "
                         f"{'patient' if kind == 'patients' else 'staff member'}",
                         unreadable=True)
        else:
            seen[key] = line.number


def _day(line: Line, column: str) -> date | None:
    text = line.cells.get(column)
    if text is None:
        return None
    try:
        return parse_day(text)
    except InvalidInput as exc:
        line.problem(f"{column}: {exc}")
        return None


def _items(line: Line, column: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in line.cells.get(column, "").split(LIST_SEPARATOR)
                 if item.strip())


class _Phones:
    """The numbers of one file, to refuse one given twice (in a row or across rows) by its
    E.164 form, whatever way each was typed."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.seen: dict[str, int] = {}

    def read(self, line: Line, *columns: str) -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}
        for column in columns:
            typed = _items(line, column)
            numbers = []
            for place, text in enumerate(typed, start=1):
                which = f"number {place} of {len(typed)}" if len(typed) > 1 else "the number"
                try:
                    e164 = valid_phone(text, region=self.region)
                except BadPhone as exc:
                    line.problem(f"{column}: {which} is {exc.reason}")
                    continue
                other = self.seen.setdefault(e164, line.number)
                if other != line.number or e164 in numbers or any(
                        e164 in given for given in found.values()):
                    where = "this line" if other == line.number else f"line {other}"
                    line.problem(f"{column}: {mask_phone(e164)} is given twice (also on "
                                 f"{where})")
                    continue
                numbers.append(e164)
            found[column] = tuple(numbers)
        return found


def patient_fields(line: Line, phones: "_Phones", *, replace_lists: bool) -> PatientFields:
    """The row's fields as `patient add/update` takes them; problems go on the line."""
    numbers = phones.read(line, "phones", "caregiver_phones")
    cells = line.cells
    return PatientFields(
        initials=cells.get("initials"), phones=numbers["phones"],
        caregiver_phones=numbers["caregiver_phones"], assign=cells.get("assign"),
        consent_on=_day(line, "consent"), conditions=_items(line, "conditions"),
        provider=cells.get("provider"), enrolled_on=_day(line, "enrolled"),
        ended_on=_day(line, "ended"), ordered_by=cells.get("ordered_by"),
        order_on=_day(line, "order_date"), last_visit_on=_day(line, "last_visit"),
        replace_lists=replace_lists)


def staff_row(line: Line, phones: "_Phones") -> StaffChanges:
    """The row's fields as `staff add/update` takes them (a new member's name and role are
    StaffChanges' own); problems go on the line."""
    numbers = phones.read(line, "phones", "twilio_numbers")
    admin = None
    if "admin" in line.cells:
        flag = line.cells["admin"].lower()
        admin = True if flag in _YES else False if flag in _NO else None
        if admin is None:
            line.problem("admin: write yes or no")
    return StaffChanges(name=line.cells.get("name"), role=line.cells.get("role"),
                        npi=line.cells.get("npi"), is_admin=admin,
                        add_phones=numbers["phones"],
                        add_twilio_numbers=numbers["twilio_numbers"],
                        twilio_client=line.cells.get("twilio_client"),
                        email=line.cells.get("email"))


def phone_book(region: str) -> _Phones:
    """A file's phone numbers, seen so far (one per import)."""
    return _Phones(region)
