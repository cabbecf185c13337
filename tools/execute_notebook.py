"""Execute notebooks top to bottom in place, the way the book stores them.

    python tools/execute_notebook.py chapters/01_the_ratings_matrix.ipynb [...]

Each notebook runs in a fresh kernel of the current Python environment with its own folder
(chapters/) as working directory, exactly as nbval re-runs it. Per-cell timing metadata is
removed and the kernelspec is normalised, so diffs show only real changes. The wall-clock time
of the run is recorded in the notebook's metadata (``als_book.run_seconds``): the run time a
chapter states in its opening is tested against it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    ).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type == "code":
            for out in cell.outputs:
                out.get("metadata", {}).pop("execution", None)
    nb.metadata["kernelspec"] = KERNELSPEC
    # the run time each chapter states is checked against this (tests/test_chapter_frame.py)
    nb.metadata["als_book"] = {"run_seconds": round(seconds)}
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for name in argv:
        path = Path(name)
        seconds = execute(path)
        print(f"executed {path} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
