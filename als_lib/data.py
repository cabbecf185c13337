"""Ratings data: the `Ratings` container, MovieLens loaders, splits and small offline data.

Notation (see the book's notation table): users ``u = 0..m-1``, items ``i = 0..n-1``, the
ratings matrix ``R`` (m x n) of which only the set ``Omega`` of (u, i) pairs is observed.
A `Ratings` stores ``Omega`` in coordinate (COO) form: three equal-length arrays
``users[j], items[j], values[j]`` for ``j = 0..|Omega|-1``. An entry that is not stored is
*missing* (not rated); it is never a zero rating.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np
import scipy.sparse as sp

__all__ = [
    "Ratings",
    "DatasetSpec",
    "DATASETS",
    "DATA_DIR_ENV",
    "ChecksumError",
    "DatasetUnavailableError",
    "load_movielens",
    "load_movielens_fold",
    "default_data_dir",
    "toy_ratings",
    "TOY_MATRIX",
    "synthetic_ratings",
    "train_test_split",
    "kfold",
    "per_user_holdout",
    "index_array",
    "as_ratings",
]

#: Environment variable naming a folder that holds (or receives) the MovieLens files.
DATA_DIR_ENV = "ALS_LIB_DATA_DIR"

Duplicates = Literal["raise", "mean", "last"]


# --------------------------------------------------------------------------------------
# The Ratings container
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Ratings:
    """Observed ratings ``r_ui, (u, i) in Omega`` of an ``n_users x n_items`` matrix.

    Parameters
    ----------
    users, items : integer arrays of indices ``0..n_users-1`` and ``0..n_items-1``.
    values : the ratings ``r_ui`` (finite floats).
    n_users, n_items : the matrix shape; default ``max(index) + 1``.
    timestamps : optional integer time of each rating (seconds since the epoch).
    user_ids, item_ids : optional original id of each index (``user_ids[u]`` is the id of
        user ``u`` in the source file); default the indices themselves.
    item_titles : optional title of each item index.
    name : a label shown in ``repr``.

    Each (user, item) pair may appear at most once: a matrix entry has one value. Use
    `Ratings.from_arrays` with ``duplicates="mean"`` or ``"last"`` to merge repeated pairs.
    Splits (`train_test_split`, ...) return `Ratings` that keep the index space and id maps
    of the data they came from, so index ``u`` means the same user in train and test.
    """

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    n_users: int | None = None
    n_items: int | None = None
    timestamps: np.ndarray | None = None
    user_ids: np.ndarray | None = None
    item_ids: np.ndarray | None = None
    item_titles: np.ndarray | None = None
    name: str = ""
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self._checked:  # built by `subset` from data already validated
            return
        users = _as_index_array(self.users, "users")
        items = _as_index_array(self.items, "items")
        values = np.asarray(self.values)
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
                f"position {j}: user {users[j]}, item {items[j]}, value {values[j]}). A missing "
                "rating is expressed by leaving the pair out, not by NaN; drop those entries."
            )
        n_users = _shape_dim(self.n_users, users, "users", "n_users")
        n_items = _shape_dim(self.n_items, items, "items", "n_items")
        timestamps = None
        if self.timestamps is not None:
            timestamps = np.asarray(self.timestamps)
            if timestamps.shape != values.shape:
                raise ValueError(
                    f"timestamps must have one entry per rating ({len(values)}); got shape "
                    f"{timestamps.shape}."
                )
            timestamps = timestamps.astype(np.int64, copy=False)
        user_ids = _id_map(self.user_ids, n_users, "user_ids", "n_users")
        item_ids = _id_map(self.item_ids, n_items, "item_ids", "n_items")
        titles = None
        if self.item_titles is not None:
            titles = np.asarray(self.item_titles, dtype=object)
            if titles.shape != (n_items,):
                raise ValueError(
                    f"item_titles must hold one title per item ({n_items}); got shape "
                    f"{titles.shape}."
                )
        key = users * np.int64(n_items) + items
        if len(np.unique(key)) != len(key):
            order = np.argsort(key, kind="stable")
            dup = np.flatnonzero(np.diff(key[order]) == 0)
            j = int(order[dup[0]])
            raise ValueError(
                f"{len(dup)} duplicate (user, item) pairs, e.g. user index {users[j]} and item "
                f"index {items[j]} appear more than once. A matrix entry holds one rating: "
                "remove the repeats, or build with Ratings.from_arrays(..., duplicates='mean' "
                "or 'last')."
            )
        for name, value in (
            ("users", users), ("items", items), ("values", values),
            ("n_users", int(n_users)), ("n_items", int(n_items)), ("timestamps", timestamps),
            ("user_ids", user_ids), ("item_ids", item_ids), ("item_titles", titles),
            ("_checked", True),
        ):
            object.__setattr__(self, name, value)

    # ----- constructors -------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        users: Sequence | np.ndarray,
        items: Sequence | np.ndarray,
        values: Sequence | np.ndarray,
        timestamps: Sequence | np.ndarray | None = None,
        *,
        duplicates: Duplicates = "raise",
        item_titles: dict | None = None,
        name: str = "",
    ) -> "Ratings":
        """Build from original ids (any non-negative integers or strings).

        Ids are mapped to contiguous indices in sorted order: ``user_ids[u]``
        gives back the original id. Only ids that occur get an index.

        Parameters
        ----------
        duplicates : what to do when a (user, item) pair occurs more than
            once: ``"raise"`` (default) refuses the data; ``"mean"`` keeps
            the mean rating (and the latest timestamp); ``"last"`` keeps the
            latest one, by timestamp when given, else by position.
        item_titles : optional mapping from original item id to title.
        """
        raw_u = _raw_id_array(users, "users")
        raw_i = _raw_id_array(items, "items")
        if len(raw_u) != len(raw_i):
            raise ValueError(
                "users and items must have the same length; "
                f"got {len(raw_u)} and {len(raw_i)}."
            )
        user_ids, u = np.unique(raw_u, return_inverse=True)
        item_ids, i = np.unique(raw_i, return_inverse=True)
        values = np.asarray(values)
        ts = None if timestamps is None else np.asarray(timestamps)
        if duplicates not in ("raise", "mean", "last"):
            raise ValueError(
                "duplicates must be 'raise', 'mean' or 'last'; "
                f"got {duplicates!r}."
            )
        if duplicates != "raise" and len(u) == len(values):
            u, i, values, ts = _merge_duplicates(
                u, i, values, ts, len(item_ids), duplicates
            )
        titles = None
        if item_titles is not None:
            titles = np.array(
                [item_titles.get(_py(x), "") for x in item_ids], dtype=object
            )
        return cls(
            u, i, values, len(user_ids), len(item_ids), ts,
            user_ids, item_ids, titles, name,
        )

    @classmethod
    def from_csr(cls, matrix: sp.spmatrix | sp.sparray, *, name: str = "") -> "Ratings":
        """Build from a scipy sparse matrix (users x items).

        Every *stored* entry is an observed rating (an explicitly stored 0 is a rating of 0);
        entries that are not stored are missing. A COO matrix with repeated coordinates is
        refused rather than summed.
        """
        if not sp.issparse(matrix):
            raise TypeError(
                f"matrix must be a scipy.sparse matrix; got {type(matrix).__name__}. For a "
                "dense array use Ratings.from_dense(array, missing=...)."
            )
        coo = matrix.tocoo()
        return cls(
            np.asarray(coo.row, dtype=np.int64), np.asarray(coo.col, dtype=np.int64),
            np.asarray(coo.data), matrix.shape[0], matrix.shape[1], name=name,
        )

    @classmethod
    def from_dense(cls, matrix: np.ndarray, *, missing: float, name: str = "") -> "Ratings":
        """Build from a dense users x items array in which ``missing`` marks "not rated".

        ``missing`` is required because a dense array cannot say which entries are ratings:
        the book's toy matrix writes 0 for "not rated" (``missing=0``); ``missing=np.nan``
        reads NaN as missing. Entries equal to ``missing`` are left out.
        """
        a = np.asarray(matrix)
        if a.ndim != 2:
            raise ValueError(f"matrix must be 2-D (users x items); got shape {a.shape}.")
        a = a.astype(np.float64)
        if missing is None:
            raise ValueError("missing must be a number or np.nan, the marker of unrated entries.")
        if np.isnan(missing):
            observed = ~np.isnan(a)
        else:
            if np.isnan(a).any():
                raise ValueError(
                    f"matrix contains NaN but missing={missing!r}; pass missing=np.nan if NaN "
                    "marks unrated entries."
                )
            observed = a != missing
        u, i = np.nonzero(observed)
        return cls(u, i, a[u, i], a.shape[0], a.shape[1], name=name)

    # ----- shape and summaries --------------------------------------------------------
    @property
    def nnz(self) -> int:
        """Number of observed ratings ``|Omega|``."""
        return len(self.values)

    def __len__(self) -> int:
        return self.nnz

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    @property
    def density(self) -> float:
        """``|Omega| / (n_users * n_items)``, the fraction of the matrix that is observed."""
        return self.nnz / (self.n_users * self.n_items)

    def user_counts(self) -> np.ndarray:
        """``n_u``: the number of ratings of each user (length ``n_users``)."""
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """``n_i``: the number of ratings of each item (length ``n_items``)."""
        return np.bincount(self.items, minlength=self.n_items)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Ratings({label}{self.n_users} users x {self.n_items} items, {self.nnz} ratings, "
            f"density {self.density:.2%})"
        )

    # ----- ids and titles --------------------------------------------------------------
    @cached_property
    def _user_lookup(self) -> dict:
        return {_py(x): k for k, x in enumerate(self.user_ids)}

    @cached_property
    def _item_lookup(self) -> dict:
        return {_py(x): k for k, x in enumerate(self.item_ids)}

    def user_index(self, user_id) -> int:
        """The index of the user whose original id is ``user_id``."""
        try:
            return self._user_lookup[_py(user_id)]
        except KeyError:
            raise KeyError(f"unknown user id {user_id!r}: it does not occur in {self!r}.") from None

    def item_index(self, item_id) -> int:
        """The index of the item whose original id is ``item_id``."""
        try:
            return self._item_lookup[_py(item_id)]
        except KeyError:
            raise KeyError(f"unknown item id {item_id!r}: it does not occur in {self!r}.") from None

    def title(self, item: int) -> str:
        """Title of item index ``item`` (its original id when there are no titles)."""
        if not 0 <= item < self.n_items:
            raise IndexError(f"item index {item} is out of range 0..{self.n_items - 1}.")
        if self.item_titles is None:
            return str(self.item_ids[item])
        return str(self.item_titles[item])

    # ----- conversions -------------------------------------------------------------------
    def to_csr(self) -> sp.csr_matrix:
        """The ratings as a scipy CSR matrix (users x items); missing entries are not stored."""
        return sp.csr_matrix((self.values, (self.users, self.items)), shape=self.shape)

    def to_torch_csr(self, dtype=None, device="cpu"):
        """The ratings as a ``torch.sparse_csr_tensor`` (users x items)."""
        import torch

        csr = self.to_csr()
        csr.sort_indices()
        return torch_csr(
            torch.from_numpy(csr.indptr.astype(np.int64)).to(device),
            torch.from_numpy(csr.indices.astype(np.int64)).to(device),
            torch.from_numpy(csr.data).to(device=device, dtype=dtype or torch.get_default_dtype()),
            self.shape, check_invariants=True,
        )

    def to_dense(self, missing: float = np.nan, max_entries: int = 10_000_000) -> np.ndarray:
        """A dense users x items array with ``missing`` in unrated entries (small data only)."""
        if self.n_users * self.n_items > max_entries:
            raise ValueError(
                f"a dense {self.n_users} x {self.n_items} array has more than {max_entries} "
                "entries; use to_csr() instead, or raise max_entries if you mean it."
            )
        out = np.full(self.shape, missing, dtype=np.float64)
        out[self.users, self.items] = self.values
        return out

    def subset(self, index: np.ndarray, name: str | None = None) -> "Ratings":
        """The ratings at positions ``index`` (integer or boolean), same index space and ids."""
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self.nnz,):
                raise ValueError(f"a boolean index must have length {self.nnz}; got {index.shape}.")
            index = np.flatnonzero(index)
        if len(index) == 0:
            raise ValueError("subset: the index selects no ratings; a Ratings cannot be empty.")
        if len(np.unique(index)) != len(index):
            raise ValueError("subset: the index repeats positions; each rating may appear once.")
        return Ratings(
            self.users[index], self.items[index], self.values[index], self.n_users,
            self.n_items, None if self.timestamps is None else self.timestamps[index],
            self.user_ids, self.item_ids, self.item_titles,
            self.name if name is None else name, _checked=True,
        )


def as_ratings(data, name: str = "ratings") -> Ratings:
    """Accept a `Ratings`, a scipy.sparse matrix (users x items) or ``(users, items, values)``
    index arrays, and return a `Ratings` (what every model's ``fit`` accepts)."""
    if isinstance(data, Ratings):
        return data
    if sp.issparse(data):
        return Ratings.from_csr(data)
    if isinstance(data, tuple) and len(data) == 3:
        users, items, values = (np.asarray(a) for a in data)
        return Ratings(users, items, values)
    raise TypeError(
        f"{name} must be a Ratings, a scipy.sparse matrix (users x items) or a tuple "
        f"(users, items, values) of index arrays; got {type(data).__name__}."
    )


def torch_csr(crow, col, values, shape, check_invariants: bool = False):
    """A ``torch.sparse_csr_tensor`` from row pointers, column indices and values, without the
    warnings torch prints on every construction (CSR support "in beta", invariant checks)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=check_invariants)


def _py(x):
    """A numpy scalar as a plain Python value (hashable the same way as user input)."""
    return x.item() if isinstance(x, np.generic) else x


def _as_index_array(a, name: str) -> np.ndarray:
    a = np.asarray(a)
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
        raise ValueError(
            f"{name} must be non-negative indices; found {a[j]} at position {j}."
        )
    return a


def index_array(a, n: int, name: str, kind: str = "user") -> np.ndarray:
    """``a`` as an int64 array of indices, each checked to lie in ``0..n-1``.

    Models call this on the ``users`` / ``items`` given to ``predict``: an index outside the
    fitted shape is an error that names it, never a silent wrap-around.
    """
    arr = np.atleast_1d(np.asarray(a))
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must be integer {kind} indices; got dtype {arr.dtype}. Map original ids "
            f"with Ratings.{kind}_index(id)."
        )
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise IndexError(
            f"{name} holds {kind} index {arr[j]} (position {j}), outside 0..{n - 1}: the model "
            f"was fitted on {n} {kind}s. Unknown {kind}s need a refit (or fold-in)."
        )
    return arr


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


def _id_map(ids, n: int, arg: str, size_arg: str) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"{arg} must hold one id per index ({size_arg}={n}); got shape {ids.shape}.")
    return ids


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


# --------------------------------------------------------------------------------------
# Small data that needs no network
# --------------------------------------------------------------------------------------
#: The 5 x 4 toy matrix of the post this book starts from: 5 users, 4 items, 0 = not rated.
TOY_MATRIX = np.array(
    [
        [5, 3, 0, 1],
        [4, 0, 0, 1],
        [1, 1, 0, 5],
        [1, 0, 0, 4],
        [0, 1, 5, 4],
    ],
    dtype=np.float64,
)


def toy_ratings() -> Ratings:
    """The toy matrix as `Ratings`: its zeros are *missing* ratings, not ratings of zero."""
    return Ratings.from_dense(TOY_MATRIX, missing=0, name="toy")


def synthetic_ratings(
    n_users: int = 1000,
    n_items: int = 500,
    nnz: int = 20_000,
    rank: int = 8,
    *,
    kind: Literal["explicit", "implicit"] = "explicit",
    noise: float = 0.5,
    popularity_exponent: float = 1.0,
    seed: int = 0,
) -> Ratings:
    """Ratings drawn from a low-rank model, with long-tailed item popularity.

    Each user u and item i get latent vectors ``p_u, q_i ~ N(0, I_rank / sqrt(rank))``; the
    observed pairs are sampled without replacement with item probability proportional to
    ``(rank of item popularity)^(-popularity_exponent)`` (a Zipf law) and user probability
    drawn from a log-normal activity. For ``kind="explicit"`` the value is
    ``clip(round(3 + 1.2 * p_u . q_i / std + noise * eps), 1, 5)``: integer stars 1..5.
    For ``kind="implicit"`` it is a count ``1 + Poisson(exp(p_u . q_i / std))``.

    Every user and every item index gets at least one rating so the shape is exactly
    ``n_users x n_items``.
    """
    for arg, val in (("n_users", n_users), ("n_items", n_items), ("rank", rank)):
        if int(val) < 1:
            raise ValueError(f"{arg} must be at least 1; got {val}.")
    if kind not in ("explicit", "implicit"):
        raise ValueError(f"kind must be 'explicit' or 'implicit'; got {kind!r}.")
    cells = n_users * n_items
    if not max(n_users, n_items) <= nnz <= cells:
        raise ValueError(
            f"nnz must be between max(n_users, n_items) = {max(n_users, n_items)} (every user "
            f"and item rated once) and n_users * n_items = {cells}; got {nnz}."
        )
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, n_items + 1) ** popularity_exponent
    item_p = rng.permutation(item_p / item_p.sum())
    user_p = rng.lognormal(0.0, 1.0, n_users)
    user_p /= user_p.sum()
    # one guaranteed rating per user and per item, then popularity-weighted extra pairs
    key = np.concatenate([
        np.arange(n_users) * n_items + rng.integers(0, n_items, n_users),
        rng.integers(0, n_users, n_items) * n_items + np.arange(n_items),
    ])
    key = np.unique(key)
    user_cdf, item_cdf = np.cumsum(user_p), np.cumsum(item_p)
    while len(key) < nnz:
        # draw pairs by popularity, keep new ones in order of first appearance (sequential
        # sampling without replacement)
        need = nnz - len(key)
        batch = 3 * need + 64
        extra = (np.minimum(np.searchsorted(user_cdf, rng.random(batch)), n_users - 1) * n_items
                 + np.minimum(np.searchsorted(item_cdf, rng.random(batch)), n_items - 1))
        uniq, first = np.unique(extra, return_index=True)
        fresh = ~np.isin(uniq, key, assume_unique=True)
        uniq, first = uniq[fresh], first[fresh]
        key = np.union1d(key, uniq[np.argsort(first)][:need])
    key = rng.permutation(key)
    u, i = key // n_items, key % n_items
    p = rng.normal(0, 1 / np.sqrt(rank), (n_users, rank))
    q = rng.normal(0, 1 / np.sqrt(rank), (n_items, rank))
    score = np.einsum("jk,jk->j", p[u], q[i])
    score /= score.std() + 1e-12
    if kind == "explicit":
        values = np.clip(np.round(3 + 1.2 * score + noise * rng.standard_normal(len(u))), 1, 5)
    else:
        values = 1.0 + rng.poisson(np.exp(score))
    return Ratings(u, i, values, n_users, n_items, name=f"synthetic-{kind}")


# --------------------------------------------------------------------------------------
# Splits: seeded, and leak-free (every rating lands in exactly one side)
# --------------------------------------------------------------------------------------
def train_test_split(
    ratings: Ratings, test_fraction: float = 0.2, *, seed: int = 0
) -> tuple[Ratings, Ratings]:
    """Random holdout: a seeded ``test_fraction`` of the ratings goes to test.

    Both parts keep the full index space, so a user index means the same user
    in each. A user or item may have all its ratings in test (a cold start);
    models must handle that.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            "test_fraction must be strictly between 0 and 1; "
            f"got {test_fraction}."
        )
    n_test = int(round(test_fraction * ratings.nnz))
    if not 0 < n_test < ratings.nnz:
        raise ValueError(
            f"test_fraction={test_fraction} of {ratings.nnz} ratings "
            "leaves one side empty."
        )
    perm = np.random.default_rng(seed).permutation(ratings.nnz)
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return ratings.subset(train_idx), ratings.subset(test_idx)


