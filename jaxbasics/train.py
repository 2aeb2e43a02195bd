"""The training engine: a step that owns its compiled programs, run three ways.

:func:`make_step` turns an objective and an Optax ``GradientTransformation`` into a
:class:`Step`: the pure function ``step.fn(state, batch) -> (state, metrics)`` and the
programs compiled from it (the initial state, the jitted step, fused epochs, evaluation),
kept on the object the way Keras keeps its train function on the trainer. A second
:func:`fit` or :meth:`Step.evaluate` with the same step compiles nothing.

:func:`fit` runs the step in one of three modes, chosen by a parameter:

``eager``
    no ``jit`` at all: every operation is dispatched one by one from Python, as PyTorch does.
``jit``
    the step is compiled once and called from Python once per batch; its metrics are
    written into a history buffer on the device (donated, so updated in place) and come
    back in one transfer per compiled call's worth of steps.
``fused``
    whole epochs (or a whole full-batch run) are one compiled ``jax.lax.scan``: the data
    resident on the device, each epoch's shuffle computed and its batches gathered on the
    device.

All three run the same step on the same batches in the same order: ``jit`` and ``fused``
give the same bits for the same seed, ``eager`` (XLA compiles each operation alone and fuses
nothing) the same numbers up to float32 rounding in the last bits. Positions are absolute:
``state.step`` says which epoch and batch come next, epoch ``e`` is shuffled by
``fold_in(key, e)`` and a stochastic objective gets ``fold_in(state.key, state.step)`` as
its key, so a run saved between two compiled calls and resumed reproduces the
uninterrupted run bit for bit.

Data parallel: ``fit(..., mesh=)`` and ``Step.evaluate(..., mesh=)`` take a
:class:`~jax.sharding.Mesh` from :func:`jaxbasics.parallel.make_mesh` (or a device count)
and run the same step SPMD: the state replicated on every device, the data split by
example over the mesh's ``"batch"`` axis (each device holds ``n / devices`` rows; with
several processes each process places only its rows), every batch gathered on the devices
and constrained to ``P("batch")``, the gradient mean an all-reduce the compiler inserts.
The shuffle is the one-device shuffle: epoch ``e``'s permutation is computed (replicated)
from the same key and each step gathers *exactly* the one-device batch from the shards
(:func:`jaxbasics.parallel.gather`: a masked local take and one reduce-scatter, about one
batch of traffic per step). So the batches are identical and the loss curve matches one
device to float tolerance (only the reduction order of the batch mean differs). The
alternative designs trade the other way: data replicated on every device needs no
collective for the gather but N times the memory; shuffling within each device's shard
needs no collective either but gives other batches than one device. With a one-device
mesh (or None) ``fit`` is the plain path. The programs compiled for a mesh are cached on
the step under the mesh, beside the one-device programs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from typing import Any, Callable, Hashable, Iterator, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.sharding import Mesh

from jaxbasics import parallel
from jaxbasics._checks import choice, positive, prng_key, same_leading_axis
from jaxbasics._once import jit_once
from jaxbasics._programs import Program
from jaxbasics.data.batching import epoch_indices, num_batches, take

MODES = ("eager", "jit", "fused")

Batch = Any
Metrics = dict[str, Array]


class TrainState(NamedTuple):
    """Everything that changes during training, as one pytree.

    params: the model's parameters (any pytree).
    opt_state: the optimizer's state (``optimizer.init(params)``).
    step: () int32, how many updates have been applied; it also fixes the position in the
        data (epoch ``step // batches_per_epoch``) and the key of the next step.
    model_state: non-trained state such as batch-norm statistics, or None.
    key: a PRNG key for stochastic objectives (dropout), or None. It never changes: step
        ``s`` uses ``fold_in(key, s)``.
    """

    params: Any
    opt_state: Any
    step: Array
    model_state: Any = None
    key: Array | None = None


def _new_state(optimizer: optax.GradientTransformation, params: Any, model_state: Any,
               key: Array | None) -> TrainState:
    # Strongly typed leaves: optimizers such as optax.lbfgs start with weakly typed Python
    # scalars that an update turns into typed arrays, which would recompile the next call.
    strong = lambda tree: jax.tree.map(lambda x: jnp.asarray(x, jnp.result_type(x)), tree)  # noqa: E731
    return TrainState(strong(params), strong(optimizer.init(params)), jnp.zeros((), jnp.int32),
                      model_state, key)


class Step:
    """A training step and the programs compiled from it.

    fn: the pure ``fn(state, batch) -> (state, metrics)``; calling the step calls it.
        ``jax.jit(step.fn)`` or :attr:`jit` is all a hand-written loop needs.
    optimizer: the Optax transformation it applies (given once, to :func:`make_step`).
    objective: the objective it differentiates, as given to :func:`make_step`.
    metrics: the per-example evaluation function, or None (see :meth:`evaluate`).
    quick_compile: how the CPU compiles the step's programs. None (default): each
        program (a fit's fused epochs or jit-mode step, an evaluation, jit mode's epoch
        shuffle) by XLA's quick pipeline when the work it is called for is estimated
        under 30 ms (a fit: all its steps from step 0 to its last), else by the full
        optimising one (an evaluation: the middle one, as fast for a forward pass); the
        cost of one step is analysed once per input signature (see
        :mod:`jaxbasics._programs`). True: every program quick. False: every program by
        the full pipeline (the benchmark's steady state). The initial state always
        compiles quick (it runs once); other backends always use their full pipeline.
        :attr:`jit`, for a loop of your own, is plain ``jax.jit``.

    The compiled programs live in this object and die with it: keep the step for as long
    as you train the same model, and build a new one for a new objective.
    """

    def __init__(self, fn: Callable[[TrainState, Batch], tuple[TrainState, Metrics]],
                 optimizer: optax.GradientTransformation, objective: Callable[..., Any],
                 metrics: Callable[..., dict[str, Array]] | None = None,
                 quick_compile: bool | None = None):
        self.fn = fn
        self.optimizer = optimizer
        self.objective = objective
        self.metrics = metrics
        self.quick_compile = quick_compile
        self._programs: dict[Hashable, Callable] = {}
        self._placed: list[tuple[list, Mesh, Any, int]] = []  # the last data sharded

    def __call__(self, state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return self.fn(state, batch)

    def _program(self, name: Hashable, build: Callable[[], Callable]) -> Callable:
        if name not in self._programs:
            self._programs[name] = build()
        return self._programs[name]

    def _jit(self, name: str, mesh: Mesh | None, body: Callable, **options) -> Program:
        """The program ``name`` for ``mesh``: ``jax.jit(body)`` by the pipeline its work
        calls for (:class:`~jaxbasics._programs.Program`), its outputs replicated on the
        mesh (a different mesh is another program)."""
        if mesh is not None:
            options["out_shardings"] = parallel.replicated(mesh)
        return self._program(name if mesh is None else (name, mesh),
                             lambda: Program(body, self.quick_compile, **options))

    def _shard(self, data: Batch, mesh: Mesh) -> tuple[Batch, int]:
        """``parallel.shard_data``, remembering the last two data sets of ``jax.Array``s it
        placed (a fit's training data and the test data evaluated after each epoch move
        once); NumPy data, which can change in place, is placed at every call."""
        leaves = jax.tree.leaves(data)
        if not all(isinstance(a, jax.Array) for a in leaves):
            return parallel.shard_data(data, mesh)
        for got, on, placed, n in self._placed:
            if on == mesh and len(got) == len(leaves) and all(
                    a is b for a, b in zip(got, leaves)):
                return placed, n
        placed, n = parallel.shard_data(data, mesh)
        self._placed = [(leaves, mesh, placed, n)] + self._placed[:1]
        return placed, n

    @property
    def jit(self) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
        """``jax.jit(self.fn)``, compiled once per batch shape."""
        return self._program("jit", lambda: jax.jit(self.fn))

    def init(self, params: Any, *, model_state: Any = None,
             key: Array | None = None) -> TrainState:
        """The state before the first step, built by one compiled program (the quick
        pipeline: it runs once)."""
        program = self._program("init", lambda: jit_once(functools.partial(_new_state,
                                                                            self.optimizer)))
        return program(params, model_state, key)

    def evaluate(self, state: TrainState, data: Batch, batch_size: int | None = None, *,
                 mesh: Mesh | int | None = None,
                 per_example: bool = False) -> dict[str, float] | dict[str, np.ndarray]:
        """Mean of the per-example ``metrics`` over ``data``, in one compiled program.

        ``metrics(params, batch) -> {name: (b,) array}``, one value per example (e.g.
        ``{"loss": cross_entropy(..., reduction="none"), "accuracy": pred == y}``); when the
        state has a ``model_state`` (batch-norm statistics) it is
        ``metrics(params, batch, model_state)``. Integer metrics (a predicted class) have no
        mean: they are returned with ``per_example`` only.
        batch_size: examples per batch (None: all at once). The last batch is padded and
            masked, so every example counts exactly once.
        mesh: a mesh or device count (see :func:`fit`): each batch split over the devices;
            ``batch_size`` must then be a multiple of the device count. None: the mesh the
            state is on (a state a mesh ``fit`` returned), else one device.
        per_example: return every example's values instead, ``{name: (n,) numpy array}``
            (the same compiled program: a figure of predictions compiles nothing more).
        Returns ``{name: mean over all examples}`` as Python floats (float and bool metrics).
        """
        if self.metrics is None:
            raise ValueError("this step has no metrics function: pass "
                             "make_step(..., metrics=fn) to evaluate with it")
        _check_state(state)
        mesh = parallel.active(parallel.mesh_of(state) if mesh is None else mesh)
        n = _num_examples(data)
        bs = n if batch_size is None else min(positive("batch_size", batch_size, integer=True), n)
        if mesh is not None:
            if batch_size is None:
                bs = -(-n // mesh.size) * mesh.size
            parallel.check_batch("batch_size", bs, mesh)
        nb = math.ceil(n / bs)
        flat = np.arange(nb * bs)
        idx = np.minimum(flat, n - 1).reshape(nb, bs).astype(np.int32)
        mask = (flat < n).reshape(nb, bs)
        program = self._jit("evaluate", mesh, functools.partial(
            _evaluate_batches, self._program("metrics", lambda: jax.jit(self.metrics)),
            _gather(mesh)), large="middle")
        if mesh is None:
            data, idx_mask = jax.device_put(data), jax.device_put((idx, mask))
        else:
            data = self._shard(data, mesh)[0]
            state, idx_mask = parallel.replicate((state, (idx, mask)), mesh)
        totals, values = program.run(nb, (state, data, bs), state, data, *idx_mask)
        if per_example:
            return {k: np.asarray(v).reshape(-1)[:n] for k, v in jax.device_get(values).items()}
        return {k: float(v) / n for k, v in jax.device_get(totals).items()}


def init_state(params: Any, step: Step, *, model_state: Any = None,
               key: Array | None = None) -> TrainState:
    """The state before the first step of ``step`` (``step.optimizer.init(params)``).

    model_state: non-trained state (batch-norm statistics) for stateful objectives.
    key: the dropout key of stateful objectives; step ``s`` draws ``fold_in(key, s)``.
    """
    if not isinstance(step, Step):
        raise TypeError("init_state takes the Step that make_step returned (it carries the "
                        f"optimizer); got {type(step).__name__}")
    return step.init(params, model_state=model_state, key=key)


def make_step(objective: Callable[..., Any], optimizer: optax.GradientTransformation, *,
              has_aux: bool = False, stateful: bool = False,
              metrics: Callable[..., dict[str, Array]] | None = None,
              quick_compile: bool | None = None) -> Step:
    """Build a :class:`Step` from an objective and an optimizer.

    objective, plain: ``objective(params, batch) -> loss``, a () float scalar, or with
        ``has_aux`` ``-> (loss, metrics)`` where metrics is a dict of arrays to record.
    objective, ``stateful=True``: ``objective(params, batch, model_state, key) ->
        (loss, (model_state, metrics))``; ``key`` is ``fold_in(state.key, state.step)``
        (None if the state has no key) and the returned model_state replaces the old.
    metrics: per-example evaluation metrics for :meth:`Step.evaluate`.
    quick_compile: how the CPU compiles the step's programs (see :class:`Step`).

    The update is ``optimizer.update(grads, opt_state, params, value=, grad=, value_fn=)``
    so optimizers that need the loss (``optax.lbfgs``, ``optax.contrib.reduce_on_plateau``)
    run through the same step. Metrics always contain ``"loss"``, the loss *before* the update
    (what PyTorch's loop prints).
    """
    if not callable(objective):
        raise TypeError(f"objective must be a function of (params, batch); got "
                        f"{type(objective).__name__}")
    if not (callable(getattr(optimizer, "init", None))
            and callable(getattr(optimizer, "update", None))):
        raise TypeError("optimizer must be an optax.GradientTransformation, e.g. optax.sgd(0.1) "
                        f"or jaxbasics.optim.make('sgd', 0.1); got {type(optimizer).__name__}")
    tx = optax.with_extra_args_support(optimizer)

    def step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        key = None if state.key is None else jax.random.fold_in(state.key, state.step)

        def value_fn(params):
            out = (objective(params, batch, state.model_state, key) if stateful
                   else objective(params, batch))
            if (stateful or has_aux) != isinstance(out, (tuple, list)):
                raise TypeError(
                    "the objective returned a " + type(out).__name__ + "; with has_aux=True "
                    "it returns (loss, metrics), with stateful=True (loss, (model_state, "
                    "metrics)), otherwise a scalar loss (for a tuple pass has_aux=True)")
            loss = out[0] if stateful or has_aux else out
            if jnp.ndim(loss) != 0:  # at trace time: what jax.grad would refuse, said plainly
                raise TypeError(f"the objective must return a scalar loss (reduce the batch's "
                                f"losses with jnp.mean or jnp.sum); it returned shape "
                                f"{jnp.shape(loss)}")
            return out
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
        new_state = TrainState(params, opt_state, state.step + 1, model_state, state.key)
        return new_state, {"loss": loss, **metrics}

    return Step(step, optimizer, objective, metrics, quick_compile)


# The bodies of the compiled programs. ``fn`` is bound by functools.partial once per Step:
# the loops get ``step.jit``, a nested jax.jit (XLA inlines it), whose cached trace serves
# every place a body is traced (a history's shapes, each loop level), so the step is traced
# once per program: ResNet's fused epoch traced it four times, 0.3-0.45 s each.

def _order(key: Array | None, epoch: Array, n: int, batch_size: int) -> Array:
    """Epoch ``epoch``'s batches, (n // batch_size, batch_size) int32."""
    return epoch_indices(None if key is None else jax.random.fold_in(key, epoch), n, batch_size)


def _gather(mesh: Mesh | None) -> Callable[[Batch, Array], Batch]:
    """How a compiled program takes a batch's rows: ``take`` on one device, the sharded
    gather on a mesh."""
    return take if mesh is None else functools.partial(_sharded_take, mesh)


def _sharded_take(mesh, data, rows):
    return parallel.gather(data, rows, mesh)


def _fused(fn, gather, state, data, key, epoch0, batch0, epoch_count, batch_count, *,
           epochs: int, batches: int, batch_size: int | None, n: int,
           whole_epoch: bool = False, unroll: int = 1):
    """``epochs`` epochs from ``epoch0``, each ``batches`` batches from ``batch0`` (a whole
    epoch when ``epochs > 1``); full batch when ``batch_size`` is None. Metrics are
    (epochs, ...) for full batch, (epochs, batches, ...) otherwise.

    epoch_count, batch_count: () int32 equal to ``epochs`` and ``batches``, traced (see
        :func:`_loop`).
    whole_epoch: gather each epoch's examples in one take, (batches per epoch, batch_size,
        ...), instead of one take per step (see :func:`_whole_epoch`).
    unroll: full batch only, ``lax.scan``'s unroll of the loop over epochs.
    """
    if batch_size is None:
        return jax.lax.scan(lambda s, _: fn(s, data), state, None, length=epochs, unroll=unroll)

    def epoch(e, state):
        rows = _order(key, epoch0 + e, n, batch_size)  # the whole epoch's, (nb, batch_size)
        epoch_data = gather(data, rows) if whole_epoch else None

        def batch_at(b):
            return _row(epoch_data, b) if whole_epoch else gather(data, _row(rows, b))
        return _loop(lambda i, s: fn(s, batch_at(batch0 + i)), state, batch_count, batches)
    return _loop(epoch, state, epoch_count, epochs)


def _row(tree: Any, i: Array) -> Any:
    """Entry ``i`` of the leading axis of every array in ``tree``."""
    return jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, i, 0, False), tree)


def _loop(body, state, count, length: int):
    """``body(i, state) -> (state, metrics)`` for i in [0, count): the final state and the
    metrics stacked, (length, ...).

    A ``fori_loop`` to a *traced* ``count`` (always ``length``), not a ``lax.scan``, and
    batches indexed in the whole epoch rather than in a slice of the call's batches: XLA
    compiles a loop of known trip count 1 without the loop and hoists what a one-batch slice
    makes loop-invariant, and the step compiled that way reduced its batch in another order,
    so a run resumed after a call of one step (``steps_per_call=1``, an epoch's last step)
    differed from the uninterrupted run in the last bits. This way every call runs the same
    loop body.
    """
    shapes = jax.eval_shape(lambda s: body(0, s)[1], state)
    history = jax.tree.map(lambda m: jnp.zeros((length, *m.shape), m.dtype), shapes)

    def step(i, carry):
        state, history = carry
        state, metrics = body(i, state)
        return state, jax.tree.map(lambda h, m: h.at[i].set(m), history, metrics)
    return jax.lax.fori_loop(0, count, step, (state, history))


# An epoch's rows up to this size are gathered in one take (see _whole_epoch).
WHOLE_EPOCH_BYTES = 1 << 20


def _whole_epoch(data: Batch, rows: int) -> bool:
    """Whether a fused epoch gathers its ``rows`` examples at once: when the copy is at most
    :data:`WHOLE_EPOCH_BYTES`. On the CPU each gather costs about 0.5 µs more inside a
    step than outside it, whatever its size (measured on a 2-core Zen 4: 300 steps of the
    d2l regression, batches of 10, 185 µs with a take per step, 90 µs with one per epoch),
    which only tiny steps notice; a large epoch's copy costs memory and cache (the MNIST
    MLP's 4,000-digit epoch, 12.5 MB, ran 4 % slower gathered at once)."""
    size = sum(a.dtype.itemsize * math.prod(a.shape[1:]) for a in jax.tree.leaves(data))
    return size * rows <= WHOLE_EPOCH_BYTES


def _recorded(fn, gather, state, history, i, j, data, rows):
    """One ``jit``-mode step on batch ``rows[i]`` (the whole data if rows is None); its
    metrics go to row ``j`` of ``history``."""
    batch = data if rows is None else gather(data, jax.lax.dynamic_index_in_dim(rows, i, 0, False))
    state, metrics = fn(state, batch)
    history = jax.tree.map(lambda h, m: h.at[j].set(m), history, metrics)
    return state, history, i + 1, j + 1


def _evaluate_batches(metric_fn, gather, state, data, idx, mask):
    """(sums over the valid examples of the float and bool metrics, every example's values
    (nb, bs) per metric)."""
    def per_example(batch):
        if state.model_state is None:
            return metric_fn(state.params, batch)
        return metric_fn(state.params, batch, state.model_state)

    def body(total, row_mask):
        row, valid = row_mask
        values = per_example(gather(data, row))
        total = {k: t + jnp.sum(jnp.where(valid, values[k], 0)) for k, t in total.items()}
        return total, values

    shapes = jax.eval_shape(per_example, take(data, idx[0]))
    zeros = {k: jnp.zeros((), jnp.int32 if s.dtype == jnp.bool_ else s.dtype)
             for k, s in shapes.items() if not jnp.issubdtype(s.dtype, jnp.integer)}
    return jax.lax.scan(body, zeros, (idx, mask))


@dataclasses.dataclass
class LogEvent:
    """What ``on_log`` receives. Positions are 0-based and absolute (a resumed run goes on
    counting); ``metrics`` are host floats."""

    step: int
    epoch: int
    batch: int
    num_batches: int
    metrics: dict[str, float]


@dataclasses.dataclass
class History:
    """What a fit recorded.

    steps: per-step training metrics of this fit, each a (steps, ...) numpy array, the loss
        before each update included.
    epochs: what ``on_epoch`` returned after each epoch (evaluations), one dict per epoch.
    stopped_early: True if ``on_epoch`` asked to stop before the epoch budget.
    """

    steps: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    epochs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stopped_early: bool = False

    @property
    def loss(self) -> np.ndarray:
        """(steps,) the training loss before each update."""
        return self.steps["loss"]


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite.

    state: the state at the start of the chunk of steps in which it happened, so every
        update it holds is finite. A chunk is what ``fit`` runs between two looks at the
        losses: one epoch where ``on_epoch`` is given and for minibatches in ``eager`` and
        ``jit`` mode; all the epochs of the call in ``fused`` mode and for full-batch runs
        without ``on_epoch``; never more than ``steps_per_call`` steps.
    step: the absolute step whose loss was not finite; loss: that value;
    learning_rate: the optimizer's learning rate where the state exposes it, else None.
    """

    def __init__(self, message: str, state: TrainState, step: int, loss: float,
                 learning_rate: float | None = None):
        super().__init__(message)
        self.state, self.step, self.loss, self.learning_rate = state, step, loss, learning_rate


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`. ``state`` is the state after the last compiled call that
    completed (a consistent position to save and resume from); ``history`` what it
    recorded up to there."""

    def __init__(self, state: TrainState, history: History):
        super().__init__(f"training interrupted at step {int(state.step)}")
        self.state, self.history = state, history


def learning_rate(opt_state: Any) -> float | None:
    """The learning rate held in an Optax state, or None where the optimizer hides it.

    Found in the states of ``optax.inject_hyperparams`` (``hyperparams["learning_rate"]``),
    anywhere inside chains and nested tuples; a plain ``optax.sgd(0.1)`` does not store its
    rate, and a vector of rates (one per parameter) is not one rate: None.
    """
    for node in jax.tree.leaves(opt_state, is_leaf=lambda x: hasattr(x, "hyperparams")):
        hyper = getattr(node, "hyperparams", None)  # Inject(Stateful)HyperparamsState
        if isinstance(hyper, dict) and "learning_rate" in hyper:
            rate = np.asarray(hyper["learning_rate"])
            return float(rate.reshape(())) if rate.size == 1 else None
    return None


def _num_examples(data: Batch) -> int:
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError("data must hold at least one array with an example axis; got "
                         f"{type(data).__name__}")
    n = same_leading_axis(**{f"data leaf {i}": a for i, a in enumerate(leaves)})
    if n == 0:
        raise ValueError(f"data has no examples: its arrays' first axis is 0 (shapes "
                         f"{', '.join(str(np.shape(a)) for a in leaves)})")
    return n


def _check_state(state: Any) -> None:
    if not isinstance(state, TrainState):
        raise TypeError("state must be the TrainState that init_state (or step.init) built, "
                        f"or one fit returned; got {type(state).__name__}")


class _Chunk(NamedTuple):
    epoch: int    # the epoch of its first step
    batch0: int   # the batch of its first step within that epoch
    epochs: int   # whole epochs (> 1 only when batch0 == 0 and batches == per_epoch)
    batches: int  # batches per epoch in it


def _chunks(position: int, end: int, per_epoch: int, max_epochs: int,
            max_steps: int) -> Iterator[_Chunk]:
    """Split steps [position, end) into compiled calls: whole epochs where possible."""
    while position < end:
        epoch, b = divmod(position, per_epoch)
        if b == 0 and max_steps >= per_epoch:
            e = min(max_epochs, (end - position) // per_epoch)
            yield _Chunk(epoch, 0, e, per_epoch)
            position += e * per_epoch
        else:
            n = min(max_steps, per_epoch - b, end - position)
            yield _Chunk(epoch, b, 1, n)
            position += n


def fit(step: Step, state: TrainState, data: Batch, *, epochs: int, batch_size: int | None = None,
        key: Array | None = None, mode: str = "jit", log_every: int = 0,
        on_log: Callable[[LogEvent], None] | None = None,
        on_epoch: Callable[[int, TrainState], dict[str, Any] | None] | None = None,
        steps_per_call: int | None = None, progress: bool = False,
        mesh: Mesh | int | None = None, unroll: int = 1) -> tuple[TrainState, History]:
    """Train: ``epochs`` passes over ``data``, each one step (full batch) or a shuffled pass.

    step: from :func:`make_step`.
    state: from :func:`init_state`, or a state a fit returned or a checkpoint restored: the
        run goes on from epoch ``state.step // batches_per_epoch``; a state saved in the
        middle of an epoch resumes with that epoch's next batch.
    data: a pytree of arrays sharing their first (example) axis, e.g. ``(x, y)``; it is put
        on the device once. Full-batch objectives with no data (a function to minimise)
        take ``None``.
    epochs: passes to run in this call (a partial epoch the state is in counts as one).
        With ``batch_size=None`` each pass is one full-batch step (seed 000's "epoch").
    batch_size: minibatch size; the last partial batch is dropped (see ``epoch_indices``).
    key: shuffles epoch ``e`` with ``fold_in(key, e)``; None keeps the data's order. One
        key: ``jax.random.key(seed)`` (or a raw ``jax.random.PRNGKey``); anything else is a
        TypeError.
    mode: ``'eager'``, ``'jit'`` or ``'fused'`` (see the module docstring).
    log_every, on_log: call ``on_log(LogEvent)`` at batch positions ``b`` with
        ``b % log_every == 0`` (the seeds' ``batch_idx % 100 == 0``; for full batch, steps),
        replayed from each compiled call's metrics, so no mode syncs per step for them.
    on_epoch: ``on_epoch(epoch, state) -> dict | None`` after each epoch (run evaluations,
        save checkpoints there); a dict with ``"stop": True`` ends training early. With it,
        ``fused`` compiles one epoch per call instead of the whole run.
    steps_per_call: at most this many steps per compiled call (fused) or per transfer of
        metrics (jit), to keep Ctrl-C and progress responsive on long epochs.
    progress: a tqdm bar on stderr (only on a terminal): the epoch (1-based, the last one
        of the latest call), examples/s and the loss, updated after each compiled call.
    mesh: data parallel over a :class:`~jax.sharding.Mesh` with axis ``"batch"``
        (:func:`jaxbasics.parallel.make_mesh`) or over the first ``mesh`` devices (an int):
        the state replicated, the data split by example, each batch split over the devices
        (see the module docstring); ``batch_size`` (or, full batch, the example count) must
        be a multiple of the device count. The returned state stays replicated on the mesh.
        ``jit`` and ``fused`` run one SPMD program per call; ``eager`` runs the same
        operations one by one on the sharded arrays (each a small SPMD computation: slow,
        for comparison only). None: the mesh ``state`` is on, if any (a state a mesh fit
        returned or a sharded checkpoint restored); otherwise, or on one device, the plain
        path.
    unroll: ``fused`` full-batch runs only: how many epochs each iteration of the compiled
        loop runs (``jax.lax.scan``'s ``unroll``). Choose it by measuring the loop at hand:
        on a 2-core Zen 4, 8 made 3,000 tiny full-batch steps 1.4x faster. It may change the
        last float digits (the compiler fuses across the unrolled steps); a resumed run
        equals the uninterrupted one with the same ``unroll``. Each value is another
        compiled program. (Minibatch loops are not unrolled: 2 or 4 made the d2l loop 1.2x
        slower and the MNIST MLP epoch no faster.)

    Returns the final state and the :class:`History`. A non-finite loss raises
    :class:`NonFiniteLoss`; Ctrl-C raises :class:`Interrupted` carrying the last
    consistent state; with several processes, a process that dies makes the others raise
    :class:`jaxbasics.parallel.LostProcess` (one line) at their next collective.
    """
    choice("mode", mode, MODES)
    positive("epochs", epochs, integer=True)
    if log_every:
        positive("log_every", log_every, integer=True)
    if steps_per_call is not None:
        positive("steps_per_call", steps_per_call, integer=True)
    positive("unroll", unroll, integer=True)
    if not isinstance(step, Step):
        raise TypeError(f"step must be what make_step returns; got {type(step).__name__}")
    _check_state(state)
    if key is not None:  # (None: the data's order)
        prng_key("key", key)
    full_batch = batch_size is None
    n = 0 if full_batch else _num_examples(data)
    if full_batch and any(np.size(a) == 0 for a in jax.tree.leaves(data)):
        raise ValueError("data has an empty array: " + ", ".join(
            str(np.shape(a)) for a in jax.tree.leaves(data)))
    per_epoch = 1 if full_batch else num_batches(n, batch_size)
    mesh = parallel.active(parallel.mesh_of(state) if mesh is None else mesh)
    if mesh is None:
        if not all(isinstance(a, jax.Array) for a in jax.tree.leaves(data)):
            data = jax.device_put(data)  # placed once (arrays already placed stay put)
    else:
        if full_batch and data is not None:
            parallel.check_batch("the number of examples (full batch)", _num_examples(data),
                                 mesh)
        elif not full_batch:
            parallel.check_batch("batch_size", batch_size, mesh)
        data = step._shard(data, mesh)[0] if data is not None else None
        state, key = parallel.replicate((state, key), mesh)
    position = int(state.step)
    first_epoch = position // per_epoch
    end = (first_epoch + epochs) * per_epoch
    if end >= 2**31:
        raise ValueError(f"epochs ({epochs}) of {per_epoch} steps from step {position} would "
                         f"pass step {2**31 - 1}, the last the int32 step counter holds")
    if full_batch:  # each epoch is one step: steps_per_call counts epochs
        max_epochs, max_steps = (1 if on_epoch else steps_per_call or epochs), 1
    else:
        max_epochs, max_steps = (1 if on_epoch or mode != "fused" else epochs), steps_per_call or per_epoch
    length = max_epochs if full_batch else min(max_steps, per_epoch)

    history = History()
    chunks: list[dict[str, np.ndarray]] = []
    bar = _progress_bar(end - position, batch_size or 1) if progress else None
    try:
        for chunk in _chunks(position, end, per_epoch, max_epochs, max_steps):
            new_state, metrics = _run_chunk(step, mode, state, data, key, chunk, batch_size,
                                            n, mesh, unroll, end, length)
            start = chunk.epoch * per_epoch + chunk.batch0
            _check_finite(metrics["loss"], start, state)
            state = new_state
            chunks.append(metrics)
            with _above(bar):
                _emit(on_log, log_every, metrics, start, per_epoch)
            if bar is not None:
                bar.set_description(f"epoch {chunk.epoch + chunk.epochs}", refresh=False)
                bar.set_postfix(loss=f"{float(metrics['loss'][-1]):.4g}", refresh=False)
                bar.update(len(metrics["loss"]) * (batch_size or 1))
            if on_epoch is not None and chunk.batch0 + chunk.batches == per_epoch:
                with _above(bar):
                    logs = on_epoch(chunk.epoch, state)
                if logs is None:
                    logs = {}
                elif not isinstance(logs, dict):
                    raise TypeError(f"on_epoch must return a dict (e.g. {{'stop': True}}) or "
                                    f"None; it returned {type(logs).__name__}")
                history.epochs.append(logs)
                if logs.get("stop"):
                    history.stopped_early = (chunk.epoch + 1) * per_epoch < end
                    break
    except KeyboardInterrupt:
        history.steps = _concatenate(chunks)
        raise Interrupted(state, history) from None
    except jax.errors.JaxRuntimeError as e:
        lost = parallel.lost_process(e)
        if lost is None:
            raise
        raise lost from e
    finally:
        if bar is not None:
            bar.close()
    history.steps = _concatenate(chunks)
    return state, history


def _run_chunk(step: Step, mode: str, state: TrainState, data: Batch, key: Array | None,
               chunk: _Chunk, batch_size: int | None, n: int, mesh: Mesh | None,
               unroll: int, end: int, length: int) -> tuple[TrainState, dict[str, np.ndarray]]:
    """One compiled call (fused), one metrics transfer (jit) or its steps (eager).

    end: the run's last step (absolute, so a resumed run chooses as the uninterrupted one
        did), the work that chooses the pipeline of the training program.
    length: the most steps a call of one epoch or less runs (full batch: epochs). Such a
        call runs its steps in a loop to a traced count with room for ``length`` metrics
        (jit: a history of ``length`` rows), so an epoch's remainder call, or a resumed
        run's first, compiles nothing more.
    """
    full_batch = batch_size is None
    count = chunk.epochs * chunk.batches
    gather = _gather(mesh)
    if mode == "fused":
        program = step._jit("fused", mesh, functools.partial(_fused, step.jit, gather),
                            static_argnames=("epochs", "batches", "batch_size", "n",
                                             "whole_epoch", "unroll"))
        whole = mesh is None and not full_batch and _whole_epoch(data, n)
        batches = chunk.batches if chunk.epochs > 1 else length
        args = (state, data, key, chunk.epoch, chunk.batch0, np.int32(chunk.epochs),
                np.int32(chunk.batches))
        kwargs = dict(epochs=chunk.epochs, batches=batches, batch_size=batch_size,
                      n=n, whole_epoch=whole, unroll=unroll)
        signature = (state, data, key is None, batch_size, n, unroll)
        state, metrics = program.run(end, signature, *args, **kwargs)
        if full_batch:
            return state, {k: np.asarray(v) for k, v in metrics.items()}
        return state, {k: np.asarray(v)[:, :chunk.batches].reshape(count, *v.shape[2:])
                       for k, v in metrics.items()}
    rows = None
    if not full_batch:
        if mode == "eager":
            rows = _order(key, chunk.epoch, n, batch_size)
        else:
            order = step._jit("order", mesh, _order, static_argnames=("n", "batch_size"))
            rows = order.run(1, (key, n, batch_size), key, chunk.epoch, n=n,
                             batch_size=batch_size)
    if mode == "eager":
        collected = []
        for i in range(chunk.batch0, chunk.batch0 + count):
            state, metrics = step.fn(state, data if rows is None else gather(data, rows[i]))
            collected.append(metrics)
        host = jax.device_get(collected)
        return state, {k: np.stack([np.asarray(m[k]) for m in host]) for k in host[0]}
    batch_shape = data if rows is None else jax.tree.map(
        lambda a: jax.ShapeDtypeStruct((batch_size, *a.shape[1:]), a.dtype), data)
    _, shapes = step.jit.eval_shape(state, batch_shape)
    history = jax.tree.map(lambda m: np.zeros((max(count, length), *m.shape), m.dtype), shapes)
    i, j = np.int32(chunk.batch0), np.int32(0)
    if mesh is None:
        history, i, j = jax.device_put((history, i, j))
    else:
        history, i, j = parallel.replicate((history, i, j), mesh)
    # Only the history is donated (updated in place): donating the state too made small
    # steps faster but the CPU ResNet step slower.
    program = step._jit("recorded", mesh, functools.partial(_recorded, step.jit, gather),
                        donate_argnums=1)
    program = program.choose(end, (state, data, rows), state, history, i, j, data, rows)
    for _ in range(count):
        state, history, i, j = program(state, history, i, j, data, rows)
    return state, {k: np.asarray(v)[:count] for k, v in jax.device_get(history).items()}


def _check_finite(losses: np.ndarray, first_step: int, state: TrainState) -> None:
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        at = int(bad[0])
        lr = learning_rate(state.opt_state)
        if first_step + at == 0:  # the initial parameters: no update has acted yet
            cause = (", before any update, so the data or the objective gives it: NaN in the "
                     "inputs, class labels outside 0..classes-1, a log of 0")
        else:
            cause = ((f" with learning rate {lr:g}" if lr is not None else "")
                     + "; the learning rate may be too large, the inputs not normalised, or "
                     "some batch's labels outside 0..classes-1")
        raise NonFiniteLoss(f"training loss became {losses[at]} at step {first_step + at}"
                            + cause, state, first_step + at, float(losses[at]), lr)


def _emit(on_log, log_every: int, metrics: dict[str, np.ndarray], start: int,
          per_epoch: int) -> None:
    if not (on_log and log_every):
        return
    for i in range(len(metrics["loss"])):
        epoch, batch = divmod(start + i, per_epoch)
        if (start + i if per_epoch == 1 else batch) % log_every == 0:
            on_log(LogEvent(start + i, epoch, batch, per_epoch,
                            {k: v[i].tolist() for k, v in metrics.items()}))


def _concatenate(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}


def _above(bar):
    """A context in which the hooks' prints go above the progress bar, not through it."""
    return contextlib.nullcontext() if bar is None else bar.external_write_mode()


def _progress_bar(steps: int, batch_size: int):
    import sys

    from tqdm.auto import tqdm
    return tqdm(total=steps * batch_size, unit="ex", unit_scale=True, leave=False,
                file=sys.stderr, disable=None, desc="training")
