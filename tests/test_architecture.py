"""Dependencies point one way: adapters -> service -> store; the rules import no I/O.

The adapters (bot: Slack, telephony: Twilio, reminders: the scheduler, web: the dashboard)
never import one another: what one needs of another is a protocol it defines, implemented on
the other side and wired in the composition root (rpm_logger/app.py, wiring.py, cli.py). The
helpers they share live in rpm_logger/ too (SHARED below) and import no adapter.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_RULES = ("sqlmodel", "sqlalchemy", "slack_bolt", "slack_sdk", "twilio",
                      "apscheduler", "fastapi", "starlette", "store", "service", "rpm_logger",
                      "httpx", "requests", "os", "socket")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (functions, TYPE_CHECKING blocks too);
    `from pkg import mod` counts as both `pkg` and `pkg.mod`."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("billing"), ids=lambda p: p.name)
def test_billing_rules_do_no_io(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in FORBIDDEN_IN_RULES, f"{path.name} imports {name}"


ADAPTERS = ["rpm_logger", "bot", "telephony", "reminders", "web"]
ADAPTER_PACKAGES = ["bot", "telephony", "reminders", "web"]
# rpm_logger/ modules any adapter may import: settings, text renderings, Block Kit, the Slack
# client factory, the body size limit. The rest of rpm_logger/ (app, wiring, cli) is the
# composition root, which imports the adapters and is imported by none of them.
SHARED = {"rpm_logger", "rpm_logger.settings", "rpm_logger.render", "rpm_logger.blocks",
          "rpm_logger.packet",
          "rpm_logger.slack_client", "rpm_logger.limits"}


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


@pytest.mark.parametrize("path", [p for a in ADAPTER_PACKAGES for p in _modules(a)],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_adapters_never_import_one_another(path: Path) -> None:
    """An adapter imports no other adapter and nothing of the composition root."""
    own = path.relative_to(ROOT).parts[0]
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in ADAPTER_PACKAGES or top == own, f"{path} imports {name}"
        assert top != "rpm_logger" or _shared(name), f"{path} imports {name}"


def _shared(name: str) -> bool:
    """`rpm_logger.render` and what is imported from it (`rpm_logger.render.title`)."""
    return name in SHARED or name.rsplit(".", 1)[0] in SHARED - {"rpm_logger"}


@pytest.mark.parametrize("name", sorted(SHARED - {"rpm_logger"}))
def test_shared_helpers_import_no_adapter(name: str) -> None:
    path = ROOT / (name.replace(".", "/") + ".py")
    for imported in _imports(path):
        assert imported.split(".")[0] not in ADAPTER_PACKAGES, f"{path} imports {imported}"
        assert imported.split(".")[0] != "rpm_logger" or _shared(imported), \
            f"{path} imports {imported}"


@pytest.mark.parametrize("path", _modules("store"), ids=lambda p: p.name)
def test_store_never_imports_the_service(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] != "service", f"{path} imports {name}"


ORM = ("sqlalchemy", "sqlmodel")


@pytest.mark.parametrize("path", _modules("service"), ids=lambda p: p.name)
def test_service_holds_no_sql(path: Path) -> None:
    """service/ orders store calls and pure rules: no sqlalchemy, no sqlmodel (annotate a
    transaction with store.db.Conn); every statement lives in store/."""
    for name in _imports(path):
        assert name.split(".")[0] not in ORM, f"{path} imports {name}"


BLOCK_KIT = ("mrkdwn", "plain_text", "button", "section")  # what every Block Kit payload holds


@pytest.mark.parametrize("path", [p for pkg in ADAPTERS + ["service"] for p in _modules(pkg)
                                  if p != ROOT / "rpm_logger" / "blocks.py"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_block_kit_is_built_in_one_module(path: Path) -> None:
    """Slack blocks, buttons and action ids are made in rpm_logger/blocks.py only."""
    literals = {node.value for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not literals & set(BLOCK_KIT), f"{path} builds Block Kit"


PRODUCTION = ["service", "store", "billing", *ADAPTERS]


@pytest.mark.parametrize("path", [p for pkg in PRODUCTION for p in _modules(pkg)
                                  if p.relative_to(ROOT).as_posix() != "store/db.py"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_use_case_opens_an_orm_session(path: Path) -> None:
    """Every use case runs Core statements in db.read()/db.write(); the ORM sessions in
    store/db.py are for tests and scripts that inspect tables (issue 14)."""
    text = path.read_text()
    for name in ("read_session", "write_session", "Session("):
        assert name not in text, f"{path} uses {name}"