def kfold(ratings: Ratings, k: int = 5, *, seed: int = 0) -> Iterator[tuple[Ratings, Ratings]]:
    """``k`` (train, test) pairs; each rating is in exactly one test fold."""
    if not 2 <= k <= ratings.nnz:
        raise ValueError(f"k must be between 2 and the number of ratings; got {k}.")
    perm = np.random.default_rng(seed).permutation(ratings.nnz)
    folds = np.array_split(perm, k)
    for f in range(k):
        test = np.sort(folds[f])
        train = np.sort(np.concatenate([folds[g] for g in range(k) if g != f]))
        yield ratings.subset(train), ratings.subset(test)


def per_user_holdout(
    ratings: Ratings,
    n_test: int = 5,
    *,
    by: Literal["random", "time"] = "random",
    min_train: int = 1,
    seed: int = 0,
) -> tuple[Ratings, Ratings]:
    """Hold out ``n_test`` ratings of every user (for ranking metrics).

    ``by="random"`` picks them at random; ``by="time"`` picks each user's latest ratings
    (ties broken at random). Users with fewer than ``n_test + min_train`` ratings keep them
    all in train, so every test user has at least ``min_train`` training ratings.
    """
    if n_test < 1 or min_train < 0:
        raise ValueError(f"need n_test >= 1 and min_train >= 0; got {n_test} and {min_train}.")
    if by not in ("random", "time"):
        raise ValueError(f"by must be 'random' or 'time'; got {by!r}.")
    rng = np.random.default_rng(seed)
    tie = rng.random(ratings.nnz)
    if by == "time":
        if ratings.timestamps is None:
            raise ValueError("by='time' needs timestamps, and these ratings have none.")
        order = np.lexsort((tie, -ratings.timestamps, ratings.users))
    else:
        order = np.lexsort((tie, ratings.users))
    counts = ratings.user_counts()
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(ratings.nnz, dtype=np.int64)
    rank[order] = np.arange(ratings.nnz) - start[ratings.users[order]]
    eligible = counts[ratings.users] >= n_test + min_train
    is_test = (rank < n_test) & eligible
    if not is_test.any():
        raise ValueError(
            f"no user has {n_test + min_train} ratings, so nothing can be held out; lower n_test."
        )
    return ratings.subset(np.flatnonzero(~is_test)), ratings.subset(np.flatnonzero(is_test))


