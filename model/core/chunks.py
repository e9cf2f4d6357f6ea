"""Evaluating a batch of packages in chunks of rows, so that memory stays bounded.

Utilities and red-line checks compare every package with every actor on every issue: a batch of
``n`` packages holds ``n * A * I`` terms at once. At the schema's limits (100 actors x 500 issues)
the search for a dominating package asks about some 60,000 packages at once, which would need
tens of gigabytes. Evaluated ``CHUNK_TERMS`` terms at a time, each row is computed exactly as it
would be alone, so chunking changes no result.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The most (package, actor, issue) terms held at once (as float64: 32 MB).
CHUNK_TERMS = 4_000_000


def by_rows(fn: Callable[[np.ndarray], np.ndarray], x2: np.ndarray, per_row: int) -> np.ndarray:
    """``fn(x2)``, computed on chunks of ``x2``'s rows (each row costing ``per_row`` terms) and
    stacked: the same array ``fn`` gives on the whole batch, for row-wise ``fn``."""
    step = max(1, CHUNK_TERMS // max(per_row, 1))
    if len(x2) <= step:
        return fn(x2)
    return np.concatenate([fn(x2[k : k + step]) for k in range(0, len(x2), step)])
