"""als_lib.spark against Spark MLlib itself (local[2]), and the spark-submit job script."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from als_lib import ExplicitALS, ImplicitALS, Ratings, synthetic_ratings, train_test_split

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (java on the PATH or JAVA_HOME)", allow_module_level=True)

from als_lib.spark import from_spark, spark_als, spark_session, to_spark  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def submit(*args):
    """``spark-submit`` of the job script, with this Python and its pyspark (as ``make
    spark-job`` runs it)."""
    import pyspark

    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "SPARK_HOME": str(Path(pyspark.__file__).parent),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(Path(sys.executable).parent / "spark-submit"), *args],
                          capture_output=True, text=True, timeout=300, env=env)


JOB = str(ROOT / "benchmarks" / "spark_als_job.py")


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data():
    r = synthetic_ratings(300, 120, 6000, rank=4, seed=3)
    return train_test_split(r, 0.2, seed=0)


def test_to_spark_keeps_every_rating(spark, data):
    train, _ = data
    df = to_spark(train, spark)
    assert df.columns == ["user", "item", "rating"]
    back = df.toPandas().sort_values(["user", "item"])
    order = np.lexsort((train.items, train.users))
    np.testing.assert_array_equal(back["user"].to_numpy(), train.users[order])
    np.testing.assert_array_equal(back["item"].to_numpy(), train.items[order])
    np.testing.assert_allclose(back["rating"].to_numpy(), train.values[order])


def test_spark_als_takes_the_model_hyperparameters():
    als = spark_als(ExplicitALS(12, reg=0.3, iterations=7, biases=False, center=False, seed=5))
    assert (als.getRank(), als.getRegParam(), als.getMaxIter(), als.getSeed()) == (12, 0.3, 7, 5)
    assert not als.getImplicitPrefs()
    imp = spark_als(ImplicitALS(8, reg=0.05, alpha=4.0, reg_exponent=1, iterations=3), seed=1)
    assert imp.getImplicitPrefs() and imp.getAlpha() == 4.0 and imp.getSeed() == 1


@pytest.mark.parametrize("model,what", [
    (ExplicitALS(4), "biases=False, center=False"),
    (ExplicitALS(4, biases=False), "biases=False, center=False"),
    (ExplicitALS(4, biases=False, center=False, weighted_reg=False), "weighted_reg=True"),
    (ImplicitALS(4), "reg_exponent=1"),
    (ImplicitALS(4, reg_exponent=1, confidence="log"), "confidence='linear'"),
])
def test_spark_als_refuses_what_spark_cannot_fit(model, what):
    with pytest.raises(ValueError, match=what.replace("(", r"\(")):
        spark_als(model)


def test_explicit_fit_agrees_with_explicit_als(spark, data):
    """Same objective (ALS-WR, no mean, no biases), rank, lambda and iterations: the test
    RMSEs agree although the two start from different random factors."""
    train, test = data
    like = ExplicitALS(4, reg=0.1, iterations=10, biases=False, center=False,
                       solver="cholesky", dtype=torch.float64)
    sm = spark_als(like, seed=0).fit(to_spark(train, spark))
    ours = from_spark(sm, train, like)
    assert isinstance(ours, ExplicitALS) and ours.mu_ == 0.0 and ours.user_bias is None
    # the converted model predicts what Spark predicts
    pairs = to_spark(test, spark)
    spark_pred = sm.transform(pairs).toPandas().sort_values(["user", "item"])
    order = np.lexsort((test.items, test.users))
    theirs = spark_pred["prediction"].to_numpy()
    mine = ours.predict(test.users[order], test.items[order])
    known = np.isfinite(theirs)          # Spark predicts NaN for ids it never saw
    np.testing.assert_allclose(mine[known], theirs[known], atol=1e-4)
    np.testing.assert_array_equal(mine[~known], 0.0)   # zero factors, no mean
    fitted = like.fit(train, progress=False)

    def clipped_rmse(model):
        pred = np.clip(model.predict(test.users, test.items), 1, 5)
        return np.sqrt(np.mean((pred - test.values) ** 2))

    rmse_spark, rmse_ours = clipped_rmse(ours), clipped_rmse(fitted)
    assert abs(rmse_spark - rmse_ours) < 0.01, (rmse_spark, rmse_ours)
    # and recommend works on Spark's factors, seen items left out
    top = ours.recommend(0, 5)
    assert len(top[0]) == 5 and not set(top[0]) & set(train.items[train.users == 0])


def test_implicit_fit_becomes_an_implicit_als(spark):
    clicks = synthetic_ratings(200, 80, 3000, rank=4, kind="implicit", seed=1)
    like = ImplicitALS(4, reg=0.05, alpha=2.0, reg_exponent=1, iterations=5)
    sm = spark_als(like, seed=0).fit(to_spark(clicks, spark))
    ours = from_spark(sm, clicks, like)
    assert isinstance(ours, ImplicitALS) and ours.alpha == 2.0
    # Spark's factors minimise the same loss as an exact als_lib fit from another start
    exact = ImplicitALS(**{**like.get_params(), "solver": "cholesky",
                           "dtype": torch.float64}).fit(clicks, progress=False)
    assert abs(ours.loss() / exact.loss() - 1) < 0.05, (ours.loss(), exact.loss())
    # explain runs on Spark's factors: the contributions add up to the score
    item = int(ours.recommend(0, 1)[0][0])
    why = ours.explain(0, item)
    assert why.total.sum() == pytest.approx(why.score, rel=1e-6)


def test_from_spark_refuses_factors_of_other_data(spark, data):
    train, _ = data
    like = ExplicitALS(2, reg=0.1, iterations=1, biases=False, center=False)
    sm = spark_als(like).fit(to_spark(train, spark))
    small = Ratings(np.array([0]), np.array([0]), np.array([4.0]), 10, 5)
    with pytest.raises(ValueError, match="fitted on other data"):
        from_spark(sm, small, like)


def test_unseen_ids_get_zero_factors(spark):
    train = Ratings(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]),
                    np.array([4.0, 3.0, 5.0, 2.0]), 5, 4)   # user 3, 4 and item 3 unseen
    like = ExplicitALS(2, reg=0.1, iterations=2, biases=False, center=False)
    ours = from_spark(spark_als(like).fit(to_spark(train, spark)), train, like)
    assert np.all(ours.user_factors[3:] == 0) and np.all(ours.item_factors[3] == 0)
    assert np.any(ours.user_factors[:3] != 0)


def test_job_script_runs_under_spark_submit(tmp_path, data):
    """The cluster job, run here with --master local[2], from Parquet files."""
    import pandas as pd

    train, test = data
    for name, r in (("train", train), ("test", test)):
        pd.DataFrame({"uid": r.users, "iid": r.items, "stars": r.values}).to_parquet(
            tmp_path / f"{name}.parquet")
    out = submit("--master", "local[2]", JOB,
                 "--train", str(tmp_path / "train.parquet"),
                 "--test", str(tmp_path / "test.parquet"),
                 "--user-col", "uid", "--item-col", "iid", "--rating-col", "stars",
                 "--rank", "4", "--iterations", "5", "--out", str(tmp_path / "model"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"{len(train):,} training ratings, rank 4" in out.stdout
    rmse = float(out.stdout.split("test RMSE ")[1].split()[0])
    assert 0.3 < rmse < 1.5
    assert (tmp_path / "model" / "user_factors").is_dir()


def test_job_script_names_missing_columns(spark, tmp_path, data):
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("spark_als_job", JOB)
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    train, _ = data
    pd.DataFrame({"u": train.users, "i": train.items, "r": train.values}).to_parquet(
        tmp_path / "t.parquet")
    with pytest.raises(SystemExit, match=r"has no column\(s\) \['user', 'item', 'rating'\]"):
        job.read_table(spark, str(tmp_path / "t.parquet"), "user", "item", "rating")
    frame = job.read_table(spark, str(tmp_path / "t.parquet"), "u", "i", "r")
    assert frame.columns == ["user", "item", "rating"] and frame.count() == len(train)
