"""Parsing of the MovieLens ratings files (private to `als_lib.data.movielens`).

Fast path: `pandas.read_csv` with the C engine. Only when it fails or finds something that is
not a well-formed rating does a slow line-by-line pass run, to name the file and the line.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

#: The four fields of every ratings line, with the type each must parse as.
_COLUMNS = (("user id", int), ("item id", int), ("rating", float), ("timestamp", int))


def _parse_ratings(data: bytes, sep: bytes, what: str, header: bool = False):
    """A ratings file -> ``(users, items, values, timestamps)`` arrays, by `pandas.read_csv`
    (C engine), refusing malformed lines with the file and line number.

    The C engine takes one-character separators only, so ``::`` becomes a tab first (the
    python engine, which takes ``::``, is about 25 times slower on a 1M-line file).
    """
    import pandas as pd
    from pandas.api.types import is_float_dtype, is_integer_dtype

    text, char = (data.replace(sep, b"\t"), "\t") if len(sep) > 1 else (data, sep.decode())
    try:
        frame = pd.read_csv(
            io.BytesIO(text), sep=char, header=None, skiprows=1 if header else 0,
            skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c",
        )
    except pd.errors.EmptyDataError:  # no ratings: Ratings says so
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0), empty
    except (pd.errors.ParserError, ValueError) as e:  # too many fields on some line
        raise _malformed(data, sep, what, header, e) from None
    if frame.shape[1] == 4 and all(is_integer_dtype(frame[c]) for c in (0, 1, 3)) and (
        is_integer_dtype(frame[2]) or is_float_dtype(frame[2])
    ):
        values = frame[2].to_numpy(np.float64)
        if np.isfinite(values).all():
            return (frame[0].to_numpy(np.int64), frame[1].to_numpy(np.int64), values,
                    frame[3].to_numpy(np.int64))
    # too few fields (NaN-filled), a field that is not a number, NaN or infinite ratings
    raise _malformed(data, sep, what, header, None)


def _malformed(data: bytes, sep: bytes, what: str, header: bool, cause) -> ValueError:
    """The error for the first malformed line of ``data`` (slow: only run on failure)."""
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, line in enumerate(lines[1:] if header else lines, start=2 if header else 1):
        fields = line.split(sep)
        if len(fields) != len(_COLUMNS):
            return ValueError(f"{what}, line {n}: expected {len(_COLUMNS)} fields, got {line!r}.")
        for field, (column, kind) in zip(fields, _COLUMNS):
            try:
                ok = math.isfinite(kind(field))
            except ValueError:
                ok = False
            if not ok:
                must = "a finite number" if kind is float else "an integer"
                return ValueError(
                    f"{what}, line {n}: the {column} must be {must}; got {field!r} in {line!r}."
                )
    return ValueError(f"{what}: the file could not be parsed ({cause}).")
