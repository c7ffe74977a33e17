"""Self-checking exercises (Karpathy's `cmp`, Neuromatch's student stubs).

A notebook's exercise cell holds a stub the student fills in; the next cell checks it:

    def my_hinge_loss(real_scores, fake_scores):
        ...  # YOUR CODE HERE
        raise NotImplementedError

    ganlib.exercises.check("03.hinge", my_hinge_loss)

`check` prints a verdict (and returns nothing, so a notebook shows just the verdict);
`passes` returns it as True / False. Neither raises, so a notebook with exercises still left
open runs top to bottom. The checks of chapter NN live in
`ganlib/exercises/chNN.py` as `CHECKS = {"NN.name": fn}`, where fn(student_answer) raises
AssertionError with a hint when the answer is wrong. The solutions live apart, in
`notebooks/solutions/NN_topic.py` as `SOLUTIONS = {"NN.name": answer}`, for instructors;
`tests/test_exercises.py` runs every solution through its check in CI.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable

import torch

SOLUTIONS_FOLDER = "notebooks/solutions"


def answer_tensor(value, what: str) -> torch.Tensor:
    """A student's returned value as a float64 tensor, or an AssertionError that says what
    is wrong with it (None, or something that is no number). For the chapters' checks."""
    assert value is not None, f"{what} returned None: did you forget `return`?"
    try:
        return torch.as_tensor(value).detach().to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{what} should return a tensor (or a number), got {type(value).__name__}") from None


def all_checks() -> dict[str, Callable[[Any], None]]:
    """Every exercise check of the course, by name ("03.hinge")."""
    checks: dict[str, Callable[[Any], None]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("ch"):
            module = importlib.import_module(f"{__name__}.{module_info.name}")
            checks.update(module.CHECKS)
    return checks


def check(name: str, answer: Any) -> None:
    """Check a student's answer to exercise `name` and print the verdict."""
    passes(name, answer, quiet=False)


def passes(name: str, answer: Any, quiet: bool = True) -> bool:
    """Whether `answer` passes exercise `name` (the verdict is printed unless quiet)."""
    checks = all_checks()
    if name not in checks:
        raise KeyError(f"no exercise {name!r}; known: {sorted(checks)}")
    chapter = name.split(".")[0]

    def say(message: str) -> None:
        if not quiet:
            print(message)

    try:
        checks[name](answer)
    except NotImplementedError:
        say(f"Exercise {name}: not attempted yet. Fill in the cell above and run this one again "
            f"(an instructor finds a solution in {SOLUTIONS_FOLDER}/{chapter}_*.py).")
        return False
    except AssertionError as error:
        say(f"Exercise {name}: not yet. {error}")
        return False
    except Exception as error:  # the student's code crashed: show why, keep the notebook going
        say(f"Exercise {name}: your code raised {type(error).__name__}: {error}")
        return False
    say(f"Exercise {name}: correct!")
    return True
