"""Dependencies point one way: adapters -> service -> store; the rules import no I/O."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_RULES = ("sqlmodel", "sqlalchemy", "slack_bolt", "slack_sdk", "twilio",
                      "apscheduler", "fastapi", "starlette", "store", "service", "rpm_logger",
                      "httpx", "requests", "os", "socket")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("billing"), ids=lambda p: p.name)
def test_billing_rules_do_no_io(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in FORBIDDEN_IN_RULES, f"{path.name} imports {name}"


ADAPTERS = ["rpm_logger", "bot", "telephony", "reminders", "web"]


@pytest.mark.parametrize("path", [p for a in ADAPTERS for p in _modules(a)],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_adapters_never_touch_tables(path: Path) -> None:
    for name in _imports(path):
        assert not name.startswith("store.models"), f"{path} imports {name}"
        assert not name.startswith("sqlmodel"), f"{path} imports {name}"


@pytest.mark.parametrize("path", [p for pkg in ("service", "store", "billing")
                                  for p in _modules(pkg)],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dependencies_point_one_way(path: Path) -> None:
    """The service, the store and the rules never import an adapter or the composition root."""
    for name in _imports(path):
        assert name.split(".")[0] not in ADAPTERS, f"{path} imports {name}"
