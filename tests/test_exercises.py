"""Every exercise's solution passes its check, and every check can fail."""
import importlib.util
from pathlib import Path

import pytest

from ganlib import exercises

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


def load_solutions() -> dict:
    solutions = {}
    for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.py")):
        spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        solutions.update(module.SOLUTIONS)
    return solutions


def test_every_exercise_has_a_solution_and_every_solution_an_exercise():
    assert set(load_solutions()) == set(exercises.all_checks())


@pytest.mark.parametrize("name", sorted(exercises.all_checks()))
def test_the_solution_passes(name, capsys):
    assert exercises.passes(name, load_solutions()[name]) is True
    assert exercises.check(name, load_solutions()[name]) is None
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(exercises.all_checks()))
def test_a_stub_or_a_wrong_answer_fails(name, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError

    assert exercises.passes(name, stub, quiet=False) is False
    assert "not attempted yet" in capsys.readouterr().out
    assert exercises.passes(name, lambda *args, **kwargs: 0.0) is False


def test_unknown_exercise_is_named():
    with pytest.raises(KeyError, match="no exercise '99.nothing'"):
        exercises.check("99.nothing", None)
    with pytest.raises(KeyError, match="no exercise '99.nothing'"):
        exercises.passes("99.nothing", None)
