"""Checks for the exercises of chapter 04, WaveGAN.

Each check calls the student's function on a few cases, compares with a reference (torch's own
layers, ganlib.models.wavegan.phase_shuffle, ganlib.viz.interpolate_latents) and raises
AssertionError with a hint when it is wrong. Test data come from private generators, so the
checks leave the notebook's random state alone.
Notebook: 04_wavegan.ipynb
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import viz
from ..models.wavegan import phase_shuffle
from . import answer_tensor


def check_same_padding(my_same_padding) -> None:
    """my_same_padding(kernel_size, stride) -> (padding, output_padding) for nn.ConvTranspose1d
    such that every input length L becomes exactly L * stride."""
    for kernel_size, stride in [(25, 4), (5, 2), (4, 2), (16, 4), (9, 3), (3, 4), (24, 4)]:
        answer = my_same_padding(kernel_size, stride)
        assert isinstance(answer, (tuple, list)) and len(answer) == 2, (
            f"return a pair (padding, output_padding), got {type(answer).__name__}")
        padding, output_padding = (int(v) for v in answer)
        assert padding >= 0, f"kernel {kernel_size}, stride {stride}: padding must be >= 0, got {padding}"
        assert 0 <= output_padding < stride, (
            f"kernel {kernel_size}, stride {stride}: PyTorch needs 0 <= output_padding < stride, got "
            f"{output_padding}. Put what the padding cannot do (an odd number of samples) there.")
        layer = nn.ConvTranspose1d(1, 1, kernel_size, stride, padding=padding, output_padding=output_padding)
        for length in (1, 3, 16):
            got = layer(torch.zeros(1, 1, length)).shape[-1]
            assert got == length * stride, (
                f"kernel {kernel_size}, stride {stride}, padding {padding}, output_padding {output_padding}: "
                f"{length} samples became {got}, not {length * stride}. The full output has "
                f"(L - 1) * stride + kernel_size samples; padding removes 2 * padding and output_padding "
                f"adds samples back, so you need 2 * padding - output_padding = kernel_size - stride.")


def check_overlap_counts(my_overlap_counts) -> None:
    """my_overlap_counts(kernel_size, stride, length) -> (output_length,) counts: how many input
    samples reach each output sample of a transposed convolution (no padding)."""
    for kernel_size, stride, length in [(25, 4, 12), (4, 2, 6), (3, 2, 5), (5, 1, 4), (2, 4, 3)]:
        answer = answer_tensor(my_overlap_counts(kernel_size, stride, length), "my_overlap_counts")
        expected = F.conv_transpose1d(torch.ones(1, 1, length), torch.ones(1, 1, kernel_size),
                                      stride=stride)[0, 0].double()
        assert answer.shape == expected.shape, (
            f"kernel {kernel_size}, stride {stride}, {length} inputs: expect (length - 1) * stride + "
            f"kernel_size = {len(expected)} output samples, got shape {tuple(answer.shape)}")
        assert torch.equal(answer.round(), expected), (
            f"kernel {kernel_size}, stride {stride}, {length} inputs: expected {expected.int().tolist()}, "
            f"got {answer.tolist()}. Input i covers outputs i * stride ... i * stride + kernel_size - 1.")


def _reference_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    n = int(shifts.abs().max())
    padded = F.pad(x, (n, n), mode="reflect") if n else x
    length = x.shape[-1]
    return torch.stack([padded[i, :, n - int(k): n - int(k) + length] for i, k in enumerate(shifts)])


def check_phase_shift(my_phase_shift) -> None:
    """my_phase_shift(x, shifts) -> out with out[b, :, t] = x[b, :, t - shifts[b]], reflect-padded;
    with the shifts phase_shuffle draws, the same result as ganlib's phase_shuffle."""
    ramp = torch.arange(6.0).reshape(1, 1, 6)
    got = my_phase_shift(ramp.clone(), torch.tensor([2]))
    assert isinstance(got, torch.Tensor), f"return a tensor, got {type(got).__name__}"
    assert torch.equal(got, torch.tensor([[[2.0, 1.0, 0.0, 1.0, 2.0, 3.0]]])), (
        f"x = [0, 1, 2, 3, 4, 5] shifted by +2 should be [2, 1, 0, 1, 2, 3] (moved right by 2 samples, "
        f"the gap filled by reflection), got {got.flatten().tolist()}")
    generator = torch.Generator().manual_seed(4)
    for n in (1, 2, 3):
        x = torch.randn(5, 3, 20, generator=generator)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(10 + n)
            shifts = torch.randint(-n, n + 1, (5,))
            torch.manual_seed(10 + n)
            theirs = phase_shuffle(x, n)
        mine = my_phase_shift(x.clone(), shifts.clone())
        assert isinstance(mine, torch.Tensor) and mine.shape == x.shape, (
            f"the output should have the input's shape {tuple(x.shape)}")
        assert torch.allclose(mine, _reference_shift(x, shifts)), (
            f"shifts {shifts.tolist()}: some example is shifted the wrong way or padded wrongly. "
            "Pad with F.pad(..., (n, n), mode='reflect'), then take length samples starting at n - k.")
        assert torch.equal(mine, theirs), "differs from ganlib's phase_shuffle under the same seed"


def check_slerp(my_slerp) -> None:
    """my_slerp(start, end, t) -> the point at fraction t of the great-circle path from start to end."""
    generator = torch.Generator().manual_seed(6)
    start, end = torch.randn(100, generator=generator), torch.randn(100, generator=generator)
    midpoint = answer_tensor(my_slerp(start.clone(), end.clone(), 0.5), "my_slerp")
    line = viz.interpolate_latents(start, end, 0.5, spherical=False).double()
    assert midpoint.shape == start.shape, f"return a vector like start, shape {tuple(start.shape)}"
    assert not torch.allclose(midpoint, line, atol=1e-4), (
        "that is the straight line (1 - t) start + t end; slerp weights start and end by "
        "sin((1 - t) Omega) / sin(Omega) and sin(t Omega) / sin(Omega), Omega the angle between them")
    for t in (0.0, 0.1, 0.5, 0.9, 1.0):
        got = answer_tensor(my_slerp(start.clone(), end.clone(), t), "my_slerp")
        expected = viz.interpolate_latents(start, end, t).double()
        assert torch.allclose(got, expected, atol=1e-4), (
            f"at t = {t} your point differs from slerp's (norm {got.norm():.3f} vs {expected.norm():.3f}). "
            "Omega = arccos(start . end / (|start| |end|)).")
    quarter = answer_tensor(my_slerp(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0]), 1 / 3), "my_slerp")
    assert torch.allclose(quarter, torch.tensor([3 ** 0.5, 1.0], dtype=torch.float64), atol=1e-5), (
        f"from (2, 0) to (0, 2), a third of the way is 30 degrees round the circle: (sqrt(3), 1); got {quarter.tolist()}")


CHECKS = {
    "04.same_padding": check_same_padding,
    "04.overlap_counts": check_overlap_counts,
    "04.phase_shift": check_phase_shift,
    "04.slerp": check_slerp,
}
