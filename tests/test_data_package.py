"""The data layer as a package: its public names, and what it may import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import als_lib
import als_lib.data as D

PACKAGE = Path(D.__file__).parent
ALLOWED = {"numpy", "scipy", "pandas", "pooch", "requests", "__future__"}

# what the single-module als_lib/data.py exported, and what als_lib re-exported from it
DATA_NAMES = {
    "Ratings", "DatasetSpec", "DATASETS", "DATA_DIR_ENV", "ChecksumError",
    "DatasetUnavailableError", "load_movielens", "load_movielens_fold", "default_data_dir",
    "toy_ratings", "TOY_MATRIX", "synthetic_ratings", "train_test_split", "kfold",
    "per_user_holdout", "index_array", "as_ratings",
    "movie_genres",  # added later (issue 15: the genres for Ch.4's map of the movies)
}
TOP_LEVEL_NAMES = DATA_NAMES - {"index_array", "as_ratings", "DatasetSpec"}


def test_public_names_are_kept():
    assert set(D.__all__) == DATA_NAMES
    for name in DATA_NAMES:
        assert getattr(D, name) is not None
    for name in TOP_LEVEL_NAMES:
        assert getattr(als_lib, name) is getattr(D, name), name


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_imports_stay_inside_the_data_layer(module):
    tree = ast.parse(module.read_text(), filename=str(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, f"{module.name} imports from outside als_lib/data"
            continue
        names = (
            [a.name for a in node.names] if isinstance(node, ast.Import)
            else [node.module] if isinstance(node, ast.ImportFrom) else []
        )
        for name in names:
            top = name.split(".")[0]
            assert top in ALLOWED or top in sys.stdlib_module_names, (
                f"{module.name} imports {name}"
            )


def test_the_data_layer_loads_without_torch_or_the_rest_of_als_lib():
    # load als_lib/data as a stand-alone package, so that als_lib/__init__ does not run
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    "data_alone", {str(PACKAGE / "__init__.py")!r},
    submodule_search_locations=[{str(PACKAGE)!r}])
mod = importlib.util.module_from_spec(spec)
sys.modules["data_alone"] = mod
spec.loader.exec_module(mod)
r = mod.synthetic_ratings(30, 20, 200, seed=0)
tr, te = mod.train_test_split(r)
assert tr.nnz + te.nnz == 200
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "als_lib"))
print(bad)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
