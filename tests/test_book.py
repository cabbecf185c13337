"""The book's structure: every chapter is in the TOC, saved executed in order, and clean."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from als_lib.show import MAX_LINE   # what the HTML text column shows without scrolling

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
def test_first_cell_pins_threads_and_kernel_paths_and_is_hidden(nb):
    first = code_cells(nb)[1]       # after the Colab cell
    src = "".join(first["source"])
    assert "remove-input" in first.get("metadata", {}).get("tags", [])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "torch.set_num_threads(1)",
                'os.environ.setdefault("MKL_CBWR", "AVX2")', 'os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")'):
        assert var in src
    for var in ("OMP_NUM_THREADS", "MKL_CBWR", "ATEN_CPU_CAPABILITY"):
        assert src.index(var) < src.index("import numpy") < src.index("import torch")


def test_every_chapter_has_the_same_first_cell():
    firsts = {nb.name: "".join(code_cells(nb)[1]["source"]) for nb in CHAPTERS}
    reference = firsts[CHAPTERS[0].name]
    assert [name for name, src in firsts.items() if src != reference] == []


def _kernel_paths_after_first_cell(env_overrides: dict[str, str]) -> tuple[str, int | None]:
    """Run the pinning part of the first cell in a fresh Python; return torch's CPU capability
    and MKL's code branch (None where MKL's branch cannot be read)."""
    src = "".join(code_cells(CHAPTERS[0])[1]["source"])
    pins = src[: src.index("import numpy")]
    probe = pins + textwrap.dedent("""
        import ctypes, torch
        (torch.ones(64, 64) @ torch.ones(64, 64)).sum()     # MKL reads MKL_CBWR on first use
        try:
            lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
            get = lib.mkl_serv_cbwr_get          # MKL's own getter (internal name in torch's build)
            get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
            branch = get(1)
        except (OSError, AttributeError):
            branch = None
        print(torch.backends.cpu.get_cpu_capability(), branch)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}
    out = subprocess.run([sys.executable, "-c", probe], env={**env, **env_overrides},
                         capture_output=True, text=True, check=True)
    capability, branch = out.stdout.split()
    return capability, None if branch == "None" else int(branch)


def _mkl_offers(branch: int) -> bool:
    """Whether MKL (torch's copy) accepts `branch` as its code branch on this CPU."""
    probe = textwrap.dedent(f"""
        import ctypes, os, torch
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        set_branch = lib.mkl_serv_cbwr_set
        set_branch.restype, set_branch.argtypes = ctypes.c_int, [ctypes.c_int]
        print(set_branch({branch}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return int(out.stdout) == 0              # MKL_CBWR_SUCCESS


def test_first_cell_pins_the_kernel_path_and_a_test_can_choose_another():
    """What `make test` relies on: the chapters run on AVX2 kernels by default, and the
    second nbval pass really runs them on the unvectorised path."""
    if platform.machine().lower() not in ("x86_64", "amd64") or " avx2" not in Path("/proc/cpuinfo").read_text():
        pytest.skip("the kernel-path pins apply to x86-64 CPUs with AVX2")
    MKL_AUTO, MKL_AVX2, MKL_COMPATIBLE = 2, 10, 3   # MKL_CBWR_AUTO, _AVX2, _COMPATIBLE (mkl_cbwr.h)
    capability, branch = _kernel_paths_after_first_cell({})
    # Some CPUs (seen: an AVX-512 AMD EPYC) have no AVX2 branch in MKL: mkl_cbwr_set refuses it
    # (MKL_CBWR_ERR_UNSUPPORTED_BRANCH) and MKL keeps its automatic branch. Accept that only
    # where MKL itself says so; the second nbval pass still proves the outputs' margins.
    assert capability == "AVX2"
    assert branch in (MKL_AVX2, None) or (branch == MKL_AUTO and not _mkl_offers(MKL_AVX2)), branch
    capability, branch = _kernel_paths_after_first_cell({"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"})
    assert capability == "DEFAULT" and branch in (MKL_COMPATIBLE, None)


def test_no_dataset_is_tracked():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    data_like = {".csv", ".dat", ".zip", ".npz", ".parquet", ".data", ".item", ".base", ".test"}
    tracked = [f for f in out.stdout.splitlines() if Path(f).suffix.lower() in data_like]
    assert tracked == []


def test_library_code_is_shown_from_code_cells():
    """No `literalinclude`: it renders only in the HTML, so in JupyterLab, Binder and Colab the
    reader would see the raw directive. Library code is shown by `source(...)` in a code cell,
    whose stored output nbval compares with the library as it is now."""
    shown = 0
    for nb in CHAPTERS:
        cells = json.loads(nb.read_text())["cells"]
        for i, c in enumerate(cells):
            text = "".join(c["source"])
            assert "literalinclude" not in text, f"{nb.name} cell {i}: use als_lib.show.source"
            if c["cell_type"] == "code" and "source(" in text:
                shown += 1
                outputs = [o for o in c["outputs"] if o["output_type"] == "execute_result"]
                assert outputs and "text/markdown" in outputs[-1]["data"], \
                    f"{nb.name} cell {i}: source(...) must be the cell's last expression"
    assert shown >= 10




def _text_outputs(cell: dict) -> list[str]:
    texts = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            texts.append("".join(o["text"]))
        elif o["output_type"] in ("execute_result", "display_data"):
            data = o["data"]
            if "text/html" not in data:          # a DataFrame shows as an HTML table
                texts.append("".join(data.get("text/plain", "")))
    return texts


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_code_and_printed_output_fit_the_text_column(nb):
    """Every line of code a reader sees (the hidden first two cells aside), every printed line
    and every line of library code shown with source(...) fits in 79 characters. Error messages
    wrap (see _static/book.css)."""
    long = []
    for i, c in enumerate(code_cells(nb)[2:], 2):     # the hidden first two cells aside
        for line in "".join(c["source"]).splitlines():
            if len(line) > MAX_LINE:
                long.append(f"code cell {i}: {line[:60]}...")
        for text in _text_outputs(c):
            for line in text.splitlines():
                if len(line) > MAX_LINE:
                    long.append(f"code cell {i} output: {line[:60]}...")
    assert not long, f"{nb.name}: lines over {MAX_LINE} characters:\n" + "\n".join(long)


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapters_read_no_file_outside_chapters_and_name_no_machine(nb):
    """A chapter runs anywhere (Binder, Colab: only the notebook's folder is certain), so its
    code opens no path outside chapters/; and its prose does not describe one machine."""
    cells = json.loads(nb.read_text())["cells"]
    for i, c in enumerate(cells):
        text = "".join(c["source"])
        if c["cell_type"] == "code":
            assert "../" not in text, f"{nb.name} cell {i} reads outside chapters/"
        else:
            for words in ("this machine", "2-core", "two-core", "this computer"):
                assert words not in text.lower(), f"{nb.name} cell {i}: '{words}' in prose"

