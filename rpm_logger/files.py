"""Files the CLI writes where the operator says (`audit packet --out`, `backup --out`).

The place may have been prepared by an attacker on the same machine (issue 27, item 4: a
planted symbolic link, `--out` naming the live database). A name that exists is refused
unless --force; a link, anything but a regular file and the database are refused even with
it; files are created with O_EXCL and O_NOFOLLOW, so what appears between the check and the
write is refused too; and they are owner-only (0600): a packet names a patient and their
month, a backup holds the whole clinic, so whoever made it decides who reads it.
"""

import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TypeVar

from billing.errors import InvalidInput, quoted

T = TypeVar("T")


def shown(path: Path) -> str:
    return quoted(str(path), limit=200)


def refuse_to_replace(path: Path, force: bool, *, what: str, protected: Iterable[Path],
                      folder_note: str = "") -> None:
    """Refuse, before anything is made, an --out that names what `what` (a packet, a backup)
    must not replace: a symbolic link (the write would overwrite or create its target), a
    folder or other non-regular file, one of the `protected` files (the live database's,
    --force included; compared by device and inode, so another path or a hard link to them is
    refused too; by name as well, so a -wal or -journal that does not exist at the moment is
    never created by us), and any existing file without --force."""
    protected = list(protected)
    if _named_as(path, protected):
        raise InvalidInput(f"{shown(path)} is the database rpm-logger uses (or its -wal, -shm "
                           f"or -journal): {what} is never written there, --force included; "
                           "nothing written.")
    try:
        found = path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # nothing there: the write says why not
        return
    except OSError as exc:
        raise InvalidInput(f"cannot write {shown(path)}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(found.st_mode):
        raise InvalidInput(f"{shown(path)} is a symbolic link: {what} is never written "
                           "through one, --force included; nothing written.")
    if stat.S_ISDIR(found.st_mode):
        raise InvalidInput(f"{shown(path)} is a folder: --out names {what}'s file"
                           f"{folder_note}; nothing written.")
    if not stat.S_ISREG(found.st_mode):
        raise InvalidInput(f"{shown(path)} is not a regular file; nothing written.")
    if _one_of(found, protected):
        raise InvalidInput(f"{shown(path)} is the database rpm-logger uses: {what} never "
                           "replaces it, --force included; nothing written.")
    if not force:
        raise InvalidInput(f"{shown(path)} already exists; nothing written (--force "
                           "replaces it).")


def _named_as(path: Path, files: Iterable[Path]) -> bool:
    """`path` names one of `files` (folders resolved: `data/../data/x.db-wal` too)."""
    def where(file: Path) -> Path:
        return file.parent.resolve() / file.name
    return where(path) in {where(file) for file in files}


def _one_of(found: os.stat_result, files: Iterable[Path]) -> bool:
    for file in files:
        try:
            mine = file.stat()
        except OSError:  # no -wal, -shm or -journal at the moment
            continue
        if (mine.st_dev, mine.st_ino) == (found.st_dev, found.st_ino):
            return True
    return False


def write_file(path: Path, fill: Callable[[IO[bytes]], T], *, replace: bool, what: str) -> T:
    """A new file at `path` that `fill` writes into (what it returns is returned), never
    through a symbolic link, or a one-line reason (no folder, no permission, a name taken
    since the check) instead of a traceback."""
    try:
        if replace:
            return _replace_file(path, fill)
        return _create_file(path, fill)
    except FileExistsError as exc:
        raise InvalidInput(f"{shown(path)} appeared while {what} was made; nothing "
                           "written.") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot write {shown(path)}: {exc.strerror or exc}") from exc


def _create_file(path: Path, fill: Callable[[IO[bytes]], T]) -> T:
    """O_EXCL refuses any existing name, a symbolic link too, dangling or not (O_NOFOLLOW
    says so again), so nothing is overwritten and no link is followed. A file left
    half-written (a full disk, a failed read) is removed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            return fill(file)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _replace_file(path: Path, fill: Callable[[IO[bytes]], T]) -> T:
    """--force: written whole to a new file beside `path`, then renamed over it. A rename
    replaces the name: a link put there since the check is replaced, not followed, another
    hard link to the old file keeps its bytes, and a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
    made = _create_file(partial, fill)
    try:
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return made
