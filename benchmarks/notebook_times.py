#!/usr/bin/env python3
"""Time every chapter notebook, headless, in quick mode and in full mode.

    python benchmarks/notebook_times.py                  # all notebooks, quick and full
    python benchmarks/notebook_times.py --quick-only --only 02
    python benchmarks/notebook_times.py --update-readme  # what `make bench` runs

Quick mode is GANLIB_QUICK=1 (what `make test` runs); full mode is GANLIB_QUICK=0 with CI
removed from the environment. Each notebook runs from a temporary copy, so nothing is written
into notebooks/. Results go to benchmarks/results/notebooks.json (merged with earlier results
from the same machine); --update-readme rewrites README's course map from that file, between
the markers below. Never type the numbers in by hand.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"
README = ROOT / "README.md"
MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"

# "What you learn" column of the course map, from the course plan; titles come from each
# notebook's first heading.
WHAT_YOU_LEARN = {
    "00": "digital audio: sampling, aliasing, quantisation, STFT, mel spectrograms, phase; a tour of the bundled data",
    "01": "the GAN objective, optimal discriminator, saturating vs non-saturating loss",
    "02": "the 7-step training loop of an MLP GAN, on points and on audio frames",
    "03": "LSGAN, hinge, WGAN-GP, spectral norm, R1, TTUR; spotting mode collapse",
    "04": "WaveGAN: transposed 1-D convolutions, phase shuffle, latent interpolation",
    "05": "SpecGAN and conditional GANs, Griffin-Lim, class control",
    "06": "evaluating audio GANs: Inception Score, Fréchet distance, listening tests",
    "07": "GAN vocoders: HiFi-GAN (MRF generator, period and scale discriminators, feature matching), a Fourier-head vocoder (Vocos/APNet: ConvNeXt, magnitude and phase, inverse STFT, anti-wrapped phase losses, multi-resolution discriminator) vs Griffin-Lim; what the mel keeps; PESQ, STOI, MR-STFT, pitch; what the discriminator buys; real-time factor",
    "08": "speech enhancement with SEGAN",
    "09": "voice conversion with CycleGAN-VC",
    "10": "conditioned generation of music notes and environmental sounds",
    "11": "full training runs: the CLI, real datasets, mixed precision, several GPUs",
}
MODES = {"quick": {"GANLIB_QUICK": "1"}, "full": {"GANLIB_QUICK": "0"}}


def chapter_notebooks(only=()):
    """notebooks/NN_*.ipynb, sorted; `only` keeps those whose NN is listed."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    return [path for path in found if not only or path.name[:2] in only]


def title_of(notebook):
    """The text of the first markdown heading, without a leading chapter number."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#+\s+(.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return re.sub(r"^(Chapter\s+)?\d+[^\w(\[]*", "", match.group(1)).strip()
    return None


def mode_environment(mode):
    env = dict(os.environ, **MODES[mode])
    if mode == "full":
        env.pop("CI", None)  # quick mode follows CI when GANLIB_QUICK is unset
    return env


def current_env_kernel():
    """A kernel manager for this interpreter's own ipykernel (like nbval --nbval-current-env),
    whatever kernels the user has installed elsewhere."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnv(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                    "{connection_file}"],
                              display_name="Python (this environment)", language="python")

    return KernelManager(kernel_name="current-env", kernel_spec_manager=CurrentEnv())


