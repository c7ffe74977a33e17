"""The course's setup holds together: both install routes name the same packages, `make lab`
serves JupyterLab, notebooks are committed stripped, and README's course map shows the
measured times."""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from PyPI's; environment.yml uses the left, pyproject the right.
CONDA_TO_PIP = {"pytorch": "torch", "pysoundfile": "soundfile"}
CONDA_ONLY = {"python", "pip"}




def normalise(requirement):
    """'librosa >= 0.10' -> ('librosa', '>=0.10'); names compared the PyPI way."""
    name, spec = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def pyproject_requirements():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(normalise(r) for r in requirements)


def parse_environment_yml():
    """Return ({name: spec} for conda packages, [pip entries])."""
    conda, pip, in_pip, top_indent, section = {}, [], False, None, None
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line[0].isspace():
            section = line[:-1] if line.endswith(":") else None
            continue
        stripped = line.lstrip()
        if section != "dependencies" or not stripped.startswith("- "):
            continue
        indent, item = len(line) - len(stripped), stripped[2:].strip()
        top_indent = indent if top_indent is None else top_indent
        if indent == top_indent:
            in_pip = item == "pip:"
            if not in_pip:
                name, spec = normalise(item)
                conda[CONDA_TO_PIP.get(name, name)] = spec
        elif in_pip:
            pip.append(item)
    return conda, pip


def test_environment_yml_names_the_same_packages_as_pyproject():
    conda, pip = parse_environment_yml()
    for name in CONDA_ONLY:
        conda.pop(name, None)
    # packages conda-forge lacks come from PyPI in the pip: section (pesq, a C extension built here)
    from_pypi = dict(normalise(item) for item in pip if item != "-e .")
    assert not set(conda) & set(from_pypi), "a package is listed both for conda and for pip"
    assert {**conda, **from_pypi} == pyproject_requirements()
    assert "-e ." in pip, "environment.yml must install ganlib itself (pip: -e .)"


def test_ganlib_is_installed_from_this_checkout():
    if not (ROOT / "ganlib" / "__init__.py").exists():
        pytest.skip("ganlib/__init__.py does not exist yet")
    import ganlib
    assert Path(ganlib.__file__).resolve().parent == ROOT / "ganlib"


def test_torch_choice_never_pulls_a_cuda_build_on_a_cpu_machine(monkeypatch):
    bootstrap = load_script("tools/bootstrap.py")
    for name in ("GANLIB_TORCH_SPEC", "GANLIB_TORCH_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")
    monkeypatch.setattr(bootstrap, "has_nvidia_gpu", lambda: False)

    monkeypatch.setattr(bootstrap, "reachable", lambda host: True)
    assert bootstrap.choose_torch()[0] == ["torch", "--index-url", bootstrap.CPU_INDEX]
    monkeypatch.setattr(bootstrap, "reachable", lambda host: False)
    assert bootstrap.choose_torch()[0] == [bootstrap.CPU_LOCAL_WHEEL]

    monkeypatch.setenv("GANLIB_TORCH_INDEX", "https://example.org/whl/rocm")
    assert bootstrap.choose_torch()[0] == ["torch", "--index-url", "https://example.org/whl/rocm"]


