"""The checks behind the `Ratings` constructors: indices, ids, shape, duplicate pairs.

Private to `als_lib.data`; every function raises an error that names the argument and the
first offending entry.
"""

from __future__ import annotations

import numpy as np


def _as_index_array(a, name: str) -> np.ndarray:
    """A checked int64 *copy* of the indices ``a``."""
    a = np.array(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of indices; got shape {a.shape}.")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise TypeError(
            f"{name} must hold integer indices 0..n-1; got dtype {a.dtype}. To index original "
            "ids (any integers or strings) use Ratings.from_arrays."
        )
    a = a.astype(np.int64, copy=False)
    if a.size and a.min() < 0:
        j = int(np.argmin(a))
        raise ValueError(f"{name} must be non-negative indices; found {a[j]} at position {j}.")
    return a


def _values(values, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """A checked float64 *copy* of the ratings ``values``, one per (user, item) index."""
    values = np.array(values)
    if values.ndim != 1:
        raise ValueError(f"values must be a 1-D array; got shape {values.shape}.")
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise TypeError(f"values must be numeric; got dtype {values.dtype}.")
    values = values.astype(np.float64, copy=False)
    if not (len(users) == len(items) == len(values)):
        raise ValueError(
            "users, items and values must have the same length; got "
            f"{len(users)}, {len(items)} and {len(values)}."
        )
    if len(values) == 0:
        raise ValueError(
            "no ratings: users, items and values are empty. A Ratings needs at least one "
            "observed rating; check the file or the filter that produced these arrays."
        )
    bad = ~np.isfinite(values)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"values must be finite; {int(bad.sum())} are NaN or infinite (first at "
            f"position {j}: user {users[j]}, item {items[j]}, value {values[j]}). A "
            "missing rating is expressed by leaving the pair out, not by NaN; drop those "
            "entries."
        )
    return values


def _titles(titles, n_items: int) -> np.ndarray:
    titles = np.array(titles, dtype=object)
    if titles.shape != (n_items,):
        raise ValueError(
            f"item_titles must hold one title per item ({n_items}); got shape {titles.shape}."
        )
    return titles


def _shape_dim(n, idx: np.ndarray, what: str, arg: str) -> int:
    needed = int(idx.max()) + 1
    if n is None:
        return needed
    n = int(n)
    if n < needed:
        raise ValueError(
            f"{what} holds index {needed - 1} but {arg}={n}; indices must be below {arg}."
        )
    return n


def _timestamps(ts, values: np.ndarray) -> np.ndarray:
    ts = np.array(ts)
    if ts.shape != values.shape:
        raise ValueError(
            f"timestamps must have one entry per rating ({len(values)}); got shape {ts.shape}."
        )
    if np.issubdtype(ts.dtype, np.floating) and not np.isfinite(ts).all():
        raise ValueError("timestamps must be finite; found NaN or infinite times.")
    return ts.astype(np.int64, copy=False)


def _id_map(ids, n: int, arg: str, size_arg: str) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    ids = np.array(ids)
    if ids.shape != (n,):
        raise ValueError(
            f"{arg} must hold one id per index ({size_arg}={n}); got shape {ids.shape}."
        )
    return ids


def _check_unique_pairs(users: np.ndarray, items: np.ndarray, n_items: int) -> None:
    key = users * np.int64(n_items) + items
    if len(np.unique(key)) != len(key):
        order = np.argsort(key, kind="stable")
        dup = np.flatnonzero(np.diff(key[order]) == 0)
        j = int(order[dup[0]])
        raise ValueError(
            f"{len(dup)} duplicate (user, item) pairs, e.g. user index {users[j]} and item "
            f"index {items[j]} appear more than once. A matrix entry holds one rating: remove "
            "the repeats, or build with Ratings.from_arrays(..., duplicates='mean' or 'last')."
        )


def _raw_id_array(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of ids; got shape {a.shape}.")
    if len(a) == 0:
        raise ValueError(f"no ratings: {name} is empty.")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise ValueError(f"{name} ids must be integers (or strings); got non-integer floats.")
        a = a.astype(np.int64)
    if np.issubdtype(a.dtype, np.integer) and a.min() < 0:
        j = int(np.argmin(a))
        raise ValueError(
            f"{name} ids must be non-negative; found {a[j]} at position {j}. Check the column "
            "order and the parser that produced these ids."
        )
    return a


def _merge_duplicates(u, i, values, ts, n_items, how):
    values = np.asarray(values, dtype=np.float64)
    key = u.astype(np.int64) * n_items + i
    if how == "last":
        # order by key, then time (or position): the last of each run wins
        second = ts if ts is not None else np.arange(len(key))
        order = np.lexsort((second, key))
        k = key[order]
        last = np.append(k[1:] != k[:-1], True)
        keep = order[last]
        return u[keep], i[keep], values[keep], None if ts is None else ts[keep]
    uniq, inv = np.unique(key, return_inverse=True)
    sums = np.bincount(inv, weights=values, minlength=len(uniq))
    counts = np.bincount(inv, minlength=len(uniq))
    new_ts = None
    if ts is not None:
        new_ts = np.full(len(uniq), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(new_ts, inv, np.asarray(ts, dtype=np.int64))
    return uniq // n_items, uniq % n_items, sums / counts, new_ts