def run_notebook(path, mode, timeout_s):
    """Execute the notebook at `path` in a temporary copy; return the wall time in seconds.
    The copy sits in tmp/notebooks/ beside a link to data/, so relative paths still work."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="ganlib-bench-") as tmp:
        workdir = Path(tmp) / "notebooks"
        workdir.mkdir()
        shutil.copy2(path, workdir / path.name)
        if (ROOT / "data").is_dir():
            (Path(tmp) / "data").symlink_to(ROOT / "data", target_is_directory=True)
        kernel = current_env_kernel()
        client = NotebookClient(notebook, km=kernel, timeout=timeout_s,
                                resources={"metadata": {"path": str(workdir)}})
        start = time.perf_counter()
        try:
            client.execute(env=mode_environment(mode))
            return time.perf_counter() - start
        finally:
            if kernel.has_kernel:  # nbclient leaves a kernel it was given running
                kernel.shutdown_kernel(now=True)


def machine_info():
    info = {"cpu_count": os.cpu_count(), "platform": platform.platform(terse=True),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": metadata.version("torch"),
            "date": datetime.date.today().isoformat()}
    try:
        from ganlib import config
        info["device"] = str(config.get_device())
    except Exception as error:  # the times still stand without it
        info["device"] = f"unknown ({type(error).__name__})"
    return info


def same_machine(a, b):
    """The same kind of machine: cores, processor, torch, device, and the platform's system and
    architecture (not the kernel's build, which changes from one session's machine to the next)."""
    keys = ("cpu_count", "processor", "torch", "device")
    return all(a.get(key) == b.get(key) for key in keys) and _platform_kind(a) == _platform_kind(b)


def _platform_kind(machine):
    """'Linux-6.18.44-fc-v669-x86_64-with-glibc2.36' -> ('Linux', 'x86_64')."""
    parts = machine.get("platform", "").split("-")
    return parts[0], next((p for p in parts if p in ("x86_64", "aarch64", "arm64", "AMD64", "i686")), None)


def load_results():
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def format_seconds(seconds):
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def course_map_block(results):
    """README's course map, markers included, rendered from the results file's contents."""
    machine = results["machine"]
    lines = [MAP_START,
             "| Chapter | What you learn | Quick mode | Full run |",
             "|---|---|---|---|"]
    for stem, entry in sorted(results["notebooks"].items()):
        title = entry["title"] or stem
        lines.append(f"| [{stem[:2]} {title}](notebooks/{stem}.ipynb) | {entry['what_you_learn']} "
                     f"| {format_seconds(entry.get('quick_s'))} "
                     f"| {format_seconds(entry.get('full_s'))} |")
    lines += ["",
              f"Wall time of one headless run by `make bench` on a machine with "
              f"{machine['cpu_count']} CPU cores (device {machine['device']}, torch "
              f"{machine['torch']}, {machine['date']}). "
              "Quick mode (`GANLIB_QUICK=1`) is what `make test` runs.",
              MAP_END]
    return "\n".join(lines)


def update_readme(results):
    text = README.read_text(encoding="utf-8")
    start, end = text.find(MAP_START), text.find(MAP_END)
    if start < 0 or end < start:
        sys.exit(f"README.md has no {MAP_START} ... {MAP_END} markers")
    README.write_text(text[:start] + course_map_block(results) + text[end + len(MAP_END):],
                      encoding="utf-8")
    print(f"updated the course map in {README.relative_to(ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick-only", action="store_true", help="skip the full-mode runs")
    parser.add_argument("--only", nargs="+", default=(), metavar="NN",
                        help="chapter numbers to run, e.g. --only 02 03")
    parser.add_argument("--update-readme", action="store_true",
                        help="rewrite README's course map from the results")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per cell")
    options = parser.parse_args()

    import nbformat

    paths = chapter_notebooks(options.only)
    if not paths:
        sys.exit("no notebooks/NN_*.ipynb to run" + (f" for {options.only}" if options.only else ""))
    machine = machine_info()
    results = {"machine": machine, "notebooks": {}}
    if RESULTS.exists():
        earlier = load_results()
        if same_machine(earlier["machine"], machine):
            existing = {path.stem for path in chapter_notebooks()}
            results["notebooks"] = {stem: entry for stem, entry in earlier["notebooks"].items()
                                    if stem in existing}
    modes = ["quick"] if options.quick_only else ["quick", "full"]
    failures = []
    for path in paths:
        entry = results["notebooks"].setdefault(path.stem, {})
        entry["title"] = title_of(nbformat.read(path, as_version=4))
        entry["what_you_learn"] = WHAT_YOU_LEARN.get(path.name[:2], "")
        for mode in modes:
            print(f"{path.name} [{mode}] ...", end=" ", flush=True)
            try:
                entry[f"{mode}_s"] = round(run_notebook(path, mode, options.timeout), 1)
                print(format_seconds(entry[f"{mode}_s"]), flush=True)
            except Exception as error:
                entry[f"{mode}_s"] = None
                message = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # no colour codes
                failures.append(f"{path.name} [{mode}]: {type(error).__name__}: "
                                f"{message.splitlines()[-1] if message else ''}")
                print("FAILED", flush=True)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\n{'notebook':<32} {'quick':>9} {'full':>9}")
    for stem, entry in sorted(results["notebooks"].items()):
        print(f"{stem:<32} {format_seconds(entry.get('quick_s')):>9} "
              f"{format_seconds(entry.get('full_s')):>9}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if failures:
        print("\nfailed (README left as it was):", *failures, sep="\n  ")
        return 1
    if options.update_readme:
        update_readme(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
