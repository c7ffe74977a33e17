"""Solutions to the exercises of notebooks/07_gan_vocoders.ipynb, for instructors.

tests/test_exercises.py runs each of them through its check in ganlib/exercises/ch07.py.
"""
import torch
import torch.nn.functional as F


def fold(x, period):
    """(batch, 1, samples) -> (batch, 1, rows, period): pad the end by reflection to a multiple
    of the period, then read the samples row by row; column c is every period-th sample from c."""
    batch, channels, samples = x.shape
    if samples % period:
        x = F.pad(x, (0, period - samples % period), "reflect")
    return x.view(batch, channels, -1, period)


def feature_matching(real_features, fake_features):
    """Sum over sub-discriminators and their layers of mean |real - fake| (real held constant)."""
    return sum(torch.mean(torch.abs(r.detach() - f))
               for real_maps, fake_maps in zip(real_features, fake_features)
               for r, f in zip(real_maps, fake_maps))


def spectral_convergence(fake, real, n_fft, hop_length, win_length):
    """||S_real - S_fake||_F / ||S_real||_F of the STFT magnitudes."""
    args = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                window=torch.hann_window(win_length), center=True, return_complex=True)
    s_fake, s_real = torch.stft(fake, **args).abs(), torch.stft(real, **args).abs()
    return torch.linalg.norm(s_real - s_fake) / torch.linalg.norm(s_real)


SOLUTIONS = {
    "07.fold": fold,
    "07.feature_matching": feature_matching,
    "07.spectral_convergence": spectral_convergence,
}
