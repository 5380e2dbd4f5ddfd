"""Backup archives read and written by hand, as docs/deploy.md describes the format (not
through the product's reader): a gzip'd UTF-8 file of JSON lines, a header line, one line a
row (`[table, [values in the header's column order]]`), and a trailing line with the
SHA-256 (hex) of every byte before it. Editing helpers rewrite the trailer, as a forger
would."""

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

Rows = dict[str, list[list[Any]]]


def read_archive(path: Path) -> tuple[dict[str, Any], Rows, dict[str, Any]]:
    lines = gzip.decompress(path.read_bytes()).split(b"\n")
    assert lines[-1] == b"", "the archive ends with a newline"
    header, *body, trailer = (json.loads(line) for line in lines[:-1])
    content = b"".join(line + b"\n" for line in lines[:-2])
    assert trailer == {"sha256": hashlib.sha256(content).hexdigest()}
    rows: Rows = {t["name"]: [] for t in header["tables"]}
    for table, values in body:
        rows[table].append(values)
    return header, rows, trailer


def write_archive(path: Path, header: dict[str, Any], rows: Rows) -> None:
    """An archive of `header` and `rows` whose SHA-256 is right (a forged or older one)."""
    content = [json.dumps(header, ensure_ascii=False)]
    for table in header["tables"]:
        content += [json.dumps([table["name"], values], ensure_ascii=False)
                    for values in rows.get(table["name"], [])]
    data = "".join(line + "\n" for line in content).encode()
    trailer = json.dumps({"sha256": hashlib.sha256(data).hexdigest()}) + "\n"
    path.write_bytes(gzip.compress(data + trailer.encode()))


def column(header: dict[str, Any], table: str, name: str) -> int:
    """The position of `name` in `table`'s rows."""
    found = next(t for t in header["tables"] if t["name"] == table)
    return [c[0] for c in found["columns"]].index(name)


def without_tables(header: dict[str, Any], rows: Rows,
                   *names: str) -> tuple[dict[str, Any], Rows]:
    """The archive as a schema without the tables `names` would have written it."""
    tables = [t for t in header["tables"] if t["name"] not in names]
    return dict(header, tables=tables), {n: r for n, r in rows.items() if n not in names}


def without_column(header: dict[str, Any], rows: Rows, table: str,
                   name: str) -> tuple[dict[str, Any], Rows]:
    """The archive as a schema without `table.name` would have written it."""
    at = column(header, table, name)
    tables = [dict(t, columns=[c for c in t["columns"] if c[0] != name])
              if t["name"] == table else t for t in header["tables"]]
    edited = {n: [v[:at] + v[at + 1:] for v in r] if n == table else r
              for n, r in rows.items()}
    return dict(header, tables=tables), edited
