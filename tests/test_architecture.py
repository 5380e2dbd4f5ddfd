"""Dependencies point one way, and the layout shows it.

- `billing/`: the rules, pure: no I/O, no clock, no database, nothing of ours but billing.
- `store/`: every SQL statement; imports billing only of ours.
- `service/`: the one service layer; orders store calls and pure rules, holds no SQL.
- `presentation/` (text, CSV, Block Kit, packets) imports service and billing only;
  `configuration/` (settings, the Slack client factory, the body limit) imports billing only;
  `observability/` (metrics, request telemetry, log formats) imports nothing of ours.
- The adapters (bot: Slack, telephony: Twilio, reminders: the scheduler, web: the dashboard)
  import service, billing, presentation, configuration and observability, never the store
  and never one another: what one needs of another is a protocol it defines, implemented on
  the other side.
- `rpm_logger/` is the composition root (app, wiring, cli): it wires everything and nothing
  imports it.

Imports are read from the source, relative ones resolved, and `importlib.import_module` /
`__import__` with a constant name count as imports (any other argument is refused: it cannot
be checked). Each rule is also tried against a probe file planted in a copy of the tree
(`test_a_probe_breaks_the_rules`), so a rule that stopped seeing its violation fails here.
"""

import ast
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ADAPTERS = ("bot", "telephony", "reminders", "web")
ROOT_PACKAGE = "rpm_logger"
OURS = ("billing", "store", "service", "presentation", "configuration", "observability",
        ROOT_PACKAGE, *ADAPTERS)
PACKAGES = OURS  # every production package, as laid out in the repository

# of our packages, what each may import besides itself
ALLOWED: dict[str, set[str]] = {
    "billing": set(),
    "store": {"billing"},
    "service": {"billing", "store"},
    "presentation": {"billing", "service"},
    "configuration": {"billing"},
    "observability": set(),
    **{adapter: {"billing", "service", "presentation", "configuration", "observability"}
       for adapter in ADAPTERS},
    ROOT_PACKAGE: set(OURS),
}
# third-party and standard modules that mean I/O, forbidden in the rules
IO_MODULES = ("sqlmodel", "sqlalchemy", "slack_bolt", "slack_sdk", "twilio", "apscheduler",
              "fastapi", "starlette", "httpx", "requests", "aiohttp", "urllib", "os", "socket",
              "subprocess", "shutil", "pathlib", "io", "tempfile", "sqlite3", "psycopg",
              "logging", "time", "random", "secrets", "uuid", "importlib")
ORM = ("sqlalchemy", "sqlmodel", "sqlite3", "psycopg")
# calls that read the clock, touch files or run code the rules must not
IO_CALLS = {"open", "now", "today", "utcnow", "time", "monotonic", "perf_counter", "exec",
            "eval", "input", "print"}
RAW_SQL_CALLS = {"exec_driver_sql", "execute", "executescript", "executemany"}
# Python's digit tests and `\d` take any script's digits ('٣' read as 3; '²'.isdigit() while
# int('²') raises): input is read through billing/digits.py (only 0-9 are digits). Where the
# breadth is the point, PHI spotted in any script, the module-level name is listed with why.
UNICODE_DIGIT_CALLS = {"isdigit", "isdecimal", "isnumeric"}
BROAD_DIGITS: dict[str, dict[str, str]] = {
    "bot/grammar.py": {"_PHONE_LIKE": "refuses a phone number typed in any script (PHI)"},
    "store/logsafe.py": {name: "withholds numbers and bodies from logs, any script (PHI)"
                         for name in ("_digit_count", "_BOLT_BODIES", "_SDK_BODIES")},
    "service/lookups.py": {"phone_in": "a reference phonenumbers may read as a number: it "
                                       "folds full-width digits into E.164 itself"},
}
RAW_SQL = re.compile(r"\b(DELETE\s+FROM|INSERT\s+INTO|UPDATE\s+\"?\w+\"?\s+SET|SELECT\s+[\w*\",. ]+"
                     r"\s+FROM|DROP\s+TABLE|TRUNCATE\s+\w|ALTER\s+TABLE|PRAGMA\s+\w)")


@dataclass(frozen=True)
class Source:
    """One production module: its package, its dotted name and its syntax tree."""

    path: Path
    relative: str
    package: str
    module: str
    tree: ast.Module

    @classmethod
    def read(cls, root: Path, path: Path) -> "Source":
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        return cls(path, path.relative_to(root).as_posix(), parts[0], module,
                   ast.parse(path.read_text(), str(path)))

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def sources(root: Path) -> Iterator[Source]:
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.relative_to(root).parts:
                yield Source.read(root, path)


