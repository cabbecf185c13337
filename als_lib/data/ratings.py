"""The `Ratings` container: the observed entries ``Omega`` of a users x items matrix, in COO form.

Also `as_ratings` (what every model's ``fit`` accepts) and `index_array` (the range check of
the indices given to ``predict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import scipy.sparse as sp

from ._checks import (
    _as_index_array,
    _check_unique_pairs,
    _id_map,
    _merge_duplicates,
    _raw_id_array,
    _shape_dim,
    _timestamps,
    _titles,
    _values,
)

__all__ = ["Ratings", "as_ratings", "index_array"]

Duplicates = Literal["raise", "mean", "last"]

_FIELDS = (
    "users", "items", "values", "n_users", "n_items", "timestamps",
    "user_ids", "item_ids", "item_titles", "name",
)


@dataclass(frozen=True, eq=False)
class Ratings:
    """Observed ratings ``r_ui, (u, i) in Omega`` of an ``n_users x n_items`` matrix.

    Parameters
    ----------
    users : array_like of int
        User index ``u`` of each rating, in ``0..n_users-1``.
    items : array_like of int
        Item index ``i`` of each rating, in ``0..n_items-1``.
    values : array_like of float
        The ratings ``r_ui`` (finite).
    n_users, n_items : int, optional
        The matrix shape; default ``max(index) + 1``.
    timestamps : array_like of int, optional
        Time of each rating (seconds since the epoch).
    user_ids, item_ids : array_like, optional
        Original id of each index (``user_ids[u]`` is the id of user ``u`` in the source
        file); default the indices themselves.
    item_titles : array_like of str, optional
        Title of each item index.
    name : str
        A label shown in ``repr``.

    Raises
    ------
    ValueError
        Empty data, arrays of different lengths, negative or out-of-range indices, NaN or
        infinite values, or a (user, item) pair that occurs more than once.
    TypeError
        Non-integer indices or non-numeric values.

    Notes
    -----
    A `Ratings` is immutable: the constructor copies the arrays it is given and every array
    attribute is read-only (``flags.writeable`` is False), so neither the caller nor a model
    can change it afterwards. Each (user, item) pair appears at most once: a matrix entry has
    one value; `Ratings.from_arrays` with ``duplicates="mean"`` or ``"last"`` merges repeats.
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

    def __post_init__(self) -> None:
        # Every public construction (including dataclasses.replace) is checked, on copies.
        users = _as_index_array(self.users, "users")
        items = _as_index_array(self.items, "items")
        values = _values(self.values, users, items)
        n_users = _shape_dim(self.n_users, users, "users", "n_users")
        n_items = _shape_dim(self.n_items, items, "items", "n_items")
        timestamps = None if self.timestamps is None else _timestamps(self.timestamps, values)
        titles = None if self.item_titles is None else _titles(self.item_titles, n_items)
        _check_unique_pairs(users, items, n_items)
        _assign(
            self, users, items, values, n_users, n_items, timestamps,
            _id_map(self.user_ids, n_users, "user_ids", "n_users"),
            _id_map(self.item_ids, n_items, "item_ids", "n_items"), titles, self.name,
        )

    @classmethod
    def _trusted(
        cls, users, items, values, n_users: int, n_items: int, timestamps=None,
        user_ids=None, item_ids=None, item_titles=None, name: str = "",
    ) -> Ratings:
        """A `Ratings` without the checks, for arrays the library derived itself from data
        already checked (a subset of a `Ratings`, a split, a generated sample).

        The arrays are taken as they are (not copied) and made read-only, so they must be
        fresh or already read-only. Never call this on arrays a user handed in.
        """
        self = object.__new__(cls)
        _assign(
            self, np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64),
            np.asarray(values, dtype=np.float64), int(n_users), int(n_items),
            None if timestamps is None else np.asarray(timestamps, dtype=np.int64),
            np.arange(n_users) if user_ids is None else user_ids,
            np.arange(n_items) if item_ids is None else item_ids, item_titles, name,
        )
        return self

    def __reduce__(self):
        # pickle and copy rebuild through the checked constructor: never an unchecked object
        return (type(self), tuple(getattr(self, f) for f in _FIELDS))

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
    ) -> Ratings:
        """Build from original ids (any non-negative integers or strings).

        Ids are mapped to contiguous indices in sorted order:
        ``user_ids[u]`` gives back the original id. Only ids that occur get
        an index.

        Parameters
        ----------
        users, items : array_like
            Original user and item id of each rating.
        values : array_like of float
            The ratings.
        timestamps : array_like of int, optional
            Time of each rating.
        duplicates : {"raise", "mean", "last"}
            What to do when a (user, item) pair occurs more than once:
            ``"raise"`` refuses the data; ``"mean"`` keeps the mean rating
            (and the latest timestamp); ``"last"`` keeps the latest one, by
            timestamp when given, else by position.
        item_titles : dict, optional
            Mapping from original item id to title.
        name : str
            A label shown in ``repr``.

        Returns
        -------
        Ratings

        Raises
        ------
        ValueError
            Empty data, negative or non-integer numeric ids, an unknown
            ``duplicates`` policy, or any error of the `Ratings`
            constructor.
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
    def from_csr(cls, matrix: sp.spmatrix | sp.sparray, *, name: str = "") -> Ratings:
        """Build from a scipy sparse matrix (users x items).

        Parameters
        ----------
        matrix : scipy.sparse matrix or scipy.sparse array
            Users x items. Every *stored* entry is an observed rating (an explicitly stored 0
            is a rating of 0); entries that are not stored are missing.
        name : str
            A label shown in ``repr``.

        Returns
        -------
        Ratings

        Raises
        ------
        TypeError
            ``matrix`` is not sparse.
        ValueError
            A COO matrix with repeated coordinates (refused rather than summed).
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
    def from_dense(cls, matrix: np.ndarray, *, missing: float, name: str = "") -> Ratings:
        """Build from a dense users x items array in which ``missing`` marks "not rated".

        Parameters
        ----------
        matrix : array_like
            The ratings matrix (2-D, users x items).
        missing : float
            The marker of unrated entries, required because a dense array cannot say which
            entries are ratings: the book's toy matrix writes 0 for "not rated"
            (``missing=0``); ``missing=np.nan`` reads NaN as missing. Entries equal to
            ``missing`` are left out.
        name : str
            A label shown in ``repr``.

        Returns
        -------
        Ratings

        Raises
        ------
        ValueError
            ``matrix`` is not 2-D, ``missing`` is None, or the matrix holds NaN while
            ``missing`` is not NaN.
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
        """int: Number of observed ratings ``|Omega|``."""
        return len(self.values)

    def __len__(self) -> int:
        return self.nnz

    @property
    def shape(self) -> tuple[int, int]:
        """tuple of int: ``(n_users, n_items)``."""
        return (self.n_users, self.n_items)

    @property
    def density(self) -> float:
        """float: ``|Omega| / (n_users * n_items)``, the fraction of the matrix that is
        observed."""
        return self.nnz / (self.n_users * self.n_items)

    def user_counts(self) -> np.ndarray:
        """``n_u``, the number of ratings of each user.

        Returns
        -------
        numpy.ndarray
            int64, length ``n_users``.
        """
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """``n_i``, the number of ratings of each item.

        Returns
        -------
        numpy.ndarray
            int64, length ``n_items``.
        """
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

    def _lookup(self, table: dict, id_, kind: str) -> int:
        try:
            return table[_py(id_)]
        except KeyError:
            raise KeyError(
                f"unknown {kind} id {id_!r}: it does not occur in {self!r}."
            ) from None

    def user_index(self, user_id) -> int:
        """The index of the user whose original id is ``user_id``.

        Parameters
        ----------
        user_id : int or str
            An id of `user_ids` (as in the source file).

        Returns
        -------
        int
            The user index ``u``.

        Raises
        ------
        KeyError
            The id does not occur in these ratings.
        """
        return self._lookup(self._user_lookup, user_id, "user")

    def item_index(self, item_id) -> int:
        """The index of the item whose original id is ``item_id``.

        Parameters
        ----------
        item_id : int or str
            An id of `item_ids` (as in the source file).

        Returns
        -------
        int
            The item index ``i``.

        Raises
        ------
        KeyError
            The id does not occur in these ratings.
        """
        return self._lookup(self._item_lookup, item_id, "item")

    def title(self, item: int) -> str:
        """Title of item index ``item`` (its original id when there are no titles).

        Parameters
        ----------
        item : int
            An item index.

        Returns
        -------
        str
            The title, or the original id as text.

        Raises
        ------
        IndexError
            ``item`` is outside ``0..n_items-1``.
        """
        if not 0 <= item < self.n_items:
            raise IndexError(f"item index {item} is out of range 0..{self.n_items - 1}.")
        if self.item_titles is None:
            return str(self.item_ids[item])
        return str(self.item_titles[item])

    # ----- conversions -------------------------------------------------------------------
    def to_csr(self) -> sp.csr_matrix:
        """The ratings as a scipy CSR matrix (users x items); missing entries are not stored.

        For a torch sparse tensor use `als_lib.linalg.ratings_csr`.

        Returns
        -------
        scipy.sparse.csr_matrix
            Float64, of shape `shape`.
        """
        return sp.csr_matrix((self.values, (self.users, self.items)), shape=self.shape)

    def to_dense(self, missing: float = np.nan, max_entries: int = 10_000_000) -> np.ndarray:
        """A dense users x items array with ``missing`` in unrated entries (small data only).

        Parameters
        ----------
        missing : float
            The value of unrated entries.
        max_entries : int
            The largest array built (a guard against running out of memory).

        Returns
        -------
        numpy.ndarray
            Float64, of shape `shape`.

        Raises
        ------
        ValueError
            The array would have more than ``max_entries`` entries.
        """
        if self.n_users * self.n_items > max_entries:
            raise ValueError(
                f"a dense {self.n_users} x {self.n_items} array has more than {max_entries} "
                "entries; use to_csr() instead, or raise max_entries if you mean it."
            )
        out = np.full(self.shape, missing, dtype=np.float64)
        out[self.users, self.items] = self.values
        return out

    def subset(self, index: np.ndarray, name: str | None = None) -> Ratings:
        """The ratings at positions ``index``, in the same index space and with the same ids.

        Parameters
        ----------
        index : array_like of int or bool
            Positions to keep (each at most once), or a mask of length ``nnz``.
        name : str, optional
            Label of the result; default this one's.

        Returns
        -------
        Ratings

        Raises
        ------
        ValueError
            A mask of the wrong length, an empty selection or a repeated position.
        """
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self.nnz,):
                raise ValueError(
                    f"a boolean index must have length {self.nnz}; got {index.shape}."
                )
            index = np.flatnonzero(index)
        if len(index) == 0:
            raise ValueError("subset: the index selects no ratings; a Ratings cannot be empty.")
        if len(np.unique(index)) != len(index):
            raise ValueError("subset: the index repeats positions; each rating may appear once.")
        return Ratings._trusted(
            self.users[index], self.items[index], self.values[index], self.n_users,
            self.n_items, None if self.timestamps is None else self.timestamps[index],
            self.user_ids, self.item_ids, self.item_titles,
            self.name if name is None else name,
        )


def as_ratings(data, name: str = "ratings") -> Ratings:
    """Accept what every model's ``fit`` accepts and return a `Ratings`.

    Parameters
    ----------
    data : Ratings, scipy.sparse matrix or tuple
        A `Ratings` (returned as is), a sparse users x items matrix, or a tuple
        ``(users, items, values)`` of index arrays.
    name : str
        The argument's name, for the error message.

    Returns
    -------
    Ratings

    Raises
    ------
    TypeError
        ``data`` is none of these.
    """
    if isinstance(data, Ratings):
        return data
    if sp.issparse(data):
        return Ratings.from_csr(data)
    if isinstance(data, tuple) and len(data) == 3:
        return Ratings(*data)
    raise TypeError(
        f"{name} must be a Ratings, a scipy.sparse matrix (users x items) or a tuple "
        f"(users, items, values) of index arrays; got {type(data).__name__}."
    )


def index_array(a, n: int, name: str, kind: str = "user") -> np.ndarray:
    """``a`` as an int64 array of indices, each checked to lie in ``0..n-1``.

    Models call this on the ``users`` / ``items`` given to ``predict``: an index outside the
    fitted shape is an error that names it, never a silent wrap-around.

    Parameters
    ----------
    a : array_like of int
        The indices (a scalar is read as one index).
    n : int
        Number of users (or items) the model was fitted on.
    name : str
        The argument's name, for the error message.
    kind : str
        ``"user"`` or ``"item"``, for the error message.

    Returns
    -------
    numpy.ndarray
        A 1-D int64 array.

    Raises
    ------
    TypeError
        Non-integer indices.
    IndexError
        An index outside ``0..n-1``.
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


# ----- private helpers ------------------------------------------------------------------
def _assign(obj: Ratings, *values) -> None:
    """Set the fields of a (frozen) `Ratings`, every array made read-only."""
    for name, value in zip(_FIELDS, values):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        object.__setattr__(obj, name, value)


def _py(x):
    """A numpy scalar as a plain Python value (hashable the same way as user input)."""
    return x.item() if isinstance(x, np.generic) else x
