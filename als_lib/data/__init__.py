"""Ratings data: the `Ratings` container, MovieLens loaders, splits and small offline data.

Notation (see the book's notation table): users ``u = 0..m-1``, items ``i = 0..n-1``, the
ratings matrix ``R`` (m x n) of which only the set ``Omega`` of (u, i) pairs is observed.
A `Ratings` stores ``Omega`` in coordinate (COO) form: three equal-length arrays
``users[j], items[j], values[j]`` for ``j = 0..|Omega|-1``. An entry that is not stored is
*missing* (not rated); it is never a zero rating.

Modules, by concern:

- `als_lib.data.ratings`: the immutable `Ratings` container, `as_ratings`, `index_array`;
- `als_lib.data.movielens`: `load_movielens`, `load_movielens_fold`, `movie_genres` and the
  pinned `DATASETS` (data folders, verified downloads, safe extraction, parsing);
- `als_lib.data.splits`: `train_test_split`, `kfold`, `per_user_holdout`;
- `als_lib.data.synthetic`: the toy matrix and `synthetic_ratings`.

This layer needs numpy, scipy and (to read MovieLens) pandas and pooch; it never imports
torch nor the rest of `als_lib`. For a torch sparse tensor see `als_lib.linalg.ratings_csr`.
"""

from .movielens import (
    DATA_DIR_ENV,
    DATASETS,
    ChecksumError,
    DatasetSpec,
    DatasetUnavailableError,
    default_data_dir,
    load_movielens,
    load_movielens_fold,
    movie_genres,
)
from .ratings import Ratings, as_ratings, index_array
from .splits import kfold, per_user_holdout, train_test_split
from .synthetic import TOY_MATRIX, synthetic_ratings, toy_ratings

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "TOY_MATRIX",
    "ChecksumError",
    "DatasetSpec",
    "DatasetUnavailableError",
    "Ratings",
    "as_ratings",
    "default_data_dir",
    "index_array",
    "kfold",
    "load_movielens",
    "load_movielens_fold",
    "movie_genres",
    "per_user_holdout",
    "synthetic_ratings",
    "toy_ratings",
    "train_test_split",
]