# --------------------------------------------------------------------------------------
# MovieLens: pinned files, cache folders, verified downloads, safe extraction
# --------------------------------------------------------------------------------------
class ChecksumError(ValueError):
    """A file's size or sha256 is not the pinned one: it is not used."""


class DatasetUnavailableError(FileNotFoundError):
    """The dataset is in none of the data folders and could not be downloaded."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from and what its files must hash to.

    ``files`` maps each file the loader reads (relative to ``folder``) to its sha256;
    ``ratings_file`` is the one that identifies a pre-extracted folder.
    """

    name: str
    url: str
    zip_size: int
    zip_sha256: str
    folder: str
    ratings_file: str
    files: dict


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"

DATASETS: dict[str, DatasetSpec] = {
    "ml-latest-small": DatasetSpec(
        "ml-latest-small", _GROUPLENS + "ml-latest-small.zip", 978202,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        "ml-latest-small", "ratings.csv",
        {
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        },
    ),
    "ml-100k": DatasetSpec(
        "ml-100k", _GROUPLENS + "ml-100k.zip", 4924029,
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "ml-100k", "u.data",
        {
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
            "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
            "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
            "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
            "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
            "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
            "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
            "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
            "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
            "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
            "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
            "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
            "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
            "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
        },
    ),
    "ml-1m": DatasetSpec(
        "ml-1m", _GROUPLENS + "ml-1m.zip", 5917549,
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "ml-1m", "ratings.dat",
        {
            "ratings.dat": "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f",
            "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
        },
    ),
}


