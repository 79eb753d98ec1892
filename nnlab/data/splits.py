"""Train/test row indices: a seeded permutation, stratified by class for classification."""

import math

import numpy as np

from nnlab.errors import DataError


def split_indices(labels: np.ndarray | None, n: int, test_size: float, seed: int):
    """Sorted train and test row indices; stratified by `labels` (or their class indices) when given."""
    rng = np.random.default_rng([seed, 1])
    if test_size == 0:
        return np.arange(n), np.arange(0)
    n_test = math.ceil(test_size * n)
    if n - n_test < 1:
        raise DataError(f"data.test_size {test_size} leaves no training rows out of {n}; lower it")
    if labels is None:
        test = rng.permutation(n)[:n_test]
    else:
        _, group_of = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(group_of == g) for g in range(group_of.max() + 1)]
        quota = _allocate(n_test, [len(g) for g in groups])
        test = np.concatenate([rng.permutation(g)[:q] for g, q in zip(groups, quota)])
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _allocate(total: int, sizes: list[int]) -> list[int]:
    """Split `total` test rows across classes in proportion to their sizes (largest remainder)."""
    exact = [total * s / sum(sizes) for s in sizes]
    quota = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: exact[i] - quota[i], reverse=True)
    for i in by_remainder[:total - sum(quota)]:
        quota[i] += 1
    return [min(q, s - 1) if s > 1 else q for q, s in zip(quota, sizes)]


