#!/usr/bin/env python3
"""Set up the course: create .venv, install the right torch build, then ganlib and its extras.

    python3 tools/bootstrap.py        (what `make setup` runs)

Run again, it does nothing unless pyproject.toml changed (a stamp inside .venv remembers).

How torch is chosen, first match wins:
  1. torch already importable in .venv           -> keep it
  2. GANLIB_TORCH_SPEC / GANLIB_TORCH_INDEX set  -> pip install $GANLIB_TORCH_SPEC (default
     "torch") from index $GANLIB_TORCH_INDEX ("pypi" or unset: PyPI)
  3. NVIDIA GPU (nvidia-smi -L works) or macOS    -> pip install torch (PyPI: CUDA / MPS build)
  4. CPU only, download.pytorch.org reachable    -> pip install torch --index-url .../whl/cpu
  5. CPU only, offline                           -> pip install torch==2.13.0+cpu, which only a
     local wheel (pip's find-links) provides; it fails rather than pull a CUDA build.
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / ".ganlib-setup-stamp"
PYTORCH_HOST = "download.pytorch.org"
CPU_INDEX = f"https://{PYTORCH_HOST}/whl/cpu"
CPU_LOCAL_WHEEL = "torch==2.13.0+cpu"


def say(message):
    print(f"[setup] {message}", flush=True)


def venv_python():
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def stamp_key():
    """What the installed .venv depends on: pyproject.toml, and whether ganlib/ is a package yet
    (an editable install maps the top-level package when it is installed)."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(b"ganlib/__init__.py" if (ROOT / "ganlib" / "__init__.py").exists() else b"-")
    return digest.hexdigest()


def run(*args):
    say("$ " + " ".join(str(a) for a in args))
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def reachable(host, port=443, timeout_s=3.0):
    """True if a TCP connection to host:port opens within timeout_s (DNS included)."""
    result = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result)


def has_nvidia_gpu():
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "GPU" in done.stdout


def choose_torch():
    """Return (pip arguments, reason) for installing torch."""
    spec = os.environ.get("GANLIB_TORCH_SPEC", "").strip()
    index = os.environ.get("GANLIB_TORCH_INDEX", "").strip()
    if spec or index:
        args = spec.split() or ["torch"]
        if index and index.lower() != "pypi":
            args += ["--index-url", index]
        return args, "GANLIB_TORCH_SPEC / GANLIB_TORCH_INDEX set"
    if sys.platform == "darwin":
        return ["torch"], "macOS: PyPI's torch (uses the Apple GPU through MPS)"
    if has_nvidia_gpu():
        reason = "NVIDIA GPU found (nvidia-smi -L): PyPI's torch, a CUDA build"
        if os.name == "nt":
            reason += (" -- on Windows PyPI's torch is CPU-only; for CUDA set GANLIB_TORCH_INDEX"
                       " to a CUDA index from pytorch.org/get-started")
        return ["torch"], reason
    if reachable(PYTORCH_HOST):
        return ["torch", "--index-url", CPU_INDEX], f"no GPU; {PYTORCH_HOST} reachable: CPU build"
    return [CPU_LOCAL_WHEEL], (f"no GPU; {PYTORCH_HOST} not reachable: the CPU wheel from pip's "
                               "local find-links (refuses PyPI's multi-GB CUDA build)")


def torch_help():
    return f"""Could not install torch. Pick the build yourself and run `make setup` again:
  CPU only:      GANLIB_TORCH_INDEX={CPU_INDEX} make setup
  NVIDIA (CUDA): GANLIB_TORCH_INDEX=pypi make setup     (Linux; several GB)
  a given one:   GANLIB_TORCH_SPEC='torch==2.5.1' GANLIB_TORCH_INDEX=<index url> make setup
  or take the conda route: conda env create -f environment.yml"""


def main():
    if sys.version_info < (3, 10):
        sys.exit(f"[setup] Python >= 3.10 needed; this is {sys.version.split()[0]}. "
                 "Run with a newer python3, e.g. `make setup PYTHON=python3.11`.")
    key = stamp_key()
    python = venv_python()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == key:
        say(".venv is up to date (pyproject.toml unchanged)")
        return 0

    if not python.exists():
        say(f"creating {VENV.relative_to(ROOT)} with {sys.executable}")
        if run(sys.executable, "-m", "venv", VENV) != 0:
            sys.exit("[setup] `python3 -m venv` failed; on Debian/Ubuntu install python3-venv.")

    has_torch = subprocess.call(
        [str(python), "-c", "import importlib.util, sys; "
                            "sys.exit(importlib.util.find_spec('torch') is None)"]) == 0
    if has_torch:
        say("torch: already installed in .venv, kept")
    else:
        args, reason = choose_torch()
        say(f"torch: {reason}")
        if run(python, "-m", "pip", "install", *args) != 0:
            sys.exit("[setup] " + torch_help())

    if run(python, "-m", "pip", "install", "-e", ".[course,test]") != 0:
        sys.exit("[setup] installing ganlib and its dependencies failed (see pip's message above).")
    STAMP.write_text(key + "\n")
    say("done: .venv is ready (`make lab` opens the course, `make test` runs the tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
