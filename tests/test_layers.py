"""The library's shape: three layers that import only downwards, and no oversized module.

data (the `als_lib.data` package) -> maths (metrics, objective, linalg, threads) -> models (model,
baselines, gd, als, implicit, evaluation, bayes, selection, spark). `show` and `plotting` are helpers for the book and import no layer.
"""

import ast
from pathlib import Path

import pytest

import als_lib

ROOT = Path(als_lib.__file__).parent
LAYERS = {"data": 0, "metrics": 1, "objective": 1, "linalg": 1, "threads": 1, "implicit": 2, "evaluation": 2,
          "model": 2, "baselines": 2, "gd": 2, "als": 2, "bayes": 2, "selection": 2, "spark": 2, "show": 3, "plotting": 3}
MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


def layer_of(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    return "data" if rel[0] == "data" else rel[0].removesuffix(".py")


def imported_modules(path: Path) -> set[str]:
    """The top-level als_lib modules (or the data package) that ``path`` imports."""
    found = set()
    inside_data = layer_of(path) == "data"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").startswith("als_lib"):
                parts = node.module.split(".")
                found.add(parts[1] if len(parts) > 1 else "als_lib")
            elif node.level == 1 and not inside_data:
                found.add((node.module or "").split(".")[0] or "als_lib")
            elif node.level == 2:                      # from ..x import y, inside data/
                found.add((node.module or "").split(".")[0] or "als_lib")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("als_lib."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_module_is_assigned_a_layer():
    assert {layer_of(p) for p in MODULES} <= set(LAYERS)
    assert len(MODULES) >= 12


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_never_climb_to_a_higher_layer(path):
    mine = LAYERS[layer_of(path)]
    for target in imported_modules(path):
        assert target in LAYERS, f"{path.name} imports the package root ({target})"
        assert LAYERS[target] <= mine, (
            f"{path.relative_to(ROOT)} (layer {mine}) imports {target} "
            f"(layer {LAYERS[target]})")


def test_the_data_layer_needs_no_torch():
    for path in ROOT.joinpath("data").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n.split(".")[0] == "torch" for n in names), path.name


def test_no_module_holds_more_than_a_quarter_of_the_library():
    sizes = {p: sum(1 for line in p.read_text().splitlines() if line.strip())
             for p in ROOT.rglob("*.py")}
    total = sum(sizes.values())
    for path, n in sizes.items():
        assert n <= 0.25 * total, f"{path.relative_to(ROOT)}: {n} of {total} non-blank lines"