def default_data_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/als_lib`` (``~/.cache/als_lib``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "als_lib"


def _candidate_dirs(data_dir) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    dirs = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(default_data_dir())
    return dirs


def _writable(path: Path) -> bool:
    """May we create files here? A folder without write bits counts as read-only even for
    root (CI's pre-seeded copy is such a folder): we never write into it."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    try:
        mode = probe.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(probe, os.W_OK)


def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(data_or_path, expected: str, what: str) -> None:
    actual = (
        hashlib.sha256(data_or_path).hexdigest() if isinstance(data_or_path, bytes)
        else _sha256_file(data_or_path)
    )
    if actual != expected:
        raise ChecksumError(
            f"{what} has the wrong checksum: expected sha256 {expected}, got {actual}. The file "
            "is damaged or not the GroupLens original, so it is not used. Delete it (a fresh "
            "download replaces it) or put the original in its place."
        )


def _check_zip(path: Path, spec: DatasetSpec) -> None:
    size = path.stat().st_size
    if size != spec.zip_size:
        raise ChecksumError(
            f"{path} is {size} bytes but {spec.name}.zip must be {spec.zip_size} bytes "
            f"({'truncated: an interrupted download?' if size < spec.zip_size else 'too long'}). "
            "It is not used. Delete it and download it again."
        )
    _check_sha256(path, spec.zip_sha256, str(path))


def _safe_members(zf: zipfile.ZipFile, target: Path) -> list[zipfile.ZipInfo]:
    """Every member of ``zf``, after checking that none would land outside ``target``."""
    root = target.resolve()
    members = zf.infolist()
    for m in members:
        name = m.filename
        dest = (root / name).resolve()
        if (
            name.startswith(("/", "\\")) or ":" in name.split("/")[0]
            or (dest != root and root not in dest.parents)
        ):
            raise ValueError(
                f"refusing to extract {name!r} from {zf.filename}: the path escapes the target "
                f"folder {target}. The archive is unsafe; it was not extracted."
            )
        if stat.S_ISLNK(m.external_attr >> 16):
            raise ValueError(f"refusing to extract {name!r} from {zf.filename}: it is a symbolic link.")
    return members


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ValueError(
            f"{path} is not a readable zip archive ({e}); it may be truncated. Delete it and "
            "download it again."
        ) from None


def _extract(zip_path: Path, dest_dir: Path) -> None:
    """Extract into a temporary folder beside the target, then rename: never half a folder."""
    with _open_zip(zip_path) as zf:
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
        try:
            members = _safe_members(zf, tmp)
            zf.extractall(tmp, members)
            for child in tmp.iterdir():
                final = dest_dir / child.name
                if not final.exists():
                    os.replace(child, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _download(spec: DatasetSpec, dest_dir: Path, progress: bool = True) -> Path:
    """Fetch ``spec.url`` into ``dest_dir``: written to a temporary file, renamed only once the
    size and sha256 match."""
    from tqdm import tqdm

    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / f"{spec.name}.zip"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}-", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        try:
            response = urllib.request.urlopen(spec.url, timeout=30)
        except (urllib.error.URLError, OSError) as e:
            raise DatasetUnavailableError(_offline_message(spec, dest_dir, e)) from None
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, response, tqdm(
            total=spec.zip_size, unit="B", unit_scale=True, desc=f"{spec.name}.zip",
            disable=not progress,
        ) as bar:
            while block := response.read(1 << 16):
                out.write(block)
                h.update(block)
                bar.update(len(block))
        size = tmp.stat().st_size
        if size != spec.zip_size or h.hexdigest() != spec.zip_sha256:
            raise ChecksumError(
                f"the download of {spec.url} does not match: expected {spec.zip_size} bytes with "
                f"sha256 {spec.zip_sha256}, got {size} bytes with sha256 {h.hexdigest()}. It was "
                "discarded; try again, or fetch the file by hand and check it."
            )
        os.replace(tmp, final)
        return final
    finally:
        if tmp.exists():
            tmp.unlink()


def _offline_message(spec: DatasetSpec, folder: Path, reason=None) -> str:
    why = f" ({reason})" if reason else ""
    return (
        f"{spec.name} is not available offline and could not be downloaded from {spec.url}"
        f"{why}. Download that file on a machine with internet access and put it at "
        f"{folder / (spec.name + '.zip')} (or its extracted folder at {folder / spec.folder}), "
        f"or set the environment variable {DATA_DIR_ENV} to a folder that holds it."
    )


class _Source:
    """Reads a dataset's files, verified, from an extracted folder or straight from its zip."""

    def __init__(self, spec: DatasetSpec, folder: Path | None = None, zip_path: Path | None = None):
        self.spec, self.folder, self.zip_path = spec, folder, zip_path

    def read(self, name: str) -> bytes:
        expected = self.spec.files.get(name)
        if self.folder is not None:
            path = self.folder / name
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing from the {self.spec.name} folder.")
            data = path.read_bytes()
            what = str(path)
        else:
            with _open_zip(self.zip_path) as zf:
                _safe_members(zf, Path(self.spec.folder))
                member = f"{self.spec.folder}/{name}"
                try:
                    data = zf.read(member)
                except KeyError:
                    raise FileNotFoundError(f"{member} is missing from {self.zip_path}.") from None
            what = f"{self.zip_path}:{member}"
        if expected is not None:
            _check_sha256(data, expected, what)
        return data


def _locate(spec: DatasetSpec, data_dir=None, download: bool = True, progress: bool = True) -> _Source:
    """Find a verified copy of ``spec`` in the data folders, downloading it if none has one."""
    dirs = _candidate_dirs(data_dir)
    for d in dirs:
        folder = d / spec.folder
        if (folder / spec.ratings_file).is_file():
            _check_sha256(folder / spec.ratings_file, spec.files[spec.ratings_file],
                          str(folder / spec.ratings_file))
            return _Source(spec, folder=folder)
        zip_path = d / f"{spec.name}.zip"
        if zip_path.is_file():
            _check_zip(zip_path, spec)
            if _writable(d):
                _extract(zip_path, d)
                return _Source(spec, folder=folder)
            return _Source(spec, zip_path=zip_path)  # read-only: read in place
    target = next((d for d in dirs if _writable(d)), None)
    if target is None:
        raise DatasetUnavailableError(
            _offline_message(spec, dirs[-1], "no writable data folder among "
                             + ", ".join(str(d) for d in dirs))
        )
    if not download:
        raise DatasetUnavailableError(_offline_message(spec, target, "download=False"))
    zip_path = _download(spec, target, progress=progress)
    _extract(zip_path, target)
    return _Source(spec, folder=target / spec.folder)


def _parse_table(data: bytes, sep: bytes, ncols: int, what: str, header: bool = False) -> np.ndarray:
    """Numeric table -> float64 array (rows x ncols), refusing malformed lines."""
    text = data.replace(b"\r\n", b"\n")
    lines = text.split(b"\n")
    if header:
        lines = lines[1:]
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    tokens = b" ".join(lines).replace(sep, b" ").split()
    if len(tokens) != ncols * len(lines):
        for n, line in enumerate(lines, start=2 if header else 1):
            if len(line.replace(sep, b" ").split()) != ncols:
                raise ValueError(f"{what}, line {n}: expected {ncols} fields, got {line!r}.")
    try:
        return np.array(tokens, dtype=np.float64).reshape(-1, ncols)
    except ValueError as e:
        raise ValueError(f"{what}: a field is not a number ({e}).") from None


def _ratings_from_table(table: np.ndarray, titles: dict | None, name: str) -> Ratings:
    return Ratings.from_arrays(
        table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2],
        table[:, 3].astype(np.int64), item_titles=titles, name=name,
    )


