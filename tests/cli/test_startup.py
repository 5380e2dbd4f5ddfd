"""Every CLI command pays for what `rpm_logger.cli` imports: the adapters' and the PDF's
libraries are imported by the commands that use them, not at start-up (outside tester:
~1.5 s per command; fpdf alone was a third of the import)."""

import subprocess
import sys

HEAVY = ("fpdf", "pypdf", "fastapi", "uvicorn", "starlette", "slack_bolt", "slack_sdk",
         "twilio", "apscheduler")


def test_the_cli_imports_no_adapter_or_pdf_library() -> None:
    code = ("import sys, rpm_logger.cli; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.split() == []

