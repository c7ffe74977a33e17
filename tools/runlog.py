"""What the course's training tools (train_digits.py, train_vocoder.py) share: a run folder under
runs/ with its settings and commands, training in timed chunks with an evaluation after each
(runs/<run>/scores.jsonl), and the tables they write into data/checkpoints/README.md.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Iterator


def add_precision_argument(parser, note: str = "") -> None:
    """--precision for a training command: fp32 (the default), or bf16 autocast, faster on a CPU
    with bf16 matrix units (ganlib.config.cpu_bf16_units: Intel AMX, avx512_bf16; by how much:
    benchmarks/wavegan_speed.py, hifigan_speed.py) and slower on one without them. Not a setting
    of the run: a run may be resumed at the other precision; commands.txt and scores.jsonl say which.
    Faster is not as good: bf16 rounds every activation, which HiFi-GAN's log-mel loss notices
    (hifigan.trainer_options); compare a bf16 run's scores with an fp32 run's before trusting it.
    `note` is added to the help (a model that bf16 harms says so)."""
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: autocast, faster on CPUs with AMX or avx512_bf16 (ganlib.config.cpu_bf16_units). "
                             + note)


def run_commands(run_dir: Path, parent_key: str) -> list[str]:
    """The commands that trained a run: those of the run it started from (named by its
    settings' `parent_key`, a sibling folder under runs/) first, recursively, or those a run
    started from a shipped checkpoint inherited from its JSON (inherited_commands.txt), then its own."""
    settings = json.loads((run_dir / "settings.json").read_text())
    own = (run_dir / "commands.txt").read_text().splitlines()
    if (run_dir / "inherited_commands.txt").is_file():
        return (run_dir / "inherited_commands.txt").read_text().splitlines() + own
    parent = settings.get(parent_key)
    return (run_commands(run_dir.parent / parent, parent_key) if parent else []) + own


def open_run(run_dir: Path, settings: dict, tool: str) -> None:
    """Create runs/<run>/; refuse to continue a run trained with other settings; record the
    settings and append this command to commands.txt."""
    run_dir.mkdir(parents=True, exist_ok=True)
    settings_file = run_dir / "settings.json"
    if settings_file.is_file() and json.loads(settings_file.read_text()) != settings:
        raise SystemExit(f"{run_dir} was trained with other settings: {settings_file.read_text()}")
    settings_file.write_text(json.dumps(settings, indent=2) + "\n")
    with open(run_dir / "commands.txt", "a") as file:
        file.write(f"python tools/{tool} " + " ".join(sys.argv[1:]) + "\n")


def train_in_chunks(trainer, run_dir: Path, minutes: float, steps: int, eval_every: int,
                    evaluate: Callable[[], dict], digits: int = 3) -> Iterator[dict]:
    """Resume `trainer`, then train `eval_every` steps at a time until `steps` or `minutes` run
    out, or Ctrl-C / kill (the trainer checkpoints). After each chunk: a record of the step, its
    time, the last logged losses (rounded to `digits`) and evaluate()'s scores, appended to
    runs/<run>/scores.jsonl, printed, and yielded."""
    deadline = time.time() + 60 * minutes
    trainer.fit(0)  # resume
    while time.time() < deadline and trainer.step < steps:
        start, steps_before = time.time(), trainer.step
        trainer.fit(min(trainer.step + eval_every, steps))
        if trainer.interrupted:  # Ctrl-C: the trainer saved its checkpoint; stop here
            break
        seconds = time.time() - start
        record = {"step": trainer.step, "seconds": round(seconds, 1),
                  "seconds_per_step": round(seconds / max(trainer.step - steps_before, 1), 3),
                  "precision": trainer.precision,
                  **{k: round(v, digits) for k, v in trainer.history.last().items()}, **evaluate()}
        with open(run_dir / "scores.jsonl", "a") as file:
            file.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
        yield record


def write_readme_block(readme: Path, name: str, rows: list[str]) -> None:
    """Replace what stands between <!-- name:start --> and <!-- name:end --> in `readme`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = readme.read_text().split(start)
    readme.write_text(head + start + "\n" + "\n".join(rows) + "\n" + end + rest.split(end)[1])
    print("\n".join(rows))
