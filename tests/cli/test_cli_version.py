"""`rpm-logger --version`: an operator's upgrade procedure starts with which release runs."""

from importlib.metadata import version

from click.testing import CliRunner

from rpm_logger.cli import cli


def test_version_names_the_installed_release() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"rpm-logger {version('rpm-logger')}\n"
