"""How much margin does each printed number have? Re-run chapters under several CPU kernel paths
with every printed precision widened, and list the numbers that another machine could change.

    python tools/output_margins.py chapters/04_alternating_least_squares.ipynb [...]
    python tools/output_margins.py --paths "avx2:ATEN_CPU_CAPABILITY=avx2,MKL_CBWR=AVX2" ... chapters/*.ipynb

nbval compares stored outputs at the precision a cell prints, so it only fails once a number
has crossed a rounding boundary. This tool shows the distance to that boundary. It copies each
notebook in memory, widens every precision its code cells print with by 6 digits (format specs
such as ``:.4f``, ``:.1e``, ``:.3g``, ``:.1%``, ``.round(4)``, and numpy/torch print options),
executes the copy once per kernel path (in parallel, one kernel per path), and compares the
outputs number by number. For each number printed with ``d`` digits it reports

- FLIPS: the paths round it differently at ``d`` digits (nbval would fail across them);
- THIN:  the paths agree at ``d`` digits, but the spread between them is more than 1/20 of the
         distance to the nearest rounding boundary (another CPU may flip it);
- TEXT:  the outputs differ in something other than a number (an order, a word, a count of lines).

Cells tagged ``nbval-ignore-output`` are skipped. The default paths are the book's pinned path
(AVX2 kernels, MKL's AVX2 branch), the unvectorised path that `make test` also checks, and the
machine's own best (AVX-512 where the CPU has it). Exit status 1 if anything is flagged.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDEN = 6
DEFAULT_PATHS = {
    "pinned (avx2, MKL AVX2)": {},
    "unvectorised (default, MKL COMPATIBLE)": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
    "native (this CPU's best, MKL AUTO)": {"ATEN_CPU_CAPABILITY": "<native>", "MKL_CBWR": "AUTO"},
}
NUMBER = re.compile(r"-?(?:\d[\d,]*\.?\d*|\.\d+)(?:e[+-]?\d+)?%?")


def widen(source: str) -> str:
    """The cell's code with every printed precision `WIDEN` digits longer."""
    # format specs inside f-strings and str.format: {x:.4f} {x:6.1e} {x:,.0f} {x:.3g} {x:.1%}
    source = re.sub(r"(\{[^{}\n]*:[^{}\n]*?\.)(\d+)([efg%])(\})",
                    lambda m: f"{m[1]}{int(m[2]) + WIDEN}{m[3]}{m[4]}", source)
    source = re.sub(r"\.round\((\d+)\)", lambda m: f".round({int(m[1]) + WIDEN})", source)
    source = re.sub(r"(set_printoptions\([^)]*precision=)(\d+)", lambda m: f"{m[1]}{int(m[2]) + WIDEN}", source)
    return source


def native_capability() -> str:
    """The CPU capability torch picks by itself on this machine (e.g. 'avx512', 'avx2')."""
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().lower()


def _environment(overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in overrides.items():
        if value:
            env[key] = native_capability() if value == "<native>" else value
        else:
            env.pop(key, None)   # unset: the notebook's own default applies
    return env


def _execute(args: tuple[str, dict[str, str]]) -> list[tuple[list[str], str]]:
    """Execute the widened notebook under one kernel path: per code cell, (tags, text output)."""
    path, overrides = args
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = widen(cell.source)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    env = _environment(overrides)
    os.environ.clear()
    os.environ.update(env)   # this worker process is its kernel's parent: the kernel inherits it
    client.execute()
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = ""
        for out in cell.outputs:
            if out.output_type == "stream":
                text += out.text
            elif out.output_type in ("execute_result", "display_data"):
                text += out.get("data", {}).get("text/plain", "")
            elif out.output_type == "error":
                text += f"{out.ename}: {out.evalue}"
        cells.append((cell.metadata.get("tags", []), text))
    return cells


def _digits(token: str) -> tuple[str, int] | None:
    """(kind, digits) of a widened token: 'f' decimals or 'e' mantissa decimals; None if the
    token carries no widened precision (an integer, an id)."""
    mantissa = token.rstrip("%").split("e")[0]
    if "." not in mantissa:
        return None
    decimals = len(mantissa.split(".")[1])
    if decimals < WIDEN:
        return None
    return ("e" if "e" in token else "f"), decimals - WIDEN


def _value(token: str) -> float:
    return float(token.replace(",", "").rstrip("%"))


def _margin(a: str, b: str) -> tuple[str, float] | None:
    """Compare two widened tokens at the precision originally printed: ('FLIPS'|'THIN'|'ok', ratio)."""
    kind = _digits(a)
    if kind is None or _digits(b) != kind:
        return None
    form, d = kind
    x, y = _value(a), _value(b)
    if form == "e":
        unit = 10.0 ** (math.floor(math.log10(abs(x))) - d) if x else 10.0 ** -d
    else:
        unit = 10.0 ** -d
    spread = abs(x - y)
    if round(x / unit) != round(y / unit):
        return "FLIPS", spread / unit
    boundary = abs((x / unit) % 1 - 0.5) * unit   # distance to the nearest rounding boundary
    if spread and spread > boundary / 20:
        return "THIN", spread / max(boundary, 1e-300)
    return "ok", spread / unit


def compare(name: str, runs: dict[str, list[tuple[list[str], str]]]) -> list[str]:
    labels = list(runs)
    reference = runs[labels[0]]
    problems = []
    compared = 0
    for index, (tags, text) in enumerate(reference):
        if "nbval-ignore-output" in tags:
            continue
        for other in labels[1:]:
            other_text = runs[other][index][1]
            a, b = NUMBER.findall(text), NUMBER.findall(other_text)
            if NUMBER.sub("#", text).split() != NUMBER.sub("#", other_text).split() or len(a) != len(b):
                problems.append(f"{name} code cell {index}: TEXT differs between '{labels[0]}' and '{other}'")
                continue
            for x, y in zip(a, b):
                if x == y and _digits(x) is None:
                    continue
                if _digits(x) is None:
                    problems.append(f"{name} code cell {index}: TEXT {x} vs {y} ('{labels[0]}' vs '{other}')")
                    continue
                compared += 1
                verdict = _margin(x, y)
                if verdict and verdict[0] != "ok":
                    problems.append(f"{name} code cell {index}: {verdict[0]} {x} vs {y} ('{labels[0]}' vs '{other}')")
    print(f"{name}: {compared} printed numbers compared across {len(labels)} kernel paths, "
          f"{len(problems)} flagged")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--paths", nargs="*", metavar="LABEL:VAR=VALUE,...",
                        help="kernel paths to compare (default: pinned, unvectorised, native)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    paths = DEFAULT_PATHS
    if args.paths:
        paths = {}
        for spec in args.paths:
            label, _, assignments = spec.partition(":")
            paths[label] = dict(a.split("=", 1) for a in assignments.split(",") if a)
    jobs = [(nb, label) for nb in args.notebooks for label in paths]
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_execute, [(nb, paths[label]) for nb, label in jobs]))
    problems = []
    for nb in args.notebooks:
        runs = {label: out for (n, label), out in zip(jobs, results) if n == nb}
        problems += compare(Path(nb).name, runs)
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
