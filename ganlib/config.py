"""One place for the course's run-time switches: quick mode, device choice and seeding.

Notebooks never branch on CI themselves; they ask this module. Quick mode (CI, smoke runs)
runs the same code with fewer steps and smaller data, it never skips a code path:

    n_steps = config.pick(full=3000, quick=60)

Environment variables:
    GANLIB_QUICK   "1"/"true" turns quick mode on, "0"/"false" off; when unset, quick mode is
                   on exactly when CI is set (as on every CI service).
    GANLIB_DEVICE  "cpu", "cuda", "cuda:1", "mps": overrides the automatic device choice.

Notebook: 00_audio_basics.ipynb
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={value!r}: expected one of "
                     f"{sorted(_TRUE | _FALSE - {''})}")


def is_quick() -> bool:
    """True in quick mode: GANLIB_QUICK if set, else whether CI is set."""
    quick = _flag("GANLIB_QUICK")
    if quick is not None:
        return quick
    return bool(os.environ.get("CI", "").strip()) and os.environ["CI"].strip().lower() not in _FALSE


def pick(full, quick):
    """Return `quick` in quick mode, else `full` (step counts, dataset sizes, ...)."""
    return quick if is_quick() else full


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: `device` if given, else GANLIB_DEVICE, else cuda, mps, cpu."""
    choice = device if device is not None else os.environ.get("GANLIB_DEVICE") or None
    if choice is not None:
        try:
            chosen = torch.device(choice)
        except RuntimeError as error:
            raise ValueError(f"device {choice!r} (from {'argument' if device is not None else 'GANLIB_DEVICE'}) "
                             f"is not a torch device: {error}") from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} asked for, but torch sees no CUDA GPU "
                             f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})")
        if chosen.type == "mps" and not _mps_available():
            raise ValueError(f"device {choice!r} asked for, but Apple's MPS backend is not available")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def cpu_bf16_units() -> list[str]:
    """The CPU's bf16 matrix instructions that torch can use, of "amx_bf16" (Intel AMX) and
    "avx512_bf16"; empty if none (or if this torch cannot tell). Training with
    Trainer(precision="bf16") on the CPU is faster than fp32 only with them (by how much for the
    course's GANs: benchmarks/wavegan_speed.py and hifigan_speed.py, results/ beside them);
    without them bf16 is emulated and slower."""
    capabilities = getattr(torch.cpu, "get_capabilities", None)
    found = capabilities() if capabilities is not None else {}
    return [name for name in ("amx_bf16", "avx512_bf16") if found.get(name)]


def seed_everything(seed: int = 0) -> int:
    """Seed Python's `random`, NumPy's global generator and torch (CPU and every GPU).

    Returns the seed, so a notebook can print what it used.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def describe() -> str:
    """A one-line summary of the run: quick mode, device, torch version, CPU threads."""
    device = get_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return (f"ganlib: quick mode {'on' if is_quick() else 'off'}, device {name}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
