"""`make lab` starts JupyterLab on the chapters with the project's kernel, also as root (as a
new user inside a container often is): started here for real, asked for its notebooks and
kernel, and stopped."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_serves_the_chapters_with_a_kernel_that_imports_als_lib():
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("`make lab` needs the project environment (make setup)")
    token = secrets.token_hex(16)
    with socket.socket() as s:                  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = (f"--no-browser --port={port} --ServerApp.port_retries=0 "
            f"--IdentityProvider.token={token} --ServerApp.ip=127.0.0.1")
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    log = []
    try:
        url = None
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            log.append(line)
            m = re.search(rf"(http://127\.0\.0\.1:{port})/lab", line)
            url = m and m.group(1)
        assert url, "make lab did not start:\n" + "".join(log[-30:])
        if os.geteuid() == 0:
            assert any("--allow-root" in ln for ln in log), "as root, make lab passes --allow-root"

        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy to localhost

        def get(path, tries=30):
            req = urllib.request.Request(url + path, headers={"Authorization": f"token {token}"})
            for _ in range(tries):          # the URL is logged a moment before it accepts
                try:
                    with direct.open(req, timeout=30) as r:
                        return json.load(r)
                except urllib.error.URLError as err:
                    if proc.poll() is not None:
                        raise AssertionError("make lab exited:\n" + "".join(log[-30:])) from err
                    time.sleep(1)
            raise AssertionError(f"JupyterLab does not answer at {url}")

        names = {c["name"] for c in get("/api/contents/")["content"]}
        assert "01_the_ratings_matrix.ipynb" in names, f"lab opened elsewhere: {sorted(names)[:10]}"
        specs = get("/api/kernelspecs")
        spec = specs["kernelspecs"][specs["default"]]["spec"]
        python = spec["argv"][0]
        if python in ("python", "python3"):        # the server's own interpreter: the venv's
            python = str(ROOT / ".venv" / "bin" / "python")
        out = subprocess.run([python, "-c", "import als_lib; print(als_lib.__file__)"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert Path(out.stdout.strip()).resolve().is_relative_to(ROOT / "als_lib")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
