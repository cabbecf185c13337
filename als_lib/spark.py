r"""Spark MLlib's ALS from an als_lib workflow (Chapter 9).

Spark's explicit ALS minimises, with the user side fixed, for each item
:math:`i`

.. math::
    \sum_{u \in U_i} (r_{ui} - \mathbf{u}_u^\top\mathbf{v}_i)^2
    + \lambda\, n_i \lVert\mathbf{v}_i\rVert^2

(ALS-WR: :math:`\lambda` times the item's number of ratings), and the same
for the users: `~als_lib.als.ExplicitALS` with ``weighted_reg=True,
biases=False, center=False``. Its implicit ALS uses the confidence
:math:`c_{ui} = 1 + \alpha |r_{ui}|`, preference 1 for :math:`r_{ui} > 0`
and :math:`\lambda n_u`: `~als_lib.implicit.ImplicitALS` with
``alpha=alpha, reg_exponent=1``.

- `spark_session`: a local or cluster ``SparkSession`` whose JVM output
  stays out of notebooks and logs.
- `to_spark`: a `~als_lib.data.Ratings` as a Spark DataFrame of (user,
  item, rating), with als_lib's 0-based indices as the ids.
- `spark_als`: the Spark ``ALS`` estimator with the hyperparameters of an
  als_lib model.
- `from_spark`: a fitted Spark ``ALSModel`` as a fitted `ExplicitALS` or
  `ImplicitALS`, so that als_lib's metrics, ``recommend`` and ``explain``
  run on Spark's factors unchanged.

pyspark is imported only when these functions are called; it needs Java 17.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import warnings

import numpy as np
import torch

from .als import ExplicitALS
from .data import as_ratings
from .implicit import ImplicitALS

# pyspark 4.3 warns on every pandas conversion that pandas 3 is "not yet fully supported";
# the conversions used here (numeric columns, float arrays) are tested in tests/test_spark.py
# and pandas 3 warns about a keyword pyspark's conversions still pass
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)
warnings.filterwarnings("ignore", message="The copy keyword is deprecated")

__all__ = ["spark_session", "to_spark", "spark_als", "from_spark",
           "factors_from_spark"]

# configuration that keeps a session quiet and reproducible (no web UI, no
# progress bars on stderr, the shuffle partitions of a small machine), and
# moves pandas data through Arrow
QUIET_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# a local session talks to itself only, on the loopback interface
LOCAL_CONF = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}


def _pyspark():
    try:
        import pyspark
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "als_lib.spark needs pyspark: pip install 'pyspark[ml,sql]' "
            "(and Java 17 on the PATH or in JAVA_HOME).") from None
    return pyspark


def spark_session(master: str = "local[2]", app_name: str = "als_lib",
                  quiet: bool = True, conf: dict | None = None,
                  checkpoint_dir: str | None = None):
    """A ``SparkSession`` (the running one if there is one).

    Parameters
    ----------
    master : str
        ``"local[N]"`` (N worker threads in this process's JVM) or a
        cluster URL such as ``"spark://host:7077"``.
    app_name : str
        The application's name.
    quiet : bool
        Start the JVM with its stdout and stderr discarded, and set the log
        level to ERROR, so that nothing from Java reaches a notebook.
        (Errors still reach Python as exceptions.)
    conf : dict, optional
        More Spark settings; they override `QUIET_CONF` (and, for a
        ``local`` master, `LOCAL_CONF`).
    checkpoint_dir : str, optional
        Where Spark may checkpoint (ALS does every ``checkpointInterval``
        iterations, cutting the lineage that otherwise grows with each
        iteration until serialising it overflows the stack); default a new
        temporary folder (removed when Python exits). On a cluster, give a
        path every executor can reach (HDFS, S3).

    Returns
    -------
    pyspark.sql.SparkSession
    """
    pyspark = _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = {**QUIET_CONF, **(LOCAL_CONF if local else {}), **(conf or {})}
    spark_conf = pyspark.SparkConf().setMaster(master).setAppName(app_name)
    for key, value in settings.items():
        spark_conf.set(key, str(value))
    gateway = None
    if quiet:
        from pyspark.java_gateway import launch_gateway

        gateway = launch_gateway(spark_conf, popen_kwargs={
            "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL})
    sc = pyspark.SparkContext(conf=spark_conf, gateway=gateway)
    if quiet:
        sc.setLogLevel("ERROR")
    if checkpoint_dir is None:
        checkpoint_dir = tempfile.mkdtemp(prefix="als_lib_spark_")
        atexit.register(shutil.rmtree, checkpoint_dir, True)
    sc.setCheckpointDir(checkpoint_dir)
    return SparkSession(sc)


def to_spark(ratings, spark, user_col: str = "user", item_col: str = "item",
             rating_col: str = "rating"):
    """A `Ratings` (or a scipy.sparse matrix, or (users, items, values)) as
    a Spark DataFrame with integer user and item columns (als_lib's 0-based
    indices) and a float rating column.

    Parameters
    ----------
    ratings : Ratings, scipy.sparse matrix or (users, items, values)
        The ratings.
    spark : pyspark.sql.SparkSession
        The session (from `spark_session`).
    user_col, item_col, rating_col : str
        The column names.

    Returns
    -------
    pyspark.sql.DataFrame
        int32 user and item columns, a float32 rating column.

    Raises
    ------
    ValueError
        If there are 2**31 users or items or more (Spark's ids are 32-bit).
    """
    import pandas as pd

    r = as_ratings(ratings, "ratings")
    if max(r.shape) >= 2**31:
        raise ValueError(
            f"Spark's ALS needs user and item ids below 2**31; this data "
            f"has shape {r.shape}.")
    df = pd.DataFrame({user_col: r.users.astype(np.int32),
                       item_col: r.items.astype(np.int32),
                       rating_col: r.values.astype(np.float32)})
    return spark.createDataFrame(df)


def spark_als(model, seed: int | None = None, **overrides):
    """The Spark ``ALS`` estimator with the hyperparameters of ``model``
    (an unfitted or fitted `ExplicitALS` or `ImplicitALS`).

    ``rank`` = factors, ``regParam`` = reg, ``maxIter`` = iterations, and
    for `ImplicitALS` ``implicitPrefs=True`` and ``alpha``. ``seed``
    defaults to the model's seed: always give Spark one, since its default
    depends on the Python process's hash seed. ``overrides`` are passed to
    ``ALS`` as they are (``numUserBlocks``, ``coldStartStrategy``, ...).

    Parameters
    ----------
    model : ExplicitALS or ImplicitALS
        The model whose hyperparameters Spark takes.
    seed : int, optional
        Spark's seed; default the model's.
    **overrides : object
        Further ``ALS`` parameters, passed as they are.

    Returns
    -------
    pyspark.ml.recommendation.ALS
        The unfitted Spark estimator.

    Raises
    ------
    ValueError
        If the model has options Spark does not have: biases, centering,
        plain (not count-weighted) regularisation, or an implicit
        regularisation other than :math:`\\lambda n_u`.
    TypeError
        If ``model`` is neither an `ExplicitALS` nor an `ImplicitALS`.
    """
    _pyspark()
    from pyspark.ml.recommendation import ALS

    kw = dict(rank=int(model.factors), regParam=float(model.reg),
              maxIter=int(model.iterations),
              seed=int(model.seed if seed is None else seed))
    if isinstance(model, ImplicitALS):
        if model.reg_exponent != 1 or model.reg_offset != 0:
            raise ValueError(
                "Spark's implicit ALS regularises with lambda * n_u: use "
                "ImplicitALS(reg_exponent=1, reg_offset=0).")
        if model.confidence != "linear":
            raise ValueError(
                "Spark's implicit ALS has the confidence 1 + alpha * |r|: "
                "use ImplicitALS(confidence='linear').")
        kw.update(implicitPrefs=True, alpha=float(model.alpha))
    elif isinstance(model, ExplicitALS):
        if model.biases or model.center or not model.weighted_reg:
            raise ValueError(
                "Spark's explicit ALS fits r ~ u.v with lambda * n_u and no "
                "mean or biases: use ExplicitALS(biases=False, center=False,"
                " weighted_reg=True).")
    else:
        raise TypeError(
            "model must be an ExplicitALS or an ImplicitALS; got "
            f"{type(model).__name__}.")
    kw.update(overrides)
    return ALS(**kw)


def factors_from_spark(frame, n: int, rank: int) -> np.ndarray:
    """The (n x rank) factor matrix from an ``ALSModel.userFactors`` or
    ``itemFactors`` DataFrame (columns ``id``, ``features``); rows Spark
    did not fit (ids it never saw) are zero.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        ``ALSModel.userFactors`` or ``ALSModel.itemFactors``.
    n : int
        The number of rows (users or items).
    rank : int
        The number of factors.

    Returns
    -------
    numpy.ndarray
        (n x rank), float64.

    Raises
    ------
    ValueError
        If an id lies outside ``0..n-1`` (factors fitted on other data).
    """
    pdf = frame.toPandas()
    out = np.zeros((n, rank), dtype=np.float64)
    if len(pdf):
        ids = pdf["id"].to_numpy()
        if ids.min() < 0 or ids.max() >= n:
            raise ValueError(
                f"Spark's factors have ids from {ids.min()} to {ids.max()}, "
                f"outside 0..{n - 1}: were they fitted on other data?")
        out[ids] = np.stack(pdf["features"].to_numpy())
    return out


def from_spark(spark_model, train, like=None):
    """A fitted Spark ``ALSModel`` as a fitted als_lib model.

    Parameters
    ----------
    spark_model : pyspark.ml.recommendation.ALSModel
        Fitted on ``to_spark(train)`` (ids are als_lib's indices).
    train : Ratings, scipy.sparse matrix or (users, items, values)
        The same training data (its shape, and the items each user has
        seen, which ``recommend`` leaves out).
    like : ExplicitALS or ImplicitALS, optional
        A model whose hyperparameters the result takes (the one given to
        `spark_als`); default ``ExplicitALS(biases=False, center=False)``
        with Spark's rank.

    Returns
    -------
    ExplicitALS or ImplicitALS
        With Spark's factors in ``params_`` (float64, :math:`\\mu = 0`, no
        biases) and an empty ``history_``. Users or items that have no
        training ratings get zero factors.

    Raises
    ------
    TypeError
        If ``like`` is neither an `ExplicitALS` nor an `ImplicitALS`.
    ValueError
        If Spark's factors have ids outside the shape of ``train``.
    """
    r = as_ratings(train, "train")
    rank = int(spark_model.rank)
    U = factors_from_spark(spark_model.userFactors, r.n_users, rank)
    V = factors_from_spark(spark_model.itemFactors, r.n_items, rank)
    if like is None:
        like = ExplicitALS(rank, biases=False, center=False)
    if not isinstance(like, (ExplicitALS, ImplicitALS)):
        raise TypeError(
            "like must be an ExplicitALS or an ImplicitALS; got "
            f"{type(like).__name__}.")
    params = {**like.get_params(), "factors": rank, "dtype": torch.float64}
    if isinstance(like, ExplicitALS):
        params.update(biases=False, center=False)
    return type(like).from_factors(U, V, r, **params)