def test_setup_is_a_no_op_when_nothing_changed():
    bootstrap = load_script("tools/bootstrap.py")
    if not bootstrap.STAMP.exists() or bootstrap.STAMP.read_text().strip() != bootstrap.stamp_key():
        pytest.skip(".venv is not set up for this pyproject.toml (run make setup)")
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "bootstrap.py")],
                          capture_output=True, text=True, check=True)
    assert "up to date" in done.stdout
    assert time.monotonic() - start < 10


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_status(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def stop_group(process, timeout_s=30):
    """SIGTERM the process group led by `process` (make and the server it started), wait;
    SIGKILL what is left after timeout_s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:  # the whole group has exited already
            pass
        try:
            process.wait(timeout=timeout_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.skipif(os.name == "nt" or shutil.which("make") is None,
                    reason="needs make and POSIX process groups")
def test_make_lab_serves_jupyterlab(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    lab_args = (f"--no-browser --ServerApp.ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
                f" --IdentityProvider.token={token}")
    log_path = tmp_path / "lab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
                                  cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while http_status(f"{base}/api/status", token) != 200:
            assert server.poll() is None, f"make lab exited early:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"no answer in 90 s:\n{log_path.read_text()}"
            time.sleep(0.5)
        assert http_status(f"{base}/lab", token) == 200
        assert http_status(f"{base}/api/contents", "wrong-token") == 403
    finally:
        stop_group(server)
    assert http_status(f"{base}/api/status", token) is None, "the server is still running"


def committed_notebooks():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return []
    listed = subprocess.run(["git", "ls-files", "--", "notebooks/*.ipynb"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return [ROOT / path for path in listed.splitlines()]


def test_committed_notebooks_are_stripped():
    notebooks = committed_notebooks()
    if not notebooks:
        pytest.skip("no notebooks committed yet")
    nbstrip = load_script("tools/nbstrip.py")
    unstripped = [str(path.relative_to(ROOT)) for path in notebooks
                  if not nbstrip.is_stripped(json.loads(path.read_text(encoding="utf-8")))]
    assert not unstripped, f"run `make strip`: {unstripped}"
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        checked = [c for c in cells if c["cell_type"] == "code" and nbstrip.is_checked(c)]
        assert checked, f"{path.name} has no `# NBVAL_CHECK_OUTPUT` cell"
        without = [i for i, c in enumerate(cells) if c in checked and not c["outputs"]]
        assert not without, (f"{path.name}: checked cells {without} carry no reference output, so "
                             f"nbval would compare nothing: run `make references`")


def _notebook(source: str, reference: str) -> dict:
    cell = {"cell_type": "code", "execution_count": 7, "metadata": {}, "source": source,
            "outputs": [{"name": "stdout", "output_type": "stream", "text": reference},
                        {"output_type": "display_data", "metadata": {}, "data": {"image/png": "AAAA"}}]}
    plain = {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": "print('free')",
             "outputs": [{"name": "stdout", "output_type": "stream", "text": "anything\n"}]}
    return {"cells": [cell, plain], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
            "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("reference, passes", [("4\n", True), ("5\n", False)])
def test_nbval_compares_the_references_the_strip_keeps(tmp_path, reference, passes):
    """A stripped notebook keeps what nbval needs: a wrong reference fails the run."""
    nbstrip = load_script("tools/nbstrip.py")
    notebook = nbstrip.strip(_notebook("# NBVAL_CHECK_OUTPUT\nprint(2 + 2)", reference))
    assert nbstrip.is_stripped(notebook)
    assert notebook["cells"][0]["outputs"] == [{"name": "stdout", "output_type": "stream", "text": reference}]
    assert notebook["cells"][1]["outputs"] == [] and notebook["cells"][1]["execution_count"] is None
    path = tmp_path / "check.ipynb"
    path.write_text(nbstrip.dumps(notebook), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax",
                          "--nbval-current-env", str(path), "-o", "addopts=", "--rootdir", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert (run.returncode == 0) is passes, run.stdout[-2000:]


def test_readme_course_map_shows_the_benchmark():
    bench = load_script("benchmarks/notebook_times.py")
    if not bench.RESULTS.exists():
        pytest.skip("no benchmark results yet (make bench)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert bench.course_map_block(bench.load_results()) in readme, \
        "README's course map differs from benchmarks/results/notebooks.json: run make bench"


def test_notebook_times_keeps_rows_measured_on_the_same_kind_of_machine():
    bench = load_script("benchmarks/notebook_times.py")
    machine = {"cpu_count": 2, "platform": "Linux-6.18.44-fc-v669-x86_64-with-glibc2.36", "processor": "x86_64",
               "torch": "2.13.0+cpu", "device": "cpu"}
    assert bench.same_machine(machine, {**machine, "platform": "Linux-6.18.44-fc-v1300-x86_64-with-glibc2.36"})
    assert not bench.same_machine(machine, {**machine, "platform": "Linux-6.18.44-fc-v669-aarch64-with-glibc2.36"})
    assert not bench.same_machine(machine, {**machine, "cpu_count": 4})
    assert not bench.same_machine(machine, {**machine, "torch": "2.12.0+cpu"})
