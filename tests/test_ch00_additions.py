"""ganlib.viz.explore: draws at once, redraws when a control changes, closes its figures."""
import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganlib import viz  # noqa: E402


def test_explore_draws_now_and_on_every_change():
    calls = []

    def draw(frequency, gain):
        calls.append((frequency, gain))
        fig, ax = plt.subplots()
        ax.plot([0, frequency])
        return fig, f"{frequency} Hz at gain {gain}"

    slider = widgets.IntSlider(value=5, min=0, max=10)
    dropdown = widgets.Dropdown(options=[1, 2], value=1)
    box = viz.explore(draw, frequency=slider, gain=dropdown)
    assert calls == [(5, 1)]
    assert list(box.children[:2]) == [slider, dropdown]
    panel = box.children[2]
    assert len(panel.outputs) == 2                      # the figure and the text
    assert panel.outputs[1]["data"]["text/plain"] == "'5 Hz at gain 1'"
    assert plt.get_fignums() == []                      # rendered figures are closed
    slider.value = 7
    dropdown.value = 2
    assert calls == [(5, 1), (7, 1), (7, 2)]
    assert len(panel.outputs) == 2                      # replaced, not appended
    assert panel.outputs[1]["data"]["text/plain"] == "'7 Hz at gain 2'"


def test_explore_accepts_a_single_object_or_none():
    box = viz.explore(lambda x: None, x=widgets.IntSlider(value=1))
    assert box.children[1].outputs == ()
    box = viz.explore(lambda x: x * 2, x=widgets.IntSlider(value=3))
    assert box.children[1].outputs[0]["data"]["text/plain"] == "6"
