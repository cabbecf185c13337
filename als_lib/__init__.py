"""als_lib: Alternating Least Squares for recommender systems, built chapter by chapter.

The public API is re-exported here; each module maps to the chapter that introduces it.
"""

from .als import ExplicitALS
from .bayes import BayesianALS
from .baselines import BiasBaseline, GlobalMean, ItemMean, Popularity, UserMean
from .data import (
    DATA_DIR_ENV,
    DATASETS,
    TOY_MATRIX,
    ChecksumError,
    DatasetUnavailableError,
    Ratings,
    as_ratings,
    default_data_dir,
    kfold,
    load_movielens,
    load_movielens_fold,
    movie_genres,
    per_user_holdout,
    synthetic_ratings,
    toy_ratings,
    train_test_split,
)
from .evaluation import evaluate_ranking, top_k
from .gd import GradientDescentMF
from .implicit import Explanation, ImplicitALS
from .metrics import mae, ranking_metrics, rmse
from .model import (
    DivergenceError,
    Estimator,
    FactorModel,
    FoldIn,
    NotFittedError,
    Recommender,
)
from .selection import SearchResult, grid, random_candidates, search
from . import threads
from .objective import FactorParams, RatingTensors, objective, predict

__version__ = "0.1.0"

__all__ = [
    "Ratings", "load_movielens", "load_movielens_fold", "toy_ratings", "TOY_MATRIX",
    "synthetic_ratings", "train_test_split", "kfold", "per_user_holdout", "default_data_dir",
    "DATASETS", "DATA_DIR_ENV", "ChecksumError", "DatasetUnavailableError", "as_ratings",
    "GlobalMean", "UserMean", "ItemMean", "BiasBaseline", "rmse", "mae",
    "FactorParams", "RatingTensors", "objective", "predict", "GradientDescentMF", "DivergenceError",
    "ExplicitALS", "FoldIn", "Estimator", "Recommender", "FactorModel", "NotFittedError",
    "ImplicitALS", "Explanation", "Popularity", "ranking_metrics", "evaluate_ranking", "top_k",
    "BayesianALS", "grid", "random_candidates", "search", "SearchResult",
    "movie_genres",
]