def _titles(src: _Source) -> dict:
    name = src.spec.name
    if name == "ml-100k":
        text = src.read("u.item").decode("latin-1")
        return {int(f[0]): f[1] for f in (line.split("|") for line in text.splitlines() if line)}
    if name == "ml-1m":
        text = src.read("movies.dat").decode("latin-1")
        return {int(f[0]): f[1] for f in (line.split("::") for line in text.splitlines() if line)}
    text = src.read("movies.csv").decode("utf-8")
    rows = csv.reader(io.StringIO(text, newline=""))
    next(rows)
    return {int(r[0]): r[1] for r in rows}


def _read_ratings_table(src: _Source, file: str) -> np.ndarray:
    what = f"{src.spec.name}/{file}"
    if src.spec.name == "ml-latest-small":
        return _parse_table(src.read(file), b",", 4, what, header=True)
    if src.spec.name == "ml-1m":
        return _parse_table(src.read(file), b"::", 4, what)
    return _parse_table(src.read(file), b"\t", 4, what)


def load_movielens(
    name: str = "ml-100k",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> Ratings:
    """Load a MovieLens dataset as `Ratings`, with item titles and timestamps.

    Parameters
    ----------
    name : ``"ml-100k"``, ``"ml-latest-small"`` or ``"ml-1m"`` (see `DATASETS`).
    data_dir : the folder to look in (and download to). Default: the folder named by the
        environment variable ``ALS_LIB_DATA_DIR`` if set, then `default_data_dir()`.
    download : fetch from GroupLens when no folder has the data.
    progress : show a progress bar while downloading.

    A folder may hold the zip (``ml-100k.zip``) or the extracted folder (``ml-100k/``).
    Every file read is checked against its pinned sha256 first; a mismatch raises
    `ChecksumError` and the file is not used. A folder without write permission (a shared,
    pre-seeded copy) is read in place and never written to.
    """
    spec = _spec(name)
    src = _locate(spec, data_dir, download, progress)
    return _ratings_from_table(_read_ratings_table(src, spec.ratings_file), _titles(src), name)


def load_movielens_fold(
    fold: int | str = 1,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> tuple[Ratings, Ratings]:
    """One of ml-100k's official splits as ``(train, test)``, for published protocols.

    ``fold`` is 1..5 (``u1``..``u5``: five disjoint 80/20 splits) or ``"a"``/``"b"``
    (``ua``/``ub``: exactly 10 ratings per user in test). Both parts use the index space of
    the whole of ``u.data``, so they line up with `load_movielens("ml-100k")`.
    """
    spec = DATASETS["ml-100k"]
    key = f"u{fold}"
    if f"{key}.base" not in spec.files:
        raise ValueError(f"fold must be 1, 2, 3, 4, 5, 'a' or 'b'; got {fold!r}.")
    src = _locate(spec, data_dir, download, progress)
    full = _ratings_from_table(_read_ratings_table(src, spec.ratings_file), _titles(src), "ml-100k")
    parts = []
    for part in ("base", "test"):
        t = _read_ratings_table(src, f"{key}.{part}")
        u = np.searchsorted(full.user_ids, t[:, 0].astype(np.int64))
        i = np.searchsorted(full.item_ids, t[:, 1].astype(np.int64))
        parts.append(Ratings(
            u, i, t[:, 2], full.n_users, full.n_items, t[:, 3].astype(np.int64),
            full.user_ids, full.item_ids, full.item_titles, f"ml-100k {key}.{part}",
        ))
    return parts[0], parts[1]


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}."
        ) from None
