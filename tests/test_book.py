"""The book's structure: every chapter is in the TOC, saved executed in order, and clean."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))
            for part in e.get("parts", []):
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def code_cells(nb_path: Path) -> list[dict]:
    cells = json.loads(nb_path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_chapters():
    assert CHAPTERS, "no chapters/NN_*.ipynb found"


def test_toc_lists_every_chapter_and_nothing_missing():
    listed = toc_files()
    for nb in CHAPTERS:
        assert f"chapters/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"
    for f in listed:
        assert any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb")), f"_toc.yml lists missing {f}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_saved_fully_executed_in_order(nb):
    counts = [c.get("execution_count") for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{nb.name}: re-run it top to bottom with `make execute NB=chapters/{nb.name}`"
    )


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_clean_metadata_and_errors_only_where_intended(nb):
    data = json.loads(nb.read_text())
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    for cell in data["cells"]:
        assert "execution" not in cell.get("metadata", {}), f"{nb.name}: per-cell timing metadata saved"
        tags = cell.get("metadata", {}).get("tags", [])
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if "raises-exception" in tags:
            assert errors, f"{nb.name}: a cell tagged raises-exception raised nothing"
        else:
            assert not errors, f"{nb.name}: an error output in a cell not tagged raises-exception"
        for out in cell.get("outputs", []):
            if out.get("name") == "stderr":
                assert "Warning" not in "".join(out["text"]), f"{nb.name}: a warning is saved in the output"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_pins_threads_and_is_hidden(nb):
    first = code_cells(nb)[0]
    src = "".join(first["source"])
    assert "remove-input" in first.get("metadata", {}).get("tags", [])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "torch.set_num_threads(1)"):
        assert var in src
    assert src.index("OMP_NUM_THREADS") < src.index("import torch")


def test_no_dataset_is_tracked():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    data_like = {".csv", ".dat", ".zip", ".npz", ".parquet", ".data", ".item", ".base", ".test"}
    tracked = [f for f in out.stdout.splitlines() if Path(f).suffix.lower() in data_like]
    assert tracked == []


def test_literalinclude_targets_exist():
    """Every `literalinclude` in a chapter points to a library object that exists."""
    import ast
    import re

    for nb in CHAPTERS:
        cells = json.loads(nb.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        for path, obj in re.findall(r"```\{literalinclude\} \.\./(\S+)\n:pyobject: (\S+)", text):
            tree = ast.parse((ROOT / path).read_text())
            names = set()
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                    if isinstance(node, ast.ClassDef):
                        names |= {f"{node.name}.{n.name}" for n in node.body if isinstance(n, ast.FunctionDef)}
            assert obj in names, f"{nb.name}: literalinclude {path} :pyobject: {obj} does not exist"
