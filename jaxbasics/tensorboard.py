"""TensorBoard event files for a training run: a logger whose methods plug into ``fit``.

The JAX ecosystem's answer to the course's Visdom lesson (seed 001 §Visdom可视化): event
files written with ``tensorboardX`` (no TensorFlow needed) and viewed with ``tensorboard
--logdir DIR`` (the ``tensorboard`` package, no TensorFlow needed either)::

    tb = TensorBoard("runs/tb/lenet")
    state, history = fit(step, state, data, epochs=10, batch_size=64, key=key,
                         mode="fused", log_every=100,
                         **tb.hooks(on_epoch=lambda epoch, s: evaluate(...)))
    tb.close()

``on_log`` writes the training metrics (``train/loss``, ...) at every logging step; in
``fused`` mode ``fit`` replays those events from the history of each compiled epoch, so
logging adds no host sync per step. ``on_epoch`` writes what the wrapped ``on_epoch``
returned (``eval/loss``, ``eval/accuracy``, ...) and the learning rate at the step the
epoch ended. Like :mod:`jaxbasics.checkpoint` this module writes files, and only when
asked: nothing in the library imports it, and ``tensorboardX`` is imported when a
:class:`TensorBoard` is created.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import jax
import numpy as np

from jaxbasics.train import LogEvent, TrainState, learning_rate

OnLog = Callable[[LogEvent], None]
OnEpoch = Callable[[int, TrainState], "dict[str, Any] | None"]


def _number(value: Any) -> float | None:
    """A Python float for a real scalar (number, 0-d or 1-element array), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (np.ndarray, np.generic, jax.Array)) and np.size(value) == 1:
        return float(np.asarray(value).reshape(()))
    return None


