"""Solutions to the exercises of notebooks/04_wavegan.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch04.py.
"""
import torch
import torch.nn.functional as F


def same_padding(kernel_size, stride):
    """(padding, output_padding) for length x stride: the full output (L - 1) s + k loses
    2 p and gains op, so 2 p - op = k - s; op = (k - s) mod 2 takes the odd sample."""
    return (kernel_size - stride + 1) // 2, (kernel_size - stride) % 2


def overlap_counts(kernel_size, stride, length):
    """Output t is reached by the inputs i with i * stride <= t < i * stride + kernel_size."""
    t = torch.arange((length - 1) * stride + kernel_size)[:, None]
    starts = torch.arange(length)[None, :] * stride
    return ((t >= starts) & (t < starts + kernel_size)).sum(dim=1)


def phase_shift(x, shifts):
    """out[b, :, t] = x[b, :, t - shifts[b]], reflect-padded, without a Python loop."""
    batch, channels, length = x.shape
    n = int(shifts.abs().max())
    padded = F.pad(x, (n, n), mode="reflect") if n else x
    index = torch.arange(length) + (n - shifts)[:, None]
    return padded.gather(2, index[:, None, :].expand(batch, channels, length))


def slerp(start, end, t):
    """Spherical interpolation: the great circle between the directions of start and end."""
    omega = torch.arccos(torch.dot(start, end) / (start.norm() * end.norm()))
    return (torch.sin((1 - t) * omega) * start + torch.sin(t * omega) * end) / torch.sin(omega)


SOLUTIONS = {
    "04.same_padding": same_padding,
    "04.overlap_counts": overlap_counts,
    "04.phase_shift": phase_shift,
    "04.slerp": slerp,
}
