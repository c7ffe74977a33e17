"""The one GAN training loop of the course, from the 1-D toy GAN to HiFi-GAN.

The seed's 7-step algorithm, grown up:

    for step in range(steps):
        for _ in range(n_critic):                         # steps 2-5: train the discriminator
            real, condition = next batch
            fake = G(z[, condition])   or   G(condition)   (a vocoder)
            d_loss = loss(D(real), D(fake.detach())) [+ gp_weight * GP] [+ r1_weight / 2 * R1]
                     [+ classifier_weight * CE(D's class logits on real, labels)]
            update D
        g_loss = loss(D(fake)) [+ classifier_weight * CE(D's class logits on fake, labels)]
                 [+ extra generator losses]               # step 6: train the generator
        (during a discriminator-free warm-up, step < adversarial_after: no D update, and
         g_loss is the extra generator losses alone)
        update G (and its moving average, if ema_decay is set)

What the loop adds around it: device placement, bf16 mixed precision, gradient clipping, a
progress bar with live losses, a history (losses, D(x), D(G(z)), gradient norms), callbacks
every N steps, atomic checkpoints that resume bit for bit, a clear stop on a non-finite loss,
and a clean stop when a student presses "interrupt". Values are only copied from the device
at logging intervals, never every step.

Conventions:
  * data: any iterable of batches, re-iterated every epoch (a DataLoader, a list, a
    `ganlib.toy.Sampler`). A batch is a tensor `real`, or a tuple/list `(real, condition)`
    (labels for a conditional GAN, a mel spectrogram for a vocoder), or a dict with keys
    "real" and optionally "condition".
  * a discriminator returns logits (batch, ...), or a list of them (one per sub-discriminator),
    or a tuple `(logits, features)` where features are its feature maps (for feature matching),
    or a dict {"logits": ..., "features": [...], "classes": (batch, num_classes)}, "classes"
    being an auxiliary classifier's logits (AC-GAN, see classifier_weight).

Notebooks: 02_first_gan.ipynb (introduced), 03_stabilizing_gans.ipynb, and every chapter after.
"""
from __future__ import annotations

import copy
import math
import os
import random
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import config, losses

CHECKPOINT_FORMAT = "ganlib-checkpoint-1"
CHECKPOINT_NAME = "last.pt"


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss or gradient; the message names step and value."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model (another architecture or size)."""


# --- discriminator outputs ----------------------------------------------------------------
@dataclass
class DiscriminatorOutput:
    """A discriminator's answer, normalised: a list of logit tensors, a list of feature maps,
    and an auxiliary classifier's class logits (batch, num_classes) or None."""
    logits: list
    features: list = field(default_factory=list)
    classes: torch.Tensor | None = None

    @classmethod
    def of(cls, output) -> "DiscriminatorOutput":
        if isinstance(output, DiscriminatorOutput):
            return output
        if isinstance(output, dict):
            unknown = set(output) - {"logits", "features", "classes"}
            if "logits" not in output or unknown:
                raise TypeError(f"a discriminator's dict needs 'logits' (and may have 'features', 'classes'), "
                                f"got keys {sorted(output)}")
            inner = cls.of(output["logits"])
            return cls(inner.logits, list(output.get("features", [])), output.get("classes"))
        if isinstance(output, torch.Tensor):
            return cls([output])
        if isinstance(output, tuple) and len(output) == 2 and not isinstance(output[1], torch.Tensor):
            logits, features = output
            return cls([logits] if isinstance(logits, torch.Tensor) else list(logits), list(features))
        if isinstance(output, (list, tuple)) and all(isinstance(o, torch.Tensor) for o in output):
            return cls(list(output))
        raise TypeError("a discriminator must return logits (a tensor), a list of logit tensors, "
                        f"a tuple (logits, feature_maps) or a dict; got {type(output).__name__}")