class TensorBoard:
    """One run's event files in ``logdir`` (created).

    logdir: the run's directory; ``tensorboard --logdir`` its parent to compare runs.
    learning_rate: logged when the optimizer state does not expose it (see
        :func:`learning_rate`): a float, or a schedule ``step -> rate``. None: only the
        optimizer state's.
    flush_secs: how often pending events reach the files (small, for live curves).
    """

    def __init__(self, logdir: str | os.PathLike, *,
                 learning_rate: float | Callable[[int], Any] | None = None,
                 flush_secs: int = 2):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ImportError("TensorBoard logging needs the tensorboardX package "
                              "(pip install tensorboardX)") from e
        if learning_rate is not None and not callable(learning_rate) \
                and _number(learning_rate) is None:
            raise TypeError(f"learning_rate must be a number, a schedule step -> rate or "
                            f"None; got {learning_rate!r}")
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(str(self.logdir), flush_secs=flush_secs)
        self._learning_rate = learning_rate
        self.last_step = 0  # the largest step written so far

    # --- plain writers ------------------------------------------------------------------

    def scalar(self, tag: str, value: Any, step: int) -> None:
        """One point of the curve ``tag`` (the seed's ``viz.line([y], [x], win=tag)``)."""
        number = _number(value)
        if number is None:
            raise TypeError(f"value for {tag!r} must be a real scalar; got {value!r}")
        self._writer.add_scalar(tag, number, int(step))
        self.last_step = max(self.last_step, int(step))

    def scalars(self, tag: str, values: Mapping[str, Any], step: int) -> None:
        """Several curves in one chart ``tag`` (the seed's multi-line window with a legend):
        each key of ``values`` becomes a run ``tag/key`` that TensorBoard draws together."""
        numbers_ = {}
        for name, value in values.items():
            number = _number(value)
            if number is None:
                raise TypeError(f"values[{name!r}] for {tag!r} must be a real scalar; "
                                f"got {value!r}")
            numbers_[str(name)] = number
        self._writer.add_scalars(tag, numbers_, int(step))
        self.last_step = max(self.last_step, int(step))

    def images(self, tag: str, images: Any, step: int) -> None:
        """A grid of images (n, h, w) or (n, h, w, c) with c in 1, 3, 4, any float range:
        scaled to [0, 1] over the batch (the seed's ``viz.images(x, win=tag)``)."""
        x = np.asarray(images, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or len(x) == 0:
            raise ValueError(f"images must be (n, h, w) or (n, h, w, 1|3|4) with n > 0; got "
                             f"shape {x.shape}")
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
        self._writer.add_images(tag, x, int(step), dataformats="NHWC")
        self.last_step = max(self.last_step, int(step))

    def image(self, tag: str, image: Any, step: int) -> None:
        """One image (h, w, 3|4) float in [0, 1] or uint8, e.g. a figure read from a PNG."""
        x = np.asarray(image)
        if x.ndim != 3 or x.shape[-1] not in (3, 4):
            raise ValueError(f"image must be (h, w, 3|4); got shape {x.shape}")
        self._writer.add_image(tag, x, int(step), dataformats="HWC")

    def text(self, tag: str, text: str, step: int) -> None:
        """Text under ``tag`` (the seed's ``viz.text(str(pred), win='pred')``)."""
        self._writer.add_text(tag, str(text), int(step))

    def figure(self, tag: str, fig: Any, step: int) -> None:
        """A matplotlib figure, rendered to an image; the figure is closed."""
        self._writer.add_figure(tag, fig, int(step), close=True)

    def predictions(self, tag: str, images: Any, labels: Any, predicted: Any,
                    step: int) -> None:
        """Images (n, 28, 28[, 1]) titled "predicted (true)", wrong ones in red."""
        from jaxbasics import plots
        self.figure(tag, plots.digits_figure(np.asarray(images), np.asarray(labels),
                                             np.asarray(predicted)), step)

    def png(self, tag: str, path: str | os.PathLike, step: int) -> None:
        """A PNG file (e.g. a figure an experiment wrote) as an image."""
        import matplotlib.image
        self.image(tag, matplotlib.image.imread(str(path)), step)

    # --- fit callbacks ------------------------------------------------------------------

    def on_log(self, event: LogEvent) -> None:
        """``fit(on_log=...)``: every training metric as ``train/<name>`` at ``event.step``."""
        for name, value in event.metrics.items():
            number = _number(value)
            if number is not None:
                self.scalar(f"train/{name}", number, event.step)

    def on_epoch(self, inner: OnEpoch | None = None) -> OnEpoch:
        """``fit(on_epoch=...)``: calls ``inner`` (if any) and returns what it returns, and
        writes its numbers as ``eval/<name>`` and the learning rate as ``train/learning_rate``
        at the step the epoch ended (one scalar read from the device per epoch)."""
        def on_epoch(epoch: int, state: TrainState):
            logs = inner(epoch, state) if inner is not None else None
            step = int(np.asarray(state.step))
            for name, value in (logs or {}).items():
                number = _number(value)
                if number is not None and name != "stop":
                    self.scalar(f"eval/{name}", number, step)
            rate = learning_rate(state.opt_state)
            if rate is None and self._learning_rate is not None:
                rate = (self._learning_rate(step) if callable(self._learning_rate)
                        else self._learning_rate)
            if rate is not None:
                self.scalar("train/learning_rate", rate, step)
            self.flush()
            return logs
        return on_epoch

    def hooks(self, on_log: OnLog | None = None,
              on_epoch: OnEpoch | None = None) -> dict[str, Callable]:
        """``fit(**tb.hooks(on_log=mine, on_epoch=mine))``: both callbacks, each calling
        the given one as well (yours first for ``on_log``; ``on_epoch``'s result is yours)."""
        def chained_log(event: LogEvent) -> None:
            if on_log is not None:
                on_log(event)
            self.on_log(event)
        return {"on_log": chained_log, "on_epoch": self.on_epoch(on_epoch)}

    def flush(self) -> None:
        """Flush the files (for live curves). tensorboardX writes events from a background
        thread and its flush does not wait for the events still queued: read the files
        back (:func:`read_events`) after :meth:`close`, which does."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the files (safe to call twice)."""
        self._writer.close()

    def __enter__(self) -> "TensorBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_events(logdir: str | os.PathLike, *, since: float | None = None
                ) -> dict[str, dict[str, list[tuple[int, Any]]]]:
    """What the event files under ``logdir`` hold: ``{run: {tag: [(step, value), ...]}}``.

    run: the event file's directory relative to ``logdir`` (``'.'`` for ``logdir`` itself;
    ``scalars("test", {"loss": ..})`` writes run ``test/loss``). value: a float for a
    scalar, ``("image", height, width)`` for an image, the string for text (tag
    ``<tag>/text_summary``). Reads the files with tensorboardX's protobufs (no
    TensorFlow, no tensorboard); in file order, steps as written. since: only events
    written at or after this ``time.time()`` (a rerun appends to the same directory).
    """
    import struct

    from tensorboardX.proto import event_pb2

    root = Path(logdir)
    runs: dict[str, dict[str, list[tuple[int, Any]]]] = {}
    for path in sorted(root.rglob("events.out.tfevents.*")):
        run = str(path.parent.relative_to(root).as_posix()) or "."
        tags = runs.setdefault(run, {})
        data = path.read_bytes()
        at = 0
        while at + 12 <= len(data):  # TFRecord: length u64, crc u32, payload, crc u32
            (length,) = struct.unpack_from("<Q", data, at)
            payload = data[at + 12:at + 12 + length]
            at += 12 + length + 4
            if len(payload) < length:
                break  # a record still being written
            event = event_pb2.Event.FromString(payload)
            if since is not None and event.wall_time < since:
                continue
            for v in event.summary.value:
                if v.HasField("image"):
                    value: Any = ("image", v.image.height, v.image.width)
                elif v.HasField("tensor") and v.tensor.string_val:
                    value = v.tensor.string_val[0].decode("utf-8", "replace")
                elif v.HasField("tensor") and v.tensor.float_val:
                    value = float(v.tensor.float_val[0])
                else:
                    value = float(v.simple_value)
                tags.setdefault(v.tag, []).append((int(event.step), value))
    return runs
