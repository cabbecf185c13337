"""Shared fixtures: where the real MovieLens copy is, and small fake datasets."""

from __future__ import annotations

import os

import pytest

from als_lib import data as D


def real_dataset_or_skip(name: str):
    """Load a real MovieLens set without downloading; skip (or fail under CI) if absent."""
    try:
        return D.load_movielens(name, download=False, progress=False)
    except D.DatasetUnavailableError as e:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{name} is not available offline here ({e}); set {D.DATA_DIR_ENV}.")


@pytest.fixture(scope="session")
def ml100k():
    return real_dataset_or_skip("ml-100k")


@pytest.fixture(scope="session")
def ml_small():
    return real_dataset_or_skip("ml-latest-small")
