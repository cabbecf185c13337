"""Binder reads binder/ (repo2docker): the PyTorch CPU wheel index, the root pins, Python 3.11,
Java 17. Checked without Docker: the files against the root ones, and the Dockerfile that
repo2docker writes for this repository (`jupyter-repo2docker --no-build`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def requirement_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def test_first_line_adds_the_pytorch_cpu_index_and_only_binder_has_it():
    assert (BINDER / "requirements.txt").read_text().splitlines()[0] == CPU_INDEX
    assert "download.pytorch.org" not in (ROOT / "requirements.txt").read_text(), \
        "CI and the project's machines cannot reach the PyTorch index: keep it out of the root file"


def test_binder_pins_are_the_root_pins_with_the_root_constraints():
    root = requirement_lines(ROOT / "requirements.txt")
    binder = requirement_lines(BINDER / "requirements.txt")
    assert binder[0] == CPU_INDEX
    assert "-c ../constraints.txt" in binder   # nested paths are relative to binder/
    pins = [ln for ln in binder if not ln.startswith(("-", "--"))]
    assert pins == [ln for ln in root if not ln.startswith("-")], \
        "binder/requirements.txt must list the root requirements.txt pins, in the same order"
    assert binder[-1] == "-e .", "`-e .` (last) makes repo2docker copy the repository in first"
    assert "torch==2.13.0" in pins and not any("+cpu" in p for p in pins)


def test_runtime_and_apt_files():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    apt = requirement_lines(BINDER / "apt.txt")
    assert apt == ["openjdk-17-jre-headless"], "Spark (Chapter 9) needs a Java 17 runtime"
    for name in ("runtime.txt", "apt.txt", "environment.yml", "Pipfile", "postBuild"):
        assert not (ROOT / name).exists(), f"a root {name} would mislead: Binder reads binder/"


def test_repo2docker_installs_binder_requirements_after_copying_the_repository(tmp_path):
    exe = shutil.which("jupyter-repo2docker", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("jupyter-repo2docker is not installed (make setup installs it)")
    # a clean copy of the tracked files, as Binder would clone them
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    repo = tmp_path / "repo"
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
    out = subprocess.run([exe, "--no-build", str(repo)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    dockerfile = out.stdout
    # build-script file names are escaped ("-2e" is ".", "-2d" is "-"): the conda environment
    # repo2docker sets up is environment.py-3.11-linux-64.lock
    names = dockerfile.replace("-2d", "-").replace("-2e", ".")
    assert "environment.py-3.11-" in names, "repo2docker did not pick Python 3.11 from binder/runtime.txt"
    assert re.search(r"apt-get install[^\n]*\n?[^\n]*openjdk-17-jre-headless", dockerfile)
    copy = dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert copy < install, "the repository must be copied in before `-e .` is installed"