@dataclass
class GeneratorStep:
    """What an extra generator loss sees: the batch, the fakes, D's answer on the fakes, and
    (computed on first use, without gradients) D's answer on the real batch. During a
    discriminator-free warm-up `adversarial` is False and d_fake is None: a loss that needs the
    discriminator (feature matching) leaves itself out then."""
    real: torch.Tensor
    condition: Any
    fake: torch.Tensor
    d_fake: DiscriminatorOutput | None
    trainer: "Trainer"
    _d_real: DiscriminatorOutput | None = None
    adversarial: bool = True

    @property
    def d_real(self) -> DiscriminatorOutput:
        if self._d_real is None:
            with torch.no_grad():
                self._d_real = self.trainer._discriminate(self.real, self.condition)
        return self._d_real


# --- history ------------------------------------------------------------------------------
class History:
    """Per-step training records: `history["g_loss"]` is a list of floats, `history.steps`
    the step of each entry. Keys: d_loss, g_loss, d_real, d_fake (mean D(x), D(G(z)): a
    probability for the minimax losses, a raw score otherwise), grad_norm_d, grad_norm_g, and
    any penalty or extra loss term (gp, r1, ...)."""

    def __init__(self, records: dict | None = None):
        self.records: dict[str, list] = {k: list(v) for k, v in (records or {}).items()}
        self.records.setdefault("step", [])

    @property
    def steps(self) -> list:
        return self.records["step"]

    def keys(self):
        return [k for k in self.records if k != "step"]

    def __getitem__(self, key: str) -> list:
        if key not in self.records:
            raise KeyError(f"history has no {key!r}; it has {self.keys()}")
        return self.records[key]

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: int, values: dict[str, float]) -> None:
        """One step's values; a key not logged before gets NaN for the earlier steps, a known
        key this step lacks (e.g. d_loss during a warm-up) gets NaN for this one."""
        for key, value in values.items():
            self.records.setdefault(key, [math.nan] * len(self.steps)).append(value)
        for key in self.keys():
            if key not in values:
                self.records[key].append(math.nan)
        self.steps.append(step)

    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.records.items() if v}

    def mean(self, key: str, last: int = 100) -> float:
        """Mean of the last `last` entries of `key`."""
        values = self[key][-last:]
        return float(np.mean(values)) if values else math.nan

    def plot(self, keys: Sequence[str] | None = None, smooth: int = 1, ax=None):
        """Plot losses and diagnostics against step (see ganlib.viz.plot_history)."""
        from . import viz
        return viz.plot_history(self, keys=keys, smooth=smooth, ax=ax)

    def state_dict(self) -> dict:
        return {k: list(v) for k, v in self.records.items()}

    def __repr__(self) -> str:
        return f"History({len(self)} steps, keys={self.keys()})"


# --- checkpoints --------------------------------------------------------------------------
def stop_on_signals() -> None:
    """Make SIGTERM (`kill`, a job scheduler's stop) and SIGINT raise KeyboardInterrupt, which
    Trainer.fit answers by saving a checkpoint and setting .interrupted. For training scripts:
    by default SIGTERM ends Python without a checkpoint, and a job started in the background by a
    non-interactive shell ignores SIGINT. Call it from the main thread."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file in the same folder, fsync, then rename over `path`:
    a crash mid-write never leaves a truncated checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint safely (`weights_only=True`: tensors and plain data, no code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"checkpoint {path} could not be read safely: {error}") from error


def load_state(module: nn.Module, state: dict, what: str = "model", source: str = "checkpoint") -> None:
    """module.load_state_dict(state), with an error naming every mismatched key and shape."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        def show(items):
            return ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
        parts = [f"{label}: {show(items)}" for label, items in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes))
                 if items]
        raise CheckpointMismatchError(f"{source}: the {what} weights do not match this "
                                      f"{type(module).__name__} (another architecture or size?); "
                                      + "; ".join(parts))
    module.load_state_dict(state)