def imports(source: Source) -> Iterator[tuple[str, int]]:
    """Every module the source imports (anywhere: functions, TYPE_CHECKING blocks too), with
    its line; `from pkg import mod` counts as `pkg` and `pkg.mod`, relative imports are
    resolved against the module's package, constant dynamic imports count too."""
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(source, node.module, node.level)
            if base:
                yield base, node.lineno
            for alias in node.names:
                yield (f"{base}.{alias.name}" if base else alias.name), node.lineno
        elif isinstance(node, ast.Call) and _called(node) in {"import_module", "__import__"}:
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                yield _absolute(source, argument.value.lstrip("."),
                                len(argument.value) - len(argument.value.lstrip("."))), \
                    node.lineno
            else:
                yield "<a name computed at run time>", node.lineno


def _absolute(source: Source, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    package = source.module.split(".")
    if not source.is_package:
        package = package[:-1]
    base = package[:len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([module] if module else [])])


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _runs_sql(node: ast.Call) -> bool:
    """A call that executes a statement, or sqlalchemy's `text("…")` over a literal."""
    literal = bool(node.args) and isinstance(node.args[0], ast.Constant) \
        and isinstance(node.args[0].value, str)
    return _called(node) in RAW_SQL_CALLS or (_called(node) == "text" and literal)


def _strings(source: Source) -> Iterator[tuple[str, int]]:
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value, node.lineno


def _where(source: Source, line: int) -> str:
    return f"{source.relative}:{line}"


def _top_level_name(source: Source, line: int) -> str:
    """The module-level function, class or assignment that holds `line` ('' if none)."""
    for node in source.tree.body:
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                return node.name
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                return node.targets[0].id
    return ""


