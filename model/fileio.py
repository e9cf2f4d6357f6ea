"""Writing output files safely: never a torn file, modes from the umask, no stale temp files,
and a set of files (one run's outputs) replaced together.

Every file is written to a hidden temporary file in its folder (``.NAME.tmpPID.RANDOM``), synced
to disk, and renamed into place. Temporary files are created like ``open(..., "w")`` creates
files, so their modes honour the umask (``mkstemp``'s 0600 would survive the rename). A writer
killed mid-write leaves its temporary file behind; the first write into that folder by a later process removes the
temporary files of writers that are gone (a minute after they last wrote) and, of earlier versions'
temporary files (no pid in their names), those older than 15 minutes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: A temporary file of ours: ``.NAME.tmpPID.RANDOM``.
TEMP_RE = re.compile(r"^\..+\.tmp(?P<pid>[0-9]+)\.[a-z0-9]{6,}$")
#: An earlier version's temporary file (``tempfile.mkstemp(prefix=".NAME.")``) of one of our kinds of
#: output: ``.NAME.XXXXXXXX``.
LEGACY_TEMP_RE = re.compile(r"^\..+\.(png|svg|json|csv|parquet|html|md|yaml)\.[a-z0-9_]{8}$")
#: The temporary file of a writer that has died is removed once it is this old (seconds; the
#: writer may run on another machine that shares the folder, where its pid means nothing here).
DEAD_WRITER_AGE = 60.0
#: An earlier version's temporary file (no pid in its name) is removed once it is this old (seconds).
STALE_AGE = 15 * 60.0
#: Any temporary file of ours this old is removed, even if a process with its writer's pid runs here
#: (a writer on another machine; no write takes a day).
ABANDONED_AGE = 24 * 3600.0

_cleaned: set[str] = set()  # folders already cleaned by this process


def temp_name(path: Path) -> Path:
    """A fresh temporary file name beside ``path``."""
    return path.parent / f".{path.name}.tmp{os.getpid()}.{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return True
    return True


def is_stale_temp(p: Path, now: float | None = None) -> bool:
    """Whether ``p`` is a temporary file of ours (or an earlier version's) that nobody writes any more."""
    name = p.name
    m = TEMP_RE.match(name)
    legacy = m is None and LEGACY_TEMP_RE.match(name) is not None
    if m is None and not legacy:
        return False
    try:
        st = p.lstat()
    except OSError:
        return False
    if not p.is_file() or p.is_symlink():
        return False
    age = (time.time() if now is None else now) - st.st_mtime
    if m is None:
        return age >= STALE_AGE
    if age >= ABANDONED_AGE:
        return True
    return age >= DEAD_WRITER_AGE and not _pid_alive(int(m["pid"]))


def clean_stale_temps(folder: Path, *, force: bool = False) -> list[Path]:
    """Remove the stale temporary files in ``folder`` (once per folder and process unless ``force``)."""
    key = str(folder.resolve())
    if key in _cleaned and not force:
        return []
    _cleaned.add(key)
    removed = []
    now = time.time()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for p in entries:
        if p.name.startswith(".") and is_stale_temp(p, now):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def _name_error(e: OSError, path: Path) -> OSError:
    """``e`` with ``path`` as its file name if it names none (ENOSPC from a write names no file)."""
    if e.filename is None:
        e.filename = str(path)
    return e


def make_dirs(folder: Path) -> None:
    """``mkdir -p``, with a clear error when a part of the path is a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:  # a file where a folder should be
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), e.filename or str(folder)) from None


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_temp(path: Path, write: Callable[[str], None]) -> Path:
    """Write ``path``'s content to a new temporary file beside it, synced to disk; return that file.

    The caller renames it into place (``os.replace``) or removes it. On failure nothing is left.
    """
    make_dirs(path.parent)
    clean_stale_temps(path.parent)
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)  # umask applies
        os.close(fd)
        write(str(tmp))
        fd = os.open(tmp, os.O_RDONLY)  # on disk before it gets its name: no empty file after a crash
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _name_error(e, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same folder, then rename: never a torn file.

    ``write(tmp)`` writes the content to the file named ``tmp``. An ``OSError`` names ``path``.
    """
    tmp = write_temp(path, write)
    try:
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _name_error(e, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def write_text(path: Path, text: str) -> None:
    """``path.write_text(text)`` (UTF-8), atomically."""

    def w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, w)


class OutputSet:
    """Files that belong together (one run's outputs), replaced as a set.

    ``add(name, write)`` writes each file to a temporary file; ``commit()`` renames them all into
    place and removes the set's files (``owned``) that this set does not write, so no file of an
    earlier set is left beside the new ones. If anything fails before ``commit``, every temporary
    file is removed and the folder keeps what it had (a folder made for the set is removed again).
    """

    def __init__(self, folder: Path, owned: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.owned = owned
        self._made: list[Path] = []
        self._staged: dict[str, Path] = {}
        self._names: set[str] = set()

    def __enter__(self) -> OutputSet:
        missing = []
        p = self.folder
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        make_dirs(self.folder)
        self._made = missing  # deepest first
        return self

    def add(self, name: str, write: Callable[[str], None]) -> None:
        self._staged[name] = write_temp(self.folder / name, write)
        self._names.add(name)

    def commit(self) -> None:
        for name, tmp in list(self._staged.items()):
            target = self.folder / name
            try:
                os.replace(tmp, target)
            except OSError as e:
                raise _name_error(e, target) from None
            del self._staged[name]
        for name in self.owned:
            if name not in self._names:
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / name).unlink()
        _sync_folder(self.folder)
        self._made = []

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        for tmp in self._staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._staged.clear()
        for d in self._made:  # only folders made for this set, and only if still empty
            with contextlib.suppress(OSError):
                d.rmdir()


@contextlib.contextmanager
def output_set(folder: Path, owned: tuple[str, ...] = ()) -> Iterator[OutputSet]:
    """``with output_set(folder) as s: s.add(...); ...; s.commit()`` (see ``OutputSet``)."""
    with OutputSet(folder, owned) as s:
        yield s