def load_generator(generator: nn.Module, path: str | os.PathLike, ema: bool = True) -> nn.Module:
    """Load a generator's weights from a ganlib checkpoint (its moving average if present and
    `ema`), put it in eval mode and return it. Notebook: 02_first_gan.ipynb"""
    checkpoint = load_checkpoint(path)
    state = checkpoint.get("generator_ema") if ema else None
    load_state(generator, state or checkpoint["generator"], "generator", str(path))
    return generator.eval()


def _rng_state() -> dict:
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "python": {"version": python_state[0], "state": list(python_state[1]), "gauss": python_state[2]},
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


# --- the trainer --------------------------------------------------------------------------
def _make_optimizer(spec, module: nn.Module, lr: float, betas) -> torch.optim.Optimizer:
    if spec is None:
        return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if callable(spec):
        return spec(module.parameters())
    raise TypeError(f"optimizer must be None, an Optimizer or a factory params -> Optimizer, got {spec!r}")


def _to_device(value, device: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _split_batch(batch):
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, dict):
        if "real" not in batch:
            raise ValueError(f"a dict batch needs the key 'real' (and optionally 'condition'); got {list(batch)}")
        return batch["real"], batch.get("condition")
    if isinstance(batch, (list, tuple)) and 1 <= len(batch) <= 2:
        return batch[0], (batch[1] if len(batch) == 2 else None)
    raise TypeError("a batch must be a tensor, (real,), (real, condition) or a dict with 'real'; "
                    f"got {type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, "__len__") else ""))


class Trainer:
    """Trains `generator` against `discriminator` on `data` (see the module docstring).

    generator: z (batch, latent_dim) [, condition] -> fake, or condition -> fake when
        latent_dim is None (vocoders, enhancement). latent_dim defaults to generator.latent_dim.
    discriminator: x [, condition] -> logits, a list of logits, or (logits, feature_maps).
    loss: "minimax" (= "saturating"), "nonsaturating", "lsgan", "hinge" or "wasserstein".
    g_optimizer, d_optimizer: None (Adam with lr / lr_d and betas), an Optimizer, or a factory
        params -> Optimizer. Defaults follow DCGAN: Adam 2e-4, betas (0.5, 0.999).
        lr_d different from lr is TTUR (Heusel et al., 2017).
    n_critic: discriminator updates per generator update (5 in WGAN-GP).
    gp_weight: WGAN-GP's lambda (10 in the paper). r1_weight: R1's gamma (penalty gamma/2 E||grad||^2).
    classifier_weight: AC-GAN (Odena, Olah and Shlens, 2017) for a class-conditional GAN whose
        discriminator also classifies (returns "classes"): D learns to classify the real batch
        (cross-entropy with its labels, weighted), G to make fakes D classifies as the labels
        they were asked for. D never learns classes from fakes, so it cannot be fooled into
        accepting badly made ones as a class. 0: off.
    grad_clip: clip each network's gradient norm to this (None: no clipping, norms still logged).
    ema_decay: keep an exponential moving average of the generator (e.g. 0.999), used by sample().
    ema_warmup: at step t the average's decay is min(ema_decay, (1 + t) / (10 + t)), so it
        forgets the random initial weights within the first hundreds of steps (with 0.999 alone,
        37 % of the average is still the initialisation after 1,000 steps). False: ema_decay always.
    precision: "auto" (bf16 autocast on a CUDA GPU that supports it, else fp32), "fp32", "bf16".
    device: as ganlib.config.get_device (GANLIB_DEVICE overrides the automatic choice).
    checkpoint_dir: where last.pt is written (atomically) every checkpoint_every steps, at the
        end of fit(), and on interrupt; fit() resumes from it when resume is True.
    log_every: steps between copies of the losses from the device (history, progress bar).
    callbacks: callables fn(trainer), or (every_n_steps, fn) pairs; a bare callable runs every
        log_every steps.
    generate, discriminate: override how fakes are made / judged:
        generate(trainer, real, condition) -> fake; discriminate(trainer, x, condition) -> output.
    extra_generator_loss: fn(GeneratorStep) -> {name: weighted scalar tensor}, added to the
        generator's loss (feature matching, mel L1, L1 to the clean signal, cycle loss, ...).
    g_scheduler, d_scheduler: learning-rate schedulers, stepped once per pass over the data.
    adversarial_after: the first this many steps train the generator on extra_generator_loss
        alone, the discriminator untouched (a warm-up, as Vocos' pretrain_mel_steps); 0: none.
        A number beyond the training's end trains the same generator without any
        discriminator: the baseline that shows what the adversarial part buys.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: Iterable, *,
                 loss: str = "nonsaturating", latent_dim: int | None = None,
                 g_optimizer=None, d_optimizer=None, lr: float = 2e-4, lr_d: float | None = None,
                 betas: tuple[float, float] = (0.5, 0.999), n_critic: int = 1,
                 gp_weight: float = 0.0, r1_weight: float = 0.0, classifier_weight: float = 0.0,
                 grad_clip: float | None = None,
                 ema_decay: float | None = None, ema_warmup: bool = True, precision: str = "auto", device=None,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int | None = None,
                 resume: bool = True, log_every: int = 25, callbacks: Sequence = (),
                 progress: bool = True, generate: Callable | None = None,
                 discriminate: Callable | None = None, extra_generator_loss: Callable | None = None,
                 g_scheduler=None, d_scheduler=None, adversarial_after: int = 0):
        losses._check_kind(loss)
        if isinstance(data, torch.Tensor):
            raise TypeError("data is a tensor; pass an iterable of batches instead, e.g. "
                            "DataLoader(TensorDataset(x), batch_size=64, shuffle=True)")
        if not isinstance(data, Iterable):
            raise TypeError(f"data must be an iterable of batches, got {type(data).__name__}")
        for name, value in (("n_critic", n_critic), ("log_every", log_every)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name, value in (("gp_weight", gp_weight), ("r1_weight", r1_weight), ("classifier_weight", classifier_weight)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay}")
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
        if not isinstance(adversarial_after, int) or adversarial_after < 0:
            raise ValueError(f"adversarial_after must be an int >= 0, got {adversarial_after!r}")
        if adversarial_after and extra_generator_loss is None:
            raise ValueError("adversarial_after > 0 trains the generator on extra_generator_loss alone at first; "
                             "give one (e.g. a mel L1 loss)")
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")

        self.device = config.get_device(device)
        self.generator = generator.to(self.device)
        self.discriminator = discriminator.to(self.device)
        self.data = data
        self.loss = loss
        self.latent_dim = latent_dim if latent_dim is not None else getattr(generator, "latent_dim", None)
        self.g_optimizer = _make_optimizer(g_optimizer, self.generator, lr, betas)
        self.d_optimizer = _make_optimizer(d_optimizer, self.discriminator, lr if lr_d is None else lr_d, betas)
        self.g_scheduler, self.d_scheduler = g_scheduler, d_scheduler
        self.n_critic, self.gp_weight, self.r1_weight = n_critic, gp_weight, r1_weight
        self.classifier_weight = classifier_weight
        self.grad_clip = grad_clip
        self.ema_decay, self.ema_warmup = ema_decay, ema_warmup
        self.generator_ema = None
        if ema_decay is not None:
            self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
        self.precision = precision
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.log_every = log_every
        self.callbacks = [(c if isinstance(c, tuple) else (None, c)) for c in callbacks]
        for every, fn in self.callbacks:
            if not callable(fn) or (every is not None and (not isinstance(every, int) or every < 1)):
                raise TypeError(f"a callback must be fn(trainer) or (every_n_steps, fn); got {(every, fn)!r}")
        self.progress = progress
        self._generate_fn, self._discriminate_fn = generate, discriminate
        self.extra_generator_loss = extra_generator_loss
        self.adversarial_after = adversarial_after

        self.step = 0
        self.interrupted = False  # set by fit() when Ctrl-C stopped it
        self.epoch = 0
        self.history = History()
        self.last_checkpoint: Path | None = None
        self._buffer: list[tuple[int, dict[str, torch.Tensor]]] = []
        self._iterator = None
        self._batch_in_epoch = 0
        self._epoch_rng: dict | None = None
        self._restartable = not isinstance(data, Iterator)  # a generator object cannot restart
        self._checkpoint_step: int | None = None

    # -- making and judging ----------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def _generate(self, real, condition):
        if self._generate_fn is not None:
            return self._generate_fn(self, real, condition)
        if self.latent_dim is None:
            if condition is None:
                raise ValueError("the generator needs an input: set latent_dim (or generator.latent_dim) "
                                 "for noise, or give batches (real, condition) for a conditional generator")
            return self.generator(condition)
        z = torch.randn(real.shape[0], self.latent_dim, device=self.device)
        return self.generator(z) if condition is None else self.generator(z, condition)

    def _discriminate(self, x, condition) -> DiscriminatorOutput:
        if self._discriminate_fn is not None:
            return DiscriminatorOutput.of(self._discriminate_fn(self, x, condition))
        if condition is not None and self.latent_dim is not None:  # class-conditional GAN
            return DiscriminatorOutput.of(self.discriminator(x, condition))
        return DiscriminatorOutput.of(self.discriminator(x))

    def _classification_loss(self, output: DiscriminatorOutput, labels) -> torch.Tensor:
        """Cross-entropy of the discriminator's auxiliary class logits with the batch's labels."""
        if output.classes is None or not isinstance(labels, torch.Tensor):
            raise ValueError("classifier_weight needs class labels in the batch ((real, labels)) and a "
                             "discriminator that returns class logits ({'logits': ..., 'classes': ...})")
        return F.cross_entropy(output.classes.float(), labels.long())

    def _mean_output(self, logits: list) -> torch.Tensor:
        """Mean D output over all sub-discriminators: a probability for minimax losses."""
        values = [(torch.sigmoid(l.float()) if self.loss in losses.PROBABILISTIC else l.float()).mean()
                  for l in logits]
        return torch.stack(values).mean()

    def _clip(self, module: nn.Module) -> torch.Tensor:
        """Clip the gradients to grad_clip if set; return their total norm (for the history)."""
        params = [p for p in module.parameters() if p.grad is not None]
        if not params:
            return torch.zeros((), device=self.device)
        if self.grad_clip is None and hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
            return torch.nn.utils.get_total_norm([p.grad for p in params])  # no rescaling pass
        max_norm = self.grad_clip if self.grad_clip is not None else math.inf
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    # -- data ------------------------------------------------------------------------------
    def _start_epoch(self):
        self._epoch_rng = _rng_state() if self._restartable else None
        self._iterator = iter(self.data)
        self._batch_in_epoch = 0

    def _next_batch(self):
        if self._iterator is None:
            self._start_epoch()
        try:
            batch = next(self._iterator)
        except StopIteration:
            if self._batch_in_epoch == 0:
                raise ValueError("data yielded no batches") from None
            if not self._restartable:
                raise ValueError("data is a one-shot iterator and ran out; pass a re-iterable "
                                 "(a DataLoader, a list, a ganlib.toy.Sampler)") from None
            self.epoch += 1
            # the discriminator's schedule waits for it to train (after a warm-up)
            for scheduler in (self.g_scheduler, self.d_scheduler if self.step >= self.adversarial_after else None):
                if scheduler is not None:
                    scheduler.step()
            self._start_epoch()
            return self._next_batch()
        self._batch_in_epoch += 1
        real, condition = _split_batch(batch)
        return _to_device(real, self.device), _to_device(condition, self.device)

    # -- one step --------------------------------------------------------------------------
    def train_step(self) -> dict[str, torch.Tensor]:
        """One generator update after n_critic discriminator updates. Returns detached
        scalar tensors (still on the device)."""
        self.generator.train()
        self.discriminator.train()
        if self.step < self.adversarial_after:
            return self._warm_up_step()
        record: dict[str, torch.Tensor] = {}
        for critic_step in range(self.n_critic):
            real, condition = self._next_batch()
            last = critic_step == self.n_critic - 1
            with self._autocast(), torch.set_grad_enabled(last):
                fake = self._generate(real, condition)  # with a graph only when G reuses it
            with self._autocast():
                d_real = self._discriminate(real, condition)
                d_fake = self._discriminate(fake.detach(), condition)
                d_loss = losses.discriminator_loss([l.float() for l in d_real.logits],
                                                   [l.float() for l in d_fake.logits], self.loss)
            if self.gp_weight:
                penalty = losses.gradient_penalty(lambda x: self._discriminate(x, condition).logits,
                                                  real, fake.float())
                d_loss = d_loss + self.gp_weight * penalty
                record["gp"] = penalty.detach()
            if self.r1_weight:
                penalty = losses.r1_penalty(lambda x: self._discriminate(x, condition).logits, real)
                d_loss = d_loss + 0.5 * self.r1_weight * penalty
                record["r1"] = penalty.detach()
            if self.classifier_weight:
                classification = self._classification_loss(d_real, condition)
                d_loss = d_loss + self.classifier_weight * classification
                record["d_class"] = classification.detach()
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            grad_norm_d = self._clip(self.discriminator)
            self.d_optimizer.step()

        requires_grad = [p.requires_grad for p in self.discriminator.parameters()]
        self.discriminator.requires_grad_(False)  # no D gradients during the G step
        try:
            with self._autocast():
                d_fake_for_g = self._discriminate(fake, condition)
                g_loss = losses.generator_loss([l.float() for l in d_fake_for_g.logits], self.loss)
                if self.classifier_weight:
                    classification = self._classification_loss(d_fake_for_g, condition)
                    g_loss = g_loss + self.classifier_weight * classification
                    record["g_class"] = classification.detach()
                if self.extra_generator_loss is not None:
                    extras = self.extra_generator_loss(
                        GeneratorStep(real, condition, fake, d_fake_for_g, self))
                    for name, value in extras.items():
                        g_loss = g_loss + value.float()
                        record[name] = value.detach().float()
        finally:
            for p, flag in zip(self.discriminator.parameters(), requires_grad):
                p.requires_grad_(flag)
        grad_norm_g = self._update_generator(g_loss)

        record.update(d_loss=d_loss.detach(), g_loss=g_loss.detach(),
                      d_real=self._mean_output(d_real.logits).detach(),
                      d_fake=self._mean_output(d_fake.logits).detach(),
                      grad_norm_d=grad_norm_d.detach(), grad_norm_g=grad_norm_g.detach())
        return record

    def _warm_up_step(self) -> dict[str, torch.Tensor]:
        """A generator update on the extra losses alone (step < adversarial_after)."""
        real, condition = self._next_batch()
        record: dict[str, torch.Tensor] = {}
        with self._autocast():
            fake = self._generate(real, condition)
            extras = self.extra_generator_loss(GeneratorStep(real, condition, fake, None, self, adversarial=False))
        if not extras:
            raise ValueError("extra_generator_loss returned no terms during the discriminator-free warm-up")
        g_loss = sum(value.float() for value in extras.values())
        record.update({name: value.detach().float() for name, value in extras.items()})
        grad_norm_g = self._update_generator(g_loss)
        record.update(g_loss=g_loss.detach(), grad_norm_g=grad_norm_g.detach())
        return record

    def _update_generator(self, g_loss: torch.Tensor) -> torch.Tensor:
        """Backpropagate g_loss, clip, step the generator (and its moving average); return the
        gradient norm before clipping."""
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm_g = self._clip(self.generator)
        self.g_optimizer.step()
        if self.generator_ema is not None:
            self._update_ema()
        return grad_norm_g

    @torch.no_grad()
    def _update_ema(self):
        ema_params = list(self.generator_ema.parameters())
        params = list(self.generator.parameters())
        decay = min(self.ema_decay, (1 + self.step) / (10 + self.step)) if self.ema_warmup else self.ema_decay
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

    # -- logging ---------------------------------------------------------------------------
    def _flush(self, bar=None) -> None:
        """Copy buffered step records from the device (one transfer) into the history, and
        stop on the first non-finite value."""
        if not self._buffer:
            return
        keys = list(self._buffer[0][1])
        table = torch.stack([torch.stack([rec[k].float() for k in keys]) for _, rec in self._buffer]).cpu()
        steps = [s for s, _ in self._buffer]
        self._buffer = []
        finite = torch.isfinite(table)
        if not finite.all():
            row, col = (~finite).nonzero()[0].tolist()
            where = (f"the last good checkpoint is {self.last_checkpoint} (step {self._checkpoint_step})"
                     if self.last_checkpoint is not None else "no checkpoint was written (set checkpoint_dir)")
            raise NonFiniteLossError(
                f"non-finite {keys[col]} ({table[row, col].item()}) at step {steps[row]}: training "
                f"stopped; {where}. Try a lower learning rate, gradient clipping (grad_clip=...), "
                f"or a loss on logits.")
        for step, values in zip(steps, table.tolist()):
            self.history.append(step, dict(zip(keys, values)))
        if bar is not None:
            last = self.history.last()
            bar.set_postfix({k: f"{last[k]:.3g}" for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in last},
                            refresh=False)

    # -- the loop --------------------------------------------------------------------------
    def fit(self, steps: int) -> History:
        """Train until `self.step == steps` (a total, so a resumed run continues to the same
        end). Resumes from checkpoint_dir/last.pt first if there is one and resume is True.
        Returns the history. Ctrl-C / "interrupt kernel" stops cleanly (and checkpoints), and
        sets .interrupted, so that a script calling fit in a loop can stop too."""
        if not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        self.interrupted = False
        if self.resume and self.step == 0 and self.checkpoint_dir is not None \
                and (self.checkpoint_dir / CHECKPOINT_NAME).is_file():
            self.load_checkpoint(self.checkpoint_dir / CHECKPOINT_NAME)
            print(f"resumed from {self.checkpoint_dir / CHECKPOINT_NAME} at step {self.step}")
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, initial=self.step, desc="training", unit="step",
                   disable=not self.progress, mininterval=0.5)
        try:
            while self.step < steps:
                record = self.train_step()
                if self._buffer and self._buffer[0][1].keys() != record.keys():  # the warm-up ended
                    self._flush(bar)
                self._buffer.append((self.step + 1, record))
                self.step += 1
                bar.update(1)
                if self.step % self.log_every == 0:
                    self._flush(bar)
                if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save_checkpoint()
                for every, fn in self.callbacks:
                    if self.step % (every or self.log_every) == 0:
                        self._flush(bar)
                        fn(self)
            self._flush(bar)
            if self.checkpoint_dir is not None and self.step != self._checkpoint_step:
                self.save_checkpoint()
        except KeyboardInterrupt:
            self.interrupted = True
            self._flush(bar)
            message = f"interrupted at step {self.step}"
            if self.checkpoint_dir is not None:
                message += f"; checkpoint saved to {self.save_checkpoint()}"
            print(message)
        finally:
            bar.close()
        return self.history

    # -- sampling --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int | None = None, condition=None, use_ema: bool = True) -> torch.Tensor:
        """n fresh samples (or one per row of `condition`) from the generator's moving average
        if there is one, in eval mode, as a CPU float tensor."""
        generator = self.generator_ema if use_ema and self.generator_ema is not None else self.generator
        was_training = generator.training
        generator.eval()
        try:
            condition = _to_device(condition, self.device)
            if self.latent_dim is None:
                out = generator(condition)
            else:
                n = n if n is not None else len(condition)
                z = torch.randn(n, self.latent_dim, device=self.device)
                out = generator(z) if condition is None else generator(z, condition)
        finally:
            generator.train(was_training)
        return out.float().cpu()

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self._batch_in_epoch,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator_ema": self.generator_ema.state_dict() if self.generator_ema is not None else None,
            "g_optimizer": self.g_optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
            "g_scheduler": self.g_scheduler.state_dict() if self.g_scheduler is not None else None,
            "d_scheduler": self.d_scheduler.state_dict() if self.d_scheduler is not None else None,
            "rng": _rng_state(),
            "epoch_rng": self._epoch_rng,
            "history": self.history.state_dict(),
            "settings": {"loss": self.loss, "n_critic": self.n_critic, "gp_weight": self.gp_weight,
                         "classifier_weight": self.classifier_weight,
                         "r1_weight": self.r1_weight, "latent_dim": self.latent_dim,
                         "ema_decay": self.ema_decay, "ema_warmup": self.ema_warmup, "precision": self.precision,
                         "adversarial_after": self.adversarial_after},
        }

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        """Write the whole training state atomically (default: checkpoint_dir/last.pt). Pending
        losses are checked first, so a checkpoint never holds weights after a non-finite step."""
        self._flush()
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("no path given and no checkpoint_dir set")
            path = self.checkpoint_dir / CHECKPOINT_NAME
        saved = atomic_save(self.state_dict(), path)
        self.last_checkpoint, self._checkpoint_step = saved, self.step
        return saved

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore models, optimisers, schedulers, step, history, RNG states and the position in
        the data, so that training continues exactly as if it had never stopped."""
        checkpoint = load_checkpoint(path)
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint {path}: not a ganlib training checkpoint "
                             f"(format {checkpoint.get('format')!r}, expected {CHECKPOINT_FORMAT!r})")
        load_state(self.generator, checkpoint["generator"], "generator", str(path))
        load_state(self.discriminator, checkpoint["discriminator"], "discriminator", str(path))
        if self.generator_ema is not None:
            load_state(self.generator_ema, checkpoint["generator_ema"] or checkpoint["generator"],
                       "generator_ema", str(path))
        for optimizer, scheduler, key in ((self.g_optimizer, self.g_scheduler, "g"),
                                          (self.d_optimizer, self.d_scheduler, "d")):
            built_with = [group["lr"] for group in optimizer.param_groups]
            optimizer.load_state_dict(checkpoint[f"{key}_optimizer"])
            if scheduler is not None and checkpoint[f"{key}_scheduler"] is not None:
                scheduler.load_state_dict(checkpoint[f"{key}_scheduler"])
            elif scheduler is None:  # no schedule: the learning rate asked for now wins (fine-tuning at another lr)
                for group, lr in zip(optimizer.param_groups, built_with):
                    group["lr"] = lr
        self.step = self._checkpoint_step = checkpoint["step"]
        self.epoch = checkpoint["epoch"]
        self.history = History(checkpoint["history"])
        self.last_checkpoint = Path(path)
        self._buffer = []
        # Replay the data iterator to where it was: same epoch-start RNG, same batches skipped.
        self._iterator = None
        if checkpoint["epoch_rng"] is not None and self._restartable:
            _set_rng_state(checkpoint["epoch_rng"])
            self._start_epoch()
            for _ in range(checkpoint["batch_in_epoch"]):
                next(self._iterator)
            self._batch_in_epoch = checkpoint["batch_in_epoch"]
        elif checkpoint["batch_in_epoch"]:
            warnings.warn("data is a one-shot iterator: resuming cannot restore its position")
        _set_rng_state(checkpoint["rng"])


def train(generator: nn.Module, discriminator: nn.Module, data: Iterable, steps: int, **options) -> Trainer:
    """Build a Trainer with `options` (see Trainer), train for `steps`, and return the trainer
    (its .history, .generator, .sample(), .save_checkpoint()). Notebook: 02_first_gan.ipynb"""
    trainer = Trainer(generator, discriminator, data, **options)
    trainer.fit(steps)
    return trainer