def _docstrings(source: Source) -> set[int]:
    """The ids of the docstring nodes (they may name `\\d` without reading anything)."""
    holders = [source.tree, *(n for n in ast.walk(source.tree) if isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return {id(h.body[0].value) for h in holders
            if h.body and isinstance(h.body[0], ast.Expr)
            and isinstance(h.body[0].value, ast.Constant)}


def unicode_digits(source: Source) -> Iterator[str]:
    """Digits read Python's way (isdigit() and the like, `\\d`), outside BROAD_DIGITS."""
    allowed = BROAD_DIGITS.get(source.relative, {})
    docstrings = _docstrings(source)
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Call) and _called(node) in UNICODE_DIGIT_CALLS:
            what = f"{_called(node)}()"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "\\d" in node.value and id(node) not in docstrings:
            what = "\\d"
        elif isinstance(node, ast.keyword) and node.arg == "type" \
                and isinstance(node.value, ast.Name) and node.value.id in {"int", "float"}:
            what = f"click's type={node.value.id}"
        else:
            continue
        if _top_level_name(source, node.lineno) not in allowed:
            yield (f"{_where(source, node.lineno)}: reads digits with {what}, which takes any "
                   "script's digits: use billing.digits (0-9 only)")


def violations(source: Source) -> Iterator[str]:
    """What in `source` breaks the layout's rules, one line each."""
    allowed = ALLOWED[source.package] | {source.package}
    for name, line in imports(source):
        top = name.split(".")[0]
        at = _where(source, line)
        if top.startswith("<"):
            yield f"{at}: imports {name}: only a constant module name can be checked"
        elif top in OURS and top not in allowed:
            yield f"{at}: {source.package}/ imports {name}"
        elif source.package == "billing" and top in IO_MODULES:
            yield f"{at}: the rules import {name} (I/O)"
        elif source.package in ("service", *ADAPTERS, "presentation", "configuration",
                                "observability") and top in ORM:
            yield f"{at}: {source.package}/ imports {name}: SQL lives in store/"
    yield from unicode_digits(source)
    if source.package == "billing":
        yield from (f"{_where(source, node.lineno)}: the rules call {_called(node)}()"
                    for node in ast.walk(source.tree)
                    if isinstance(node, ast.Call) and _called(node) in IO_CALLS)
    if source.package != "store" and source.package != ROOT_PACKAGE:
        yield from (f"{_where(source, node.lineno)}: {source.package}/ calls "
                    f"{_called(node)}(): SQL lives in store/"
                    for node in ast.walk(source.tree)
                    if isinstance(node, ast.Call) and _runs_sql(node))
        yield from (f"{_where(source, line)}: {source.package}/ holds raw SQL "
                    f"({RAW_SQL.search(text).group(0)!r}...)"  # type: ignore[union-attr]
                    for text, line in _strings(source) if RAW_SQL.search(text))


def tree_violations(root: Path) -> list[str]:
    return [problem for source in sources(root) for problem in violations(source)]


# the tree's modules, parsed once for every parametrisation below (parsed again for each,
# collecting this file took ~1.8 s in every test worker)
TREE = list(sources(ROOT))


@pytest.mark.parametrize("source", TREE, ids=lambda s: s.relative)
def test_each_module_keeps_its_layers_rules(source: Source) -> None:
    assert list(violations(source)) == []


def test_every_production_package_has_rules() -> None:
    """A new top-level package must be placed in the layout before it can ship."""
    shipped = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert shipped == set(PACKAGES)


def test_nothing_imports_the_composition_root() -> None:
    importers = {s.module for s in TREE if s.package != ROOT_PACKAGE
                 for name, _ in imports(s) if name.split(".")[0] == ROOT_PACKAGE}
    assert importers == set()


# probes an outside reviewer planted in a copy of the tree: each must be named
PROBES = {
    "an adapter running raw SQL through the store": ("web/probe.py", """
from store import entries

def wipe(conn):
    conn.exec_driver_sql("DELETE FROM entries")
""", ["web/ imports store", "calls exec_driver_sql()", "holds raw SQL"]),
    "one adapter loading another at run time": ("telephony/probe.py", """
import importlib

def dispatcher():
    return importlib.import_module("bot.dispatch")
""", ["telephony/ imports bot.dispatch"]),
    "a computed dynamic import": ("reminders/probe.py", """
import importlib

def load(name):
    return importlib.import_module(name)
""", ["only a constant module name can be checked"]),
    "the service running its own SQL": ("service/probe.py", """
def wipe(conn, text):
    conn.exec_driver_sql("DELETE FROM entries")
    conn.execute(text("UPDATE entries SET seconds = 0"))
""", ["service/ calls exec_driver_sql()", "service/ calls text()", "holds raw SQL"]),
    "the rules reading a file and the clock": ("billing/probe.py", """
from datetime import datetime

def today_fee():
    with open("fees.json") as f:
        return f.read(), datetime.now()
""", ["the rules call open()", "the rules call now()"]),
    "a relative import into the store": ("bot/listeners/probe.py", """
from ...store import entries
from .. import dispatch
""", ["bot/ imports store.entries"]),
    "a relative import of a sibling package's module": ("web/probe.py", """
from ..store.entries import void_entry
""", ["web/ imports store.entries"]),
    "presentation reaching into the store": ("presentation/probe.py", """
from store.db import Database
""", ["presentation/ imports store.db"]),
    "configuration importing the service": ("configuration/probe.py", """
from service.context import Policy
""", ["configuration/ imports service.context"]),
    "observability reaching into the store": ("observability/probe.py", """
from store.db import Database
import sqlalchemy
""", ["observability/ imports store.db", "observability/ imports sqlalchemy"]),
    "digits read Python's way": ("telephony/probe.py", """
import re

_MINUTES = re.compile(r"\\d+")

def minutes(text):
    return int(text) if text.isdigit() or text.isdecimal() else None
""", ["reads digits with \\d", "reads digits with isdigit()", "reads digits with isdecimal()"]),
    "an adapter importing the composition root": ("web/probe.py", """
from rpm_logger.wiring import build_service
""", ["web/ imports rpm_logger.wiring"]),
}


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.ttf", "migrations"))
    assert tree_violations(copy) == []
    return copy


@pytest.mark.parametrize("probe", PROBES, ids=list(PROBES))
def test_a_probe_breaks_the_rules(probe: str, tree_copy: Path) -> None:
    relative, code, expected = PROBES[probe]
    path = tree_copy / relative
    path.write_text(code)
    try:
        found = list(violations(Source.read(tree_copy, path)))
    finally:
        path.unlink()
    for words in expected:
        assert any(words in problem and relative.split("/")[0] in problem for problem in found), \
            (words, found)


BLOCK_KIT = ("mrkdwn", "plain_text", "button", "section")  # what every Block Kit payload holds


@pytest.mark.parametrize("source", [s for s in TREE
                                    if s.package not in ("billing", "store")
                                    and s.module != "presentation.blocks"],
                         ids=lambda s: s.module)
def test_block_kit_is_built_in_one_module(source: Source) -> None:
    """Slack blocks, buttons and action ids are made in presentation/blocks.py only."""
    literals = {text for text, _ in _strings(source)}
    assert not literals & set(BLOCK_KIT), f"{source.path} builds Block Kit"


@pytest.mark.parametrize("source", [s for s in TREE if s.module != "store.db"],
                         ids=lambda s: s.module)
def test_no_use_case_opens_an_orm_session(source: Source) -> None:
    """Every use case runs Core statements in db.read()/db.write(); the ORM sessions in
    store/db.py are for tests and scripts that inspect tables (issue 14)."""
    text = source.path.read_text()
    for name in ("read_session", "write_session"):
        assert name not in text, f"{source.path} uses {name}"
    assert not re.search(r"(?<![A-Za-z])Session\(", text), f"{source.path} uses Session("
