"""Keep some freed heap memory for reuse, where the C library allows it (glibc on Linux).

A run allocates and frees many numpy arrays of a few hundred kilobytes to a few megabytes (the
offer tables of a new point, above all). glibc returns the top of the heap to the system as soon
as more than 128 KiB of it is free, so the next run asks for it again and takes a page fault
on every 4 KiB it touches; on virtual machines page faults are dear. Asking glibc to keep a
16 MiB pad at the top of the heap (``M_TOP_PAD``, what the ``MALLOC_TOP_PAD_`` environment
variable sets) removes that churn. Measured on the 2-core VM this project runs on (``make
bench`` and docs/model.md): a new point of the baseline ran 1.15-1.7x faster, depending on the
protocol, and the 400-point ``experiments/discovery_lhs.yaml`` sweep 1.47x faster. Results do
not change: only where memory comes from does. A process keeps at most 16 MiB more than it
would.

Sweep workers (``model.sweep``) and the CLI call ``keep_heap_slack`` when they start; a user's
own ``MALLOC_TOP_PAD_`` wins.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's ``mallopt`` parameter for the top pad (``M_TOP_PAD`` in ``malloc.h``).
M_TOP_PAD = -2
#: Bytes kept free at the top of the heap.
TOP_PAD = 16 * 1024 * 1024

_applied = False


def keep_heap_slack() -> bool:
    """Ask the C library to keep ``TOP_PAD`` bytes of freed heap; ``True`` if it now does.

    A no-op (``False``) where there is no glibc ``mallopt`` (macOS, Windows, musl's stub),
    and where the user set ``MALLOC_TOP_PAD_`` (glibc has read it already).
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or "MALLOC_TOP_PAD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = mallopt(M_TOP_PAD, TOP_PAD) == 1  # glibc returns 1 on success, musl's stub 0
    return _applied


def applied() -> bool:
    """Whether ``keep_heap_slack`` took effect in this process."""
    return _applied
