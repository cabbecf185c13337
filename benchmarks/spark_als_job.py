"""Spark MLlib ALS as a batch job: the same job on this machine and on a cluster.

    spark-submit --master local[2] benchmarks/spark_als_job.py --movielens ml-100k --fold 1
    spark-submit --master spark://HOST:7077 benchmarks/spark_als_job.py \\
        --train hdfs:///data/ratings_train.parquet --test hdfs:///data/ratings_test.parquet \\
        --checkpoint-dir hdfs:///tmp/als-checkpoints --out hdfs:///models/als

Input: a MovieLens set by name (loaded and verified by als_lib on the driver; ``--fold N`` for
ml-100k's official uN split, otherwise a seeded 80/20 split), or Parquet (or CSV with a header)
with integer columns ``user`` and ``item`` and a numeric ``rating`` (``--user-col`` etc. rename
them). Spark's ALS: ``--rank``, ``--reg`` (lambda, scaled by each row's rating count as in
ALS-WR), ``--iterations``, ``--implicit --alpha A``, always with ``--seed``. Prints the data
size, the fit time, the time per iteration and, with a test set, the RMSE of predictions clipped
to ``--clip`` (explicit) on the pairs whose user and item were in training. ``--out`` writes the
user and item factors as Parquet.

On a cluster, give ``--checkpoint-dir`` a path every executor can reach (HDFS, S3): ALS
checkpoints every 10 iterations to cut the lineage (without it, long fits overflow the stack).
"""

from __future__ import annotations

import argparse
import tempfile
import time


def read_table(spark, path: str, user_col: str, item_col: str, rating_col: str):
    from pyspark.sql import functions as F

    reader = spark.read
    frame = (reader.option("header", True).option("inferSchema", True).csv(path)
             if path.endswith(".csv") else reader.parquet(path))
    missing = [c for c in (user_col, item_col, rating_col) if c not in frame.columns]
    if missing:
        raise SystemExit(f"{path} has no column(s) {missing}; it has {frame.columns}. "
                         "Name them with --user-col, --item-col, --rating-col.")
    return frame.select(F.col(user_col).cast("int").alias("user"),
                        F.col(item_col).cast("int").alias("item"),
                        F.col(rating_col).cast("float").alias("rating"))


def movielens_frames(spark, name: str, fold: int | None, seed: int):
    from als_lib import load_movielens, load_movielens_fold, train_test_split
    from als_lib.spark import to_spark

    if fold is not None:
        train, test = load_movielens_fold(fold, progress=False)
    else:
        train, test = train_test_split(load_movielens(name, progress=False), 0.2, seed=seed)
    return to_spark(train, spark), to_spark(test, spark)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--movielens", help="a MovieLens set by name, e.g. ml-100k")
    src.add_argument("--train", help="Parquet (or .csv) path of the training ratings")
    ap.add_argument("--test", help="Parquet (or .csv) path of the test ratings")
    ap.add_argument("--fold", type=int, help="with --movielens ml-100k: the official fold uN")
    ap.add_argument("--user-col", default="user")
    ap.add_argument("--item-col", default="item")
    ap.add_argument("--rating-col", default="rating")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--reg", type=float, default=0.1)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--implicit", action="store_true")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip", type=float, nargs=2, default=(1.0, 5.0), metavar=("LOW", "HIGH"))
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--out", default=None, help="folder for user_factors/ and item_factors/")
    args = ap.parse_args(argv)

    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.builder.appName("als_lib spark_als_job").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(args.checkpoint_dir or tempfile.mkdtemp())
    if args.movielens:
        train, test = movielens_frames(spark, args.movielens, args.fold, args.seed)
    else:
        cols = (args.user_col, args.item_col, args.rating_col)
        train = read_table(spark, args.train, *cols)
        test = read_table(spark, args.test, *cols) if args.test else None
    train = train.cache()
    n = train.count()
    print(f"master {spark.sparkContext.master}, {n:,} training ratings, rank {args.rank}, "
          f"lambda {args.reg:g}, {args.iterations} iterations, "
          f"{'implicit, alpha %g' % args.alpha if args.implicit else 'explicit'}")
    als = ALS(rank=args.rank, regParam=args.reg, maxIter=args.iterations, seed=args.seed,
              implicitPrefs=args.implicit, alpha=args.alpha, coldStartStrategy="drop")
    start = time.perf_counter()
    model = als.fit(train)
    model.userFactors.count()                      # the fit is lazy until used
    seconds = time.perf_counter() - start
    print(f"fit {seconds:.1f} s, {seconds / args.iterations:.2f} s per iteration "
          "(set-up included)")
    if test is not None and not args.implicit:
        low, high = args.clip
        pred = model.transform(test)               # cold-start pairs dropped
        err = pred.select(F.sqrt(F.avg((F.least(F.greatest("prediction", F.lit(low)),
                                                F.lit(high)) - F.col("rating")) ** 2))
                          .alias("rmse"), F.count("*").alias("n")).first()
        print(f"test RMSE {err['rmse']:.4f} on {err['n']:,} pairs (clipped to {low:g}..{high:g})")
    if args.out:
        model.userFactors.write.mode("overwrite").parquet(f"{args.out}/user_factors")
        model.itemFactors.write.mode("overwrite").parquet(f"{args.out}/item_factors")
        print(f"factors written to {args.out}")
    spark.stop()


if __name__ == "__main__":
    main()
