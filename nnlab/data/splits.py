"""Train/validation/test row indices: seeded permutations, stratified by class for classification; or the
folds of a k-fold cross-validation."""

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


def carve_validation(labels: np.ndarray | None, train: np.ndarray, n: int, val_size: float, seed: int):
    """(train, val) sorted row indices: ceil(val_size · n) of the `train` rows become the validation split
    (stratified by class like the test split; its own seeded stream, so the test split is the same as without)."""
    if val_size == 0:
        return train, np.arange(0)
    n_val = math.ceil(val_size * n)
    if len(train) - n_val < 1:
        raise DataError(f"data.val_size {val_size} takes {n_val} rows of {len(train)} train rows; lower it")
    rng = np.random.default_rng([seed, 2])
    if labels is None:
        val = rng.permutation(train)[:n_val]
    else:
        sub = labels[train]
        _, group_of = np.unique(sub, return_inverse=True)
        groups = [train[group_of == g] for g in range(group_of.max() + 1)]
        quota = _allocate(n_val, [len(g) for g in groups])
        val = np.concatenate([rng.permutation(g)[:q] for g, q in zip(groups, quota)])
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.sort(train[~mask[train]]), np.flatnonzero(mask)


def fold_indices(labels: np.ndarray | None, n: int, folds: int, fold: int, seed: int):
    """(train, test) sorted row indices of fold `fold` of a seeded k-fold partition (stratified: each class's
    shuffled rows are dealt out in turn, as scikit-learn's StratifiedKFold does, so fold sizes differ by 1 at most)."""
    if n < folds:
        raise DataError(f"data.folds {folds}: only {n} rows; use at most {n} folds")
    rng = np.random.default_rng([seed, 3])
    if labels is None:
        order = rng.permutation(n)
    else:
        _, group_of = np.unique(labels, return_inverse=True)
        order = np.concatenate([rng.permutation(np.flatnonzero(group_of == g)) for g in range(group_of.max() + 1)])
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.arange(n) % folds
    return np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)


def _allocate(total: int, sizes: list[int]) -> list[int]:
    """Split `total` test rows across classes in proportion to their sizes (largest remainder)."""
    exact = [total * s / sum(sizes) for s in sizes]
    quota = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: exact[i] - quota[i], reverse=True)
    for i in by_remainder[:total - sum(quota)]:
        quota[i] += 1
    return [min(q, s - 1) if s > 1 else q for q, s in zip(quota, sizes)]


