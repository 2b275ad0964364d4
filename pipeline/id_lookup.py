"""Where ids sit in a sorted id array: the vocabularies of the classify heads and of the word
vectors are sorted int64 arrays, and every lookup into them is this one vectorised search."""

from __future__ import annotations

import numpy as np


def find_sorted(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, found): ``sorted_ids[positions[found]] == ids[found]``; positions of ids not
    present are 0 (a valid index, masked out by ``found``)."""
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=bool)
    pos = np.searchsorted(sorted_ids, ids)
    pos[pos >= len(sorted_ids)] = 0
    return pos, sorted_ids[pos] == ids
