"""The training engine: one step function, three ways to run it.

A step is a pure function ``step(state, batch) -> (state, metrics)`` built by
:func:`make_step` from an objective and an Optax ``GradientTransformation``. :func:`fit`
runs it in one of three modes, chosen by a parameter:

``eager``
    no ``jit`` at all: every operation is dispatched one by one from Python, as PyTorch does.
``jit``
    the step is compiled once and called from Python once per batch; its metrics are
    written into a history buffer on the device (donated, so updated in place) and come
    back in one transfer at the end of the epoch (or of a full-batch run).
``fused``
    a whole epoch (or a whole full-batch run) is one compiled ``jax.lax.scan``, the data
    resident on the device, batches gathered on the device by index.

All three run the same step on the same batches in the same order, so they give the same
numbers for the same seed. Per-step metrics come back as a history; logging reads that
history, so ``fused`` needs no host sync per step.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from jaxbasics._checks import choice, positive, same_leading_axis
from jaxbasics.data.batching import epoch_indices, take

MODES = ("eager", "jit", "fused")

Batch = Any
Metrics = dict[str, Array]


class TrainState(NamedTuple):
    """Everything that changes during training, as one pytree.

    params: the model's parameters (any pytree).
    opt_state: the optimizer's state (``optimizer.init(params)``).
    step: () int32, how many updates have been applied.
    model_state: non-trained state such as batch-norm statistics, or None.
    key: a PRNG key split once per step for stochastic objectives (dropout), or None.
    """

    params: Any
    opt_state: Any
    step: Array
    model_state: Any = None
    key: Array | None = None


def init_state(params: Any, optimizer: optax.GradientTransformation, *,
               model_state: Any = None, key: Array | None = None) -> TrainState:
    """The state before the first step."""
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32), model_state, key)


Step = Callable[[TrainState, Batch], tuple[TrainState, Metrics]]


def make_step(objective: Callable[..., Any], optimizer: optax.GradientTransformation, *,
              has_aux: bool = False, stateful: bool = False) -> Step:
    """Build ``step(state, batch) -> (state, metrics)`` from an objective and an optimizer.

    objective, plain: ``objective(params, batch) -> loss``, a () float scalar, or with
        ``has_aux`` ``-> (loss, metrics)`` where metrics is a dict of arrays to record.
    objective, ``stateful=True``: ``objective(params, batch, model_state, key) ->
        (loss, (model_state, metrics))``; ``key`` is a fresh split of ``state.key`` each
        step (None if the state has no key) and the returned model_state replaces the old.

    The update is ``optimizer.update(grads, opt_state, params, value=, grad=, value_fn=)``
    so optimizers that need the loss (``optax.lbfgs``, ``optax.contrib.reduce_on_plateau``)
    run through the same step. Metrics always contain ``"loss"``, the loss *before* the update
    (what PyTorch's loop prints).
    """
    tx = optax.with_extra_args_support(optimizer)

    def step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        key, subkey = (None, None) if state.key is None else jax.random.split(state.key)
        if stateful:
            def value_fn(params):
                return objective(params, batch, state.model_state, subkey)
        else:
            def value_fn(params):
                return objective(params, batch)
        if stateful or has_aux:
            (loss, aux), grads = jax.value_and_grad(value_fn, has_aux=True)(state.params)
            model_state, metrics = aux if stateful else (state.model_state, aux)
            scalar_fn = lambda params: value_fn(params)[0]  # noqa: E731
        else:
            loss, grads = jax.value_and_grad(value_fn)(state.params)
            model_state, metrics, scalar_fn = state.model_state, {}, value_fn
        updates, opt_state = tx.update(grads, state.opt_state, state.params,
                                       value=loss, grad=grads, value_fn=scalar_fn)
        params = optax.apply_updates(state.params, updates)
        new_state = TrainState(params, opt_state, state.step + 1, model_state, key)
        return new_state, {"loss": loss, **metrics}

    return step


# Compiled runners, cached per step function so that repeated fits never recompile.

def _scan_batches(step: Step, state: TrainState, data: Batch, idx: Array):
    """Run ``step`` over the batches ``data[idx[i]]``; idx: (num_batches, batch_size)."""
    return jax.lax.scan(lambda s, row: step(s, take(data, row)), state, idx)


def _scan_full(step: Step, state: TrainState, data: Batch, num_steps: int):
    """Run ``step`` ``num_steps`` times on the whole of ``data``."""
    # Not unrolled: on CPU unroll=4 saves 35 % of 3000 linear-regression epochs (1.85 ->
    # 1.19 ms) but makes the 4 x 20000 Himmelblau steps 8x slower (0.55 -> 4.6 ms).
    return jax.lax.scan(lambda s, _: step(s, data), state, None, length=num_steps)


def _recorded_step(step: Step, state: TrainState, history: Metrics, i: Array, data: Batch,
                   idx: Array | None):
    """One step of ``jit`` mode: the step's metrics go to row ``i`` of ``history``; with
    ``idx`` (num_batches, batch_size) the batch is data[idx[i]]."""
    batch = data if idx is None else take(data, jax.lax.dynamic_index_in_dim(idx, i, 0, False))
    state, metrics = step(state, batch)
    history = jax.tree.map(lambda h, m: h.at[i].set(m), history, metrics)
    return state, history, i + 1


@functools.lru_cache(maxsize=None)
def _runner(step: Step, mode: str, full_batch: bool) -> Callable:
    """The function that runs one unit of work: a step (eager/jit) or a whole epoch (fused)."""
    if mode == "fused":
        if full_batch:
            return jax.jit(functools.partial(_scan_full, step), static_argnums=2)
        return jax.jit(functools.partial(_scan_batches, step))
    if mode == "jit":
        # Only the history is donated (updated in place): donating the state too made
        # small steps ~25 % faster but the CPU ResNet step ~35 % slower.
        return jax.jit(functools.partial(_recorded_step, step), donate_argnums=1)
    if full_batch:
        return step

    def one(state, data, row):
        return step(state, take(data, row))
    return one


@functools.lru_cache(maxsize=None)
def _jitted(step: Step) -> Callable:
    """``jax.jit(step)``, for its cached ``eval_shape``."""
    return jax.jit(step)


def _run_jit(run: Callable, step: Step, state: TrainState, data: Batch, count: int,
             idx: Array | None) -> tuple[TrainState, dict[str, np.ndarray]]:
    """``count`` calls of the jitted step; the metrics stay on the device until the end."""
    batch = data if idx is None else take(data, idx[0])
    _, shapes = _jitted(step).eval_shape(state, batch)
    history = jax.tree.map(lambda m: jnp.zeros((count, *m.shape), m.dtype), shapes)
    i = jnp.zeros((), jnp.int32)
    for _ in range(count):
        state, history, i = run(state, history, i, data, idx)
    return state, {k: np.asarray(v) for k, v in jax.device_get(history).items()}


@dataclasses.dataclass
class LogEvent:
    """What ``on_log`` receives. Positions are 0-based; ``metrics`` are host floats."""

    step: int
    epoch: int
    batch: int
    num_batches: int
    metrics: dict[str, float]


@dataclasses.dataclass
class History:
    """What a fit recorded.

    steps: per-step training metrics, each a (total_steps, ...) numpy array, the loss
        before each update included.
    epochs: what ``on_epoch`` returned after each epoch (evaluations), one dict per epoch.
    stopped_early: True if ``on_epoch`` asked to stop before the epoch budget.
    """

    steps: dict[str, np.ndarray]
    epochs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stopped_early: bool = False

    @property
    def loss(self) -> np.ndarray:
        """(total_steps,) the training loss before each update."""
        return self.steps["loss"]


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite; ``state`` is the last state before it."""

    def __init__(self, message: str, state: TrainState):
        super().__init__(message)
        self.state = state


def _check_finite(losses: np.ndarray, first_step: int, state: TrainState) -> None:
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        at = int(bad[0])
        raise NonFiniteLoss(
            f"training loss became {losses[at]} at step {first_step + at}; the learning rate "
            "may be too large or the inputs not normalised (the exception's .state holds "
            "the state from before the epoch that failed)", state)


def _num_examples(data: Batch) -> int:
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError("data must hold at least one array with an example axis; got "
                         f"{type(data).__name__}")
    return same_leading_axis(**{f"data leaf {i}": a for i, a in enumerate(leaves)})


def _stack(metrics: list[Metrics]) -> dict[str, np.ndarray]:
    # One transfer of the whole list, stacked by numpy: jnp.stack of thousands of arrays
    # would compile an XLA program with one operand per step.
    host = jax.device_get(metrics)
    return {k: np.stack([np.asarray(m[k]) for m in host]) for k in host[0]}


def fit(step: Step, state: TrainState, data: Batch, *, epochs: int, batch_size: int | None = None,
        key: Array | None = None, mode: str = "jit", log_every: int = 0,
        on_log: Callable[[LogEvent], None] | None = None,
        on_epoch: Callable[[int, TrainState], dict[str, Any] | None] | None = None,
        progress: bool = False) -> tuple[TrainState, History]:
    """Train: ``epochs`` passes over ``data``, each one step (full batch) or a shuffled pass.

    step: from :func:`make_step`.
    state: from :func:`init_state`.
    data: a pytree of arrays sharing their first (example) axis, e.g. ``(x, y)``; put it on
        the device once (``jax.device_put``) and every mode reads it there. Full-batch
        objectives with no data (a function to minimise) take ``None``.
    epochs: passes over the data. With ``batch_size=None`` each pass is one full-batch step
        (seed 000's "epoch") and ``fused`` runs all of them in one ``lax.scan``.
    batch_size: minibatch size; the last partial batch is dropped (see ``epoch_indices``).
    key: shuffles each epoch (``fold_in(key, epoch)``); None keeps the data's order.
    mode: ``'eager'``, ``'jit'`` or ``'fused'`` (see the module docstring).
    log_every, on_log: call ``on_log(LogEvent)`` at 0-based batch positions ``b`` with
        ``b % log_every == 0`` (the seeds' ``batch_idx % 100 == 0``; for full batch, steps).
        In ``fused`` mode the events are replayed from the history after each compiled call.
    on_epoch: ``on_epoch(epoch, state) -> dict | None`` after each minibatch epoch (run
        evaluations there); a dict with ``"stop": True`` ends training early.
    progress: a tqdm bar over epochs.

    Returns the final state and the :class:`History`. A non-finite loss raises
    :class:`NonFiniteLoss` (a ``FloatingPointError``) naming the step and carrying the last
    good state.
    """
    choice("mode", mode, MODES)
    positive("epochs", epochs, integer=True)
    if log_every:
        positive("log_every", log_every, integer=True)
    full_batch = batch_size is None
    n = _num_examples(data) if not full_batch else 0
    run = _runner(step, mode, full_batch)

    def emit(chunk: dict[str, np.ndarray], epoch0: int, step0: int, nb: int) -> None:
        if not (on_log and log_every):
            return
        for i in range(len(chunk["loss"])):
            epoch, batch = (epoch0 + i, 0) if full_batch else (epoch0, i)
            if (step0 + i if full_batch else batch) % log_every == 0:
                on_log(LogEvent(step0 + i, epoch, batch, nb,
                                {k: v[i].tolist() for k, v in chunk.items()}))

    if full_batch:
        initial = state
        if mode == "fused":
            state, metrics = run(state, data, epochs)
            history = {k: np.asarray(v) for k, v in metrics.items()}
        elif mode == "jit":
            state, history = _run_jit(run, step, state, data, epochs, None)
        else:
            collected = []
            for _ in range(epochs):
                state, metrics = run(state, data)
                collected.append(metrics)
            history = _stack(collected)
        _check_finite(history["loss"], 0, initial)
        emit(history, 0, 0, 1)
        return state, History(history)

    chunks: list[dict[str, np.ndarray]] = []
    result = History({})
    epoch_iter = range(epochs)
    if progress:
        from tqdm.auto import tqdm
        epoch_iter = tqdm(epoch_iter, desc="epochs", leave=False)
    step0 = 0
    for epoch in epoch_iter:
        idx = epoch_indices(None if key is None else jax.random.fold_in(key, epoch), n,
                            batch_size)
        if mode == "fused":
            new_state, metrics = run(state, data, idx)
            chunk = {k: np.asarray(v) for k, v in metrics.items()}
        elif mode == "jit":
            new_state, chunk = _run_jit(run, step, state, data, len(idx), idx)
        else:
            new_state, collected = state, []
            for row in idx:
                new_state, metrics = run(new_state, data, row)
                collected.append(metrics)
            chunk = _stack(collected)
        _check_finite(chunk["loss"], step0, state)
        state = new_state
        emit(chunk, epoch, step0, len(idx))
        chunks.append(chunk)
        step0 += len(idx)
        if on_epoch is not None:
            logs = on_epoch(epoch, state) or {}
            result.epochs.append(logs)
            if logs.get("stop"):
                result.stopped_early = epoch + 1 < epochs
                break
    result.steps = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return state, result


@functools.lru_cache(maxsize=None)
def _eval_runner(metric_fn: Callable) -> Callable:
    def run(params, data, idx, mask):
        def body(total, row_mask):
            row, valid = row_mask
            values = metric_fn(params, take(data, row))
            return jax.tree.map(lambda t, v: t + jnp.sum(jnp.where(valid, v, 0)), total,
                                values), None
        first = jax.eval_shape(metric_fn, params, take(data, idx[0]))
        zeros = jax.tree.map(lambda s: jnp.zeros((), s.dtype if s.dtype != jnp.bool_
                                                 else jnp.int32), first)
        totals, _ = jax.lax.scan(body, zeros, (idx, mask))
        return totals
    return jax.jit(run)


def evaluate(metric_fn: Callable[[Any, Batch], dict[str, Array]], params: Any, data: Batch,
             batch_size: int | None = None) -> dict[str, float]:
    """Mean of per-example metrics over ``data``, batched, in one compiled program.

    metric_fn: ``metric_fn(params, batch) -> {name: (b,) array}``, one value per example
        (e.g. ``{"loss": cross_entropy(..., reduction="none"), "accuracy": pred == y}``).
        Pass ``(params, model_state)`` as ``params`` for stateful models.
    batch_size: examples per batch (None: all at once). The last batch is padded and
        masked, so every example counts exactly once.
    Returns ``{name: mean over all examples}`` as Python floats.
    """
    n = _num_examples(data)
    bs = n if batch_size is None else min(positive("batch_size", batch_size, integer=True), n)
    nb = math.ceil(n / bs)
    flat = np.arange(nb * bs)
    idx = jnp.asarray(np.minimum(flat, n - 1).reshape(nb, bs), jnp.int32)
    mask = jnp.asarray((flat < n).reshape(nb, bs))
    totals = _eval_runner(metric_fn)(params, data, idx, mask)
    return {k: float(v) / n for k, v in totals.items()}
