"""Figures (jaxbasics.plots): what the digit grid draws."""

import numpy as np

from jaxbasics import plots


def test_digit_grid_scales_each_image_and_marks_the_wrong_predictions():
    rng = np.random.default_rng(0)
    h, w = 6, 5
    scales = np.array([1, 10, 0.1], np.float32)[:, None, None, None]
    images = rng.normal(size=(3, h, w, 1)).astype(np.float32) * scales
    labels, predicted = np.array([1, 2, 3]), np.array([1, 0, 3])
    fig = plots.digits_figure(images, labels, predicted, title="t", columns=2)
    try:
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.texts] == ["1 (1)", "0 (2)", "3 (3)"]
        assert [t.get_color() for t in ax.texts] == ["black", "red", "black"]
        mosaic = np.asarray(ax.images[0].get_array())
        gap, label = max(w // 5, 2), max(h // 3, 6)
        assert mosaic.shape == (2 * (label + h) + gap, 2 * (gap + w))
        for i, image in enumerate(images[..., 0]):
            top = (i // 2) * (label + h) + label
            left = (i % 2) * (gap + w) + gap // 2
            scaled = (image - image.min()) / (image.max() - image.min())
            np.testing.assert_allclose(mosaic[top:top + h, left:left + w], scaled, rtol=1e-6)
        cells = np.zeros(mosaic.shape, bool)
        for i in range(3):
            top, left = (i // 2) * (label + h) + label, (i % 2) * (gap + w) + gap // 2
            cells[top:top + h, left:left + w] = True
        assert np.all(mosaic[~cells] == 1)  # the background: white
    finally:
        plots.pyplot().close(fig)


def test_digit_grid_of_a_constant_image_is_black_not_nan():
    fig = plots.digits_figure(np.zeros((1, 4, 4)), np.array([7]), np.array([7]))
    try:
        mosaic = np.asarray(fig.axes[0].images[0].get_array())
        assert np.isfinite(mosaic).all() and mosaic.min() == 0
    finally:
        plots.pyplot().close(fig)


def test_log_axis_labels_powers_of_ten_in_plain_text():
    fig, ax = plots.pyplot().subplots()
    try:
        ax.plot([1, 2], [2e-5, 0.3])
        plots._log_y(ax)
        major, minor = ax.yaxis.get_major_formatter(), ax.yaxis.get_minor_formatter()
        assert ax.get_yscale() == "log"
        assert [major(v) for v in (1e-4, 1.0, 100.0, 1e12)] == ["10⁻⁴", "10⁰", "10²", "10¹²"]
        ax.set_ylim(0.25, 0.5)  # under a decade: the minor ticks carry the labels
        minor.set_locs(ax.yaxis.get_minorticklocs())
        assert minor(0.3) == "3×10⁻¹" and minor(0.4) == "4×10⁻¹"
        assert "$" not in "".join(major(v) + minor(v) for v in (2e-5, 0.3, 7.0))  # no mathtext
    finally:
        plots.pyplot().close(fig)
