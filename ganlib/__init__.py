"""ganlib: the small, tested PyTorch package behind the course "GANs for Audio".

    import ganlib
    ganlib.config.seed_everything(0)
    trainer = ganlib.train.train(generator, discriminator, data, steps=1000, loss="hinge")

Modules: config (quick mode, device, seeding), losses, models (mlp, ...), train (the one
training loop), toy (toy distributions), audio (load/save, spectrograms, Griffin-Lim),
datasets (the public sets' layouts and the bundled copies), download (verified downloads,
safe extraction), soundscapes (procedural environmental sounds), metrics (Inception Score,
Fréchet distance, coverage, memorisation), digits (the spoken-digit task of chapters 04-06),
viz (plots and players), exercises (the notebooks' self-checks).
"""
from . import (audio, config, datasets, digits, download, exercises, losses, metrics, models, soundscapes, toy,
               train, viz)

__version__ = "0.1.0"
__all__ = ["audio", "config", "datasets", "digits", "download", "exercises", "losses", "metrics", "models",
           "soundscapes", "toy", "train", "viz"]
