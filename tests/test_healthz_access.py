"""/healthz agrees with whether a save works, for the user the service runs as (issue 27,
item 7).

The finding: the service ran as another user than the SQLite file's owner, in a data folder
it could not write, while the database files were writable by it (and their -wal and -shm
existed, kept by the owner's own connection). Saves worked; /healthz asked the kernel about
the folder's permission bits, said 503 "read-only", and a load balancer would have pulled a
working instance. The probe now makes the write a save makes (rolled back), on a new
connection, as that user.

Root ignores permission bits (CAP_DAC_OVERRIDE), so as root the service side runs through
`setpriv` (util-linux) with every capability dropped from its bounding set: still root, the
files' owner, whose own bits the kernel then checks as it would a service account's (a folder
made 0555 refuses its owner too). As any other user it runs as that user. (It ran as
`nobody` before, which skipped when the checkout sat in a folder only its owner may enter:
nobody could not reach the interpreter.) A read-only bind mount would need
mount privileges, and `chattr` tests another case (test_app.py, the immutable file). One
process checks both folders: the one where saves work and the one where they do not.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from store.db import Database

NOBODY = 65534

_SERVICE_SIDE = """
import json, sys
from fastapi.testclient import TestClient
from configuration.settings import Settings
from rpm_logger.app import create_app

found = []
for url in sys.argv[1:]:
    settings = Settings(database_url=url, reminders_enabled=False, healthz_deadline_ms=3000)
    with TestClient(create_app(settings)) as client:
        health = client.get("/healthz")
        try:
            client.app.state.service.staff.add(slack_user_id="U0PROBE", name="Probe",
                                               role="qhp", actor="test")
            saved = True
        except Exception as exc:
            saved = False
    found.append({"healthz": health.status_code, "said": health.json(), "saved": saved})
print(json.dumps(found))
"""


def _as_service_user() -> list[str]:
    """How to run a command so that permission bits apply to it: as root, root without a
    capability (setpriv ships with util-linux, which Debian always installs)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "running as root without setpriv (util-linux)"
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def _data_folder(root: Path, name: str, migrated: Path, file_mode: int) -> tuple[Path, Database]:
    """A data folder the service user cannot write, holding the database with `file_mode`,
    opened by its owner (this process), whose connection keeps its -wal and -shm files."""
    folder = root / name
    folder.mkdir()
    path = folder / "rpm.db"
    shutil.copyfile(migrated, path)
    path.chmod(file_mode)
    owner = Database(f"sqlite:///{path}")
    with owner.read() as conn:  # the owner's connection: -wal and -shm exist from here on
        conn.exec_driver_sql("SELECT 1")
    for made in (path.with_name("rpm.db-wal"), path.with_name("rpm.db-shm")):
        made.chmod(file_mode)
    folder.chmod(0o555)  # nobody may create or remove a file here (its owner neither)
    return path, owner


def test_healthz_says_what_a_save_finds(tmp_path: Path, migrated_sqlite_file: Path) -> None:
    prefix = _as_service_user()
    works, works_owner = _data_folder(tmp_path, "files-writable", migrated_sqlite_file, 0o666)
    fails, fails_owner = _data_folder(tmp_path, "files-read-only", migrated_sqlite_file, 0o444)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "DATABASE_URL"))}
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", _SERVICE_SIDE,
                               f"sqlite:///{works}", f"sqlite:///{fails}"],
                              capture_output=True, text=True, env=env, timeout=60, cwd="/")
    finally:
        for folder in (works.parent, fails.parent):
            folder.chmod(0o755)
        works_owner.dispose()
        fails_owner.dispose()
    assert done.returncode == 0, done.stderr[-2000:]
    writable, read_only = json.loads(done.stdout)
    assert writable == {"healthz": 200, "said": {"database": "ok"}, "saved": True}
    assert read_only == {"healthz": 503, "said": {"database": "read-only"}, "saved": False}
