"""The results folder: its file names, part checksums and the journal (``parts.jsonl``), the
manifest and its reserve, the experiment as run, the folder lock, and environment faults turned
into one-line errors (``on_disk``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import model
from model.errors import InputError, whole_input_error
from model.experiment import Experiment

PART_GLOB = "part-*.parquet"
#: The checksum journal: one JSON line per part, appended (and synced) before the part gets its name.
JOURNAL_FILE = "parts.jsonl"
#: The advisory lock of a results folder (``fcntl.flock``); it names the sweep that holds it.
LOCK_FILE = ".lock"
#: The experiment and base scenario as run (what ``rerun`` repeats, whatever happens to the files).
RESOLVED_FILE = "experiment.resolved.json"
#: The base scenario as run (after ``extends:`` and ``set:``), as YAML: ``bargain run`` reads it.
SCENARIO_FILE = "scenario.resolved.yaml"
#: Space kept free while a sweep runs, so that its manifest can still say how it ended on a full disk.
RESERVE_FILE = ".reserve"
#: The manifest layout: 2 records a sha256 per part.
MANIFEST_FORMAT = 2


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def part_records(folder: Path, manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    """What was recorded of each part when it was written (``sha256``, ``rows``, ``chunk``,
    ``worker_died``), by file name: the manifest's ``parts``, updated by the journal
    (``parts.jsonl``, one JSON line per part written; a later line wins, a torn last line is
    skipped). ``None`` for a folder written before parts had checksums (nothing to check)."""
    records: dict[str, dict[str, Any]] = {}
    legacy = True
    if isinstance(manifest, dict):
        if isinstance(manifest.get("parts"), dict):
            records.update({k: v for k, v in manifest["parts"].items() if isinstance(v, dict)})
        legacy = not isinstance(manifest.get("format"), int) or manifest["format"] < MANIFEST_FORMAT
    journal = folder / JOURNAL_FILE
    if journal.is_file():
        legacy = False
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict) and isinstance(rec.get("part"), str):
                    records[rec["part"]] = rec
    return None if legacy else records


def part_fault(path: Path, record: dict[str, Any] | None) -> str | None:
    """Why the part at ``path`` is not the one recorded when it was written, or ``None`` if it is."""
    if record is None:
        return "it was not recorded when the sweep wrote its parts (a foreign or unfinished file)"
    try:
        digest = file_sha256(path)
    except OSError as e:
        return f"it cannot be read ({e.strerror or e})"
    if digest != record.get("sha256"):
        return "its content differs from the sha256 recorded when it was written (damaged, or replaced by another file)"
    return None


@contextlib.contextmanager
def on_disk(what: str | Path, doing: str = "write") -> Iterator[None]:
    """Turn an environment fault (read-only or full disk, a path under a file, no permission)
    into one line naming the path, instead of an internal error."""
    try:
        yield
    except OSError as e:
        if isinstance(e, BlockingIOError | InterruptedError) or e.errno is None:
            raise
        where = e.filename if isinstance(e.filename, str) and e.filename else str(what)
        why = e.strerror or str(e)
        hint = ": free some space, then run the same command again to resume" if e.errno in (
            errno.ENOSPC, errno.EDQUOT) else ""
        raise whole_input_error(where, f"cannot {doing} ({why}){hint}") from e


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "grand-bargain": model.__version__}
    for pkg in ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "SALib", "highspy", "matplotlib"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def _git(args: list[str], where: Path) -> str | None:
    """``git ARGS`` run in ``where``: its output, or ``None`` (no git, not a checkout, an error)."""
    try:
        r = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=where)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def git_state(where: str | Path | None = None) -> dict[str, Any]:
    """The git commit of the checkout holding ``where`` (default: this package's code) and whether
    its tracked files differ from that commit (``dirty``; untracked files do not count, results
    folders are untracked). Both are ``"unknown"`` outside a git checkout or without git."""
    folder = Path(where).resolve() if where is not None else Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], folder)
    status = _git(["status", "--porcelain", "--untracked-files=no"], folder) if commit else None
    if not commit or status is None:
        return {"commit": "unknown", "dirty": "unknown"}
    return {"commit": commit.strip(), "dirty": bool(status.strip())}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def resolved_experiment(exp: Experiment) -> dict[str, Any]:
    """The experiment as run, self-contained: its spec and its base scenario's data."""
    return {"experiment_sha256": exp.digest, "experiment_file": exp.file, "scenario_file": exp.scenario_file,
            "experiment": exp.spec.model_dump(mode="json"), "scenario": exp.base}


# ---------------------------------------------------------------- the journal and the manifest


def append_journal(folder: Path, rec: dict[str, Any]) -> None:
    """Append one part's record to the journal, synced (before the part gets its name)."""
    with open(folder / JOURNAL_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")
        f.flush()
        os.fsync(f.fileno())


def compact_journal(folder: Path, records: dict[str, dict[str, Any]]) -> None:
    """Rewrite the journal (atomically) to hold just ``records``, in order of their part's name."""
    from model.report import atomic_write

    with on_disk(folder / JOURNAL_FILE):
        def journal(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for _, r in sorted(records.items()))

        atomic_write(folder / JOURNAL_FILE, journal)


def write_manifest(folder: Path, m: dict[str, Any]) -> None:
    """Write ``manifest.json``; on a full disk, give up the reserve (``reserve_space``) to write it."""
    from model.report import write_json

    path = folder / "manifest.json"
    try:
        with on_disk(path):
            write_json(path, m)
    except InputError:
        reserve = folder / RESERVE_FILE
        if not reserve.exists():
            raise
        reserve.unlink()  # the space kept for this moment (a full disk)
        with on_disk(path):
            write_json(path, m)


def reserve_space(folder: Path, size: int) -> None:
    """Keep ``size`` bytes (``RESERVE_FILE``) for the last manifest on a disk that may fill up."""
    path = folder / RESERVE_FILE
    try:
        with on_disk(path), open(path, "wb") as f:
            try:
                os.posix_fallocate(f.fileno(), 0, size)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                f.write(b"\0" * size)  # (a file system without fallocate)
                f.flush()
                os.fsync(f.fileno())
    except InputError:
        path.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- the lock


@contextlib.contextmanager
def folder_lock(folder: Path, about: dict[str, Any]) -> Iterator[int]:
    """Hold the folder's advisory lock (``.lock``, ``fcntl.flock``), yielding its file descriptor,
    with the holder (pid, host, ``about``, since when) written into it. Another holder gives a
    one-line ``InputError`` naming it. The lock ends with its process, however it ends, so a stale
    ``.lock`` of a dead sweep is simply taken over. A folder this call created and that holds nothing
    else afterwards is removed again."""
    created = not folder.exists()
    with on_disk(folder, "create the results folder"):
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        raise whole_input_error(str(folder), f"in use by another sweep ({lock_holder(folder)}): wait for it to "
                                "finish, or use another --out") from None
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), **about, "since": _now()}
        with on_disk(folder / LOCK_FILE):
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield fd
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # held by nobody: says nobody
        if created and {p.name for p in folder.iterdir()} <= {LOCK_FILE}:
            with contextlib.suppress(OSError):
                (folder / LOCK_FILE).unlink()
                folder.rmdir()
        os.close(fd)


def lock_holder(folder: Path) -> str:
    """Who holds the folder's lock, as its ``.lock`` says."""
    for _ in range(20):  # the holder writes its name just after it took the lock
        try:
            info = json.loads((folder / LOCK_FILE).read_text())
            return (f"pid {info['pid']} on {info.get('host', '?')}, experiment {info.get('experiment')} "
                    f"{str(info.get('experiment_sha256'))[:12]}, since {info.get('since')}")
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return "a process that has not said which"


def write_scenario_yaml(path: Path, data: dict[str, Any]) -> None:
    """Write the scenario as run (``SCENARIO_FILE``), atomically, with a header saying what it is."""
    import yaml

    from model.report import atomic_write

    head = ("# The base scenario as this sweep ran it (after extends: and set:), written by bargain sweep.\n"
            "# `bargain run` reads it; experiment.resolved.json holds it too, with the experiment.\n")
    text = head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, write)
