"""Optimizers: Optax transformations built by name, and the hand-written SGD of d2l.

``make(name, learning_rate, **hyper)`` maps the course's ``torch.optim`` calls onto Optax:

=============================================  ==========================================
PyTorch                                        here
=============================================  ==========================================
``SGD(p, lr)``                                 ``make("sgd", lr)``
``SGD(p, lr, momentum=0.9)``                   ``make("sgd", lr, momentum=0.9)``
``SGD(p, lr, weight_decay=wd)``                ``make("sgd", lr, weight_decay=wd)`` (coupled L2)
``SGD(p, lr, momentum=0.9, dampening=0.5)``    ``make("sgd", lr, momentum=0.9, dampening=0.5)``
``RMSprop(p, lr, alpha=0.99, centered=True)``  ``make("rmsprop", lr, alpha=0.99, centered=True)``
``Adam(p, lr, betas=(0.9, 0.999), eps=1e-8)``  ``make("adam", lr, b1=0.9, b2=0.999, eps=1e-8)``
``Adam(p, lr, weight_decay=wd)``               ``make("adam", lr, weight_decay=wd)`` (coupled L2)
``Adam(p, lr, amsgrad=True)``                  ``make("adam", lr, amsgrad=True)`` (see adam)
``AdamW(p, lr, weight_decay=1e-2)``            ``make("adamw", lr, weight_decay=1e-2)``
``Adagrad(p, lr=0.01, lr_decay=0.1)``          ``make("adagrad", 0.01, lr_decay=0.1)``
``LBFGS(p, lr=1, history_size=10)``            ``make("lbfgs", 1.0, memory_size=10)``
``clip_grad_norm_(p, max_norm)``               ``clip_grad_norm(max_norm)`` chained before
=============================================  ==========================================

Defaults follow PyTorch, not Optax, where they differ: AdamW's ``weight_decay`` is 1e-2
(Optax: 1e-4); Adagrad's accumulator starts at 0 (Optax: 0.1) with eps 1e-10. Where eps
goes also differs: PyTorch's RMSprop divides by sqrt(v) + eps, Optax's ``rmsprop`` by
sqrt(v + eps) unless ``eps_in_sqrt=False``, which :func:`rmsprop` sets (the eps *values*
are both 1e-8). ``weight_decay`` in SGD, RMSprop, Adam and Adagrad is PyTorch's coupled L2
(wd·param added to the gradient before the optimizer); only AdamW decouples it.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import optax

from jaxbasics._checks import non_negative, number, positive

Schedule = Callable[[Any], Any]
LearningRate = Union[float, Schedule]


def _learning_rate(learning_rate: LearningRate) -> LearningRate:
    """A schedule, or a number >= 0 (PyTorch accepts 0: nothing moves)."""
    if callable(learning_rate):
        return learning_rate
    return non_negative("learning_rate", learning_rate)


def _betas(b1: float, b2: float, eps: float) -> None:
    """torch.optim.Adam's checks: each beta in [0, 1), eps >= 0."""
    for name, b in (("b1", b1), ("b2", b2)):
        if not 0 <= number(name, b) < 1:
            raise ValueError(f"{name} must be in [0, 1) (torch: betas); got {b!r}")
    non_negative("eps", eps)


def _decayed(weight_decay: float, tx: optax.GradientTransformation
             ) -> optax.GradientTransformation:
    """PyTorch's coupled weight decay: g + wd * param, then ``tx``."""
    if not non_negative("weight_decay", weight_decay):
        return tx
    return optax.chain(optax.add_decayed_weights(weight_decay), tx)


class DampenedTraceState(NamedTuple):
    """The momentum buffer and whether it has been started."""
    trace: Any
    started: Any


def _dampened_trace(momentum: float, dampening: float) -> optax.GradientTransformation:
    """PyTorch's buffer with dampening: b₁ = g₁, then b = momentum·b + (1 - dampening)·g.

    Optax's ``trace`` has no dampening; with dampening 0 it is the same (b₀ = 0).
    """
    def init(params):
        return DampenedTraceState(optax.tree.zeros_like(params), jnp.zeros([], bool))

    def update(grads, state, params=None):
        del params
        trace = jax.tree.map(lambda g, b: jnp.where(
            state.started, momentum * b + (1 - dampening) * g, g), grads, state.trace)
        return trace, DampenedTraceState(trace, jnp.ones([], bool))

    return optax.GradientTransformation(init, update)


def sgd(learning_rate: LearningRate, momentum: float = 0.0, *, dampening: float = 0.0,
        nesterov: bool = False, weight_decay: float = 0.0) -> optax.GradientTransformation:
    """``torch.optim.SGD``: coupled L2 weight decay, then (heavy-ball) momentum, then -lr.

    PyTorch's momentum buffer is b = momentum * b + g and the step is -lr * b, which is
    Optax's ``trace``. With ``dampening`` d the buffer is b = momentum * b + (1 - d) * g
    after a first b = g (PyTorch's rule; nesterov needs d = 0, as in PyTorch).
    """
    non_negative("momentum", momentum)
    non_negative("dampening", dampening)
    if nesterov and (momentum <= 0 or dampening):
        raise ValueError("nesterov needs momentum > 0 and dampening 0 (as torch.optim.SGD)")
    lr = _learning_rate(learning_rate)
    if dampening and momentum:
        return _decayed(weight_decay, optax.chain(_dampened_trace(momentum, dampening),
                                                  optax.scale_by_learning_rate(lr)))
    return _decayed(weight_decay, optax.sgd(lr, momentum=momentum or None, nesterov=nesterov))


def rmsprop(learning_rate: LearningRate, alpha: float = 0.99, eps: float = 1e-8,
            momentum: float = 0.0, *, centered: bool = False,
            weight_decay: float = 0.0) -> optax.GradientTransformation:
    """``torch.optim.RMSprop(lr, alpha, eps, momentum, centered, weight_decay)``.

    Step -lr * g / (sqrt(v) + eps), or with ``centered`` -lr * g / (sqrt(v - m²) + eps)
    (m the running mean of g). ``alpha`` is PyTorch's smoothing constant (Optax calls it
    ``decay``). PyTorch adds eps outside the square root; Optax's default adds it inside
    (``eps_in_sqrt=True``), so it is switched off here to follow PyTorch.
    """
    non_negative("alpha", alpha)
    non_negative("eps", eps)
    non_negative("momentum", momentum)
    return _decayed(weight_decay, optax.rmsprop(
        _learning_rate(learning_rate), decay=alpha, eps=eps, momentum=momentum or None,
        centered=centered, eps_in_sqrt=False))


def scale_by_torch_amsgrad(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                           ) -> optax.GradientTransformation:
    """PyTorch's AMSGrad direction: m̂ / (sqrt(max_t v_t) / sqrt(1 - b2^t) + eps).

    PyTorch keeps the maximum of the *raw* second moment and corrects it with the current
    step's factor; ``optax.scale_by_amsgrad`` keeps the maximum of the bias-corrected one,
    whose steps are smaller once v̂ falls (after one large early gradient, 40 % smaller
    within three steps). Same state as Optax's (``optax.ScaleByAmsgradState``).
    """
    def init(params):
        zeros = optax.tree.zeros_like(params)
        return optax.ScaleByAmsgradState(jnp.zeros([], jnp.int32), zeros, zeros, zeros)

    def update(grads, state, params=None):
        del params
        mu = optax.tree.update_moment(grads, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(grads, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
        c1, c2 = 1 - b1 ** count, 1 - b2 ** count
        direction = jax.tree.map(lambda m, v: (m / c1) / (jnp.sqrt(v) / jnp.sqrt(c2) + eps),
                                 mu, nu_max)
        return direction, optax.ScaleByAmsgradState(count, mu, nu, nu_max)

    return optax.GradientTransformation(init, update)


def adam(learning_rate: LearningRate, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, *, weight_decay: float = 0.0,
         amsgrad: bool = False) -> optax.GradientTransformation:
    """``torch.optim.Adam(lr, betas=(b1, b2), eps, weight_decay, amsgrad)``.

    ``weight_decay`` is PyTorch's coupled L2 (added to the gradient; see :func:`adamw` for
    the decoupled one). ``amsgrad`` follows PyTorch (:func:`scale_by_torch_amsgrad`), not
    ``optax.amsgrad``.
    """
    _betas(b1, b2, eps)
    lr = _learning_rate(learning_rate)
    tx = (optax.chain(scale_by_torch_amsgrad(b1, b2, eps), optax.scale_by_learning_rate(lr))
          if amsgrad else optax.adam(lr, b1=b1, b2=b2, eps=eps))
    return _decayed(weight_decay, tx)


def adamw(learning_rate: LearningRate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2, *, amsgrad: bool = False) -> optax.GradientTransformation:
    """``torch.optim.AdamW``, with PyTorch's default ``weight_decay`` 1e-2 (Optax's is 1e-4).

    The decay is decoupled: param -= lr * wd * param, outside the Adam ratio.
    ``amsgrad`` as in :func:`adam`.
    """
    _betas(b1, b2, eps)
    non_negative("weight_decay", weight_decay)
    lr = _learning_rate(learning_rate)
    if amsgrad:
        return optax.chain(scale_by_torch_amsgrad(b1, b2, eps),
                           optax.add_decayed_weights(weight_decay),
                           optax.scale_by_learning_rate(lr))
    return optax.adamw(lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


def adagrad(learning_rate: LearningRate = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
            initial_accumulator_value: float = 0.0, eps: float = 1e-10
            ) -> optax.GradientTransformation:
    """``torch.optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)``.

    s += g²; step -lr / (1 + (t - 1)·lr_decay) · g / (sqrt(s) + eps). ``optax.adagrad``
    with PyTorch's defaults (accumulator 0, not 0.1); ``lr_decay`` becomes a schedule.
    One convention is Optax's: eps goes inside the root, g / sqrt(s + eps²) here, which
    differs from PyTorch by under eps (1e-10) relative; a zero accumulator gives a zero step
    in both.
    """
    non_negative("lr_decay", lr_decay)
    non_negative("initial_accumulator_value", initial_accumulator_value)
    lr = _learning_rate(learning_rate)
    if lr_decay:
        base = lr
        lr = (lambda count: base(count) / (1 + count * lr_decay)) if callable(base) else (
            lambda count: base / (1 + count * lr_decay))
    return _decayed(weight_decay, optax.adagrad(
        lr, initial_accumulator_value=initial_accumulator_value, eps=eps * eps))


def clip_grad_norm(max_norm: float) -> optax.GradientTransformation:
    """``torch.nn.utils.clip_grad_norm_(params, max_norm)`` as an Optax step to chain first:
    ``optax.chain(clip_grad_norm(1.0), make("sgd", 0.1))``.

    Rescales the whole gradient pytree to global 2-norm ``max_norm`` when it is larger
    (``optax.clip_by_global_norm``). PyTorch multiplies by max_norm / (norm + 1e-6); Optax
    by max_norm / norm, so a clipped norm is exactly ``max_norm`` here (1e-6 relative).
    """
    return optax.clip_by_global_norm(positive("max_norm", max_norm))


def lbfgs(learning_rate: LearningRate = 1.0, memory_size: int = 10,
          linesearch: bool = True) -> optax.GradientTransformation:
    """``torch.optim.LBFGS(lr=1, history_size=10, line_search_fn="strong_wolfe")``.

    ``optax.lbfgs`` with a zoom (strong-Wolfe) line search; its ``update`` needs the loss,
    the gradient and the objective, which :func:`jaxbasics.train.make_step` passes, so it
    runs through ``train.fit`` like any other optimizer (one L-BFGS iteration per step).
    ``linesearch=False`` takes plain steps of ``learning_rate`` along the L-BFGS direction.
    """
    positive("memory_size", memory_size, integer=True)
    if linesearch:
        return optax.lbfgs(_learning_rate(learning_rate) if learning_rate != 1.0 else None,
                           memory_size=memory_size)
    return optax.lbfgs(_learning_rate(learning_rate), memory_size=memory_size,
                       linesearch=None)


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": lambda learning_rate, momentum=0.9, **kw: sgd(learning_rate, momentum, **kw),
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
    "adagrad": adagrad,
    "lbfgs": lbfgs,
}


def make(name: str, learning_rate: LearningRate, **hyper: Any) -> optax.GradientTransformation:
    """Build the Optax optimizer called ``name`` (see ``OPTIMIZERS``) with PyTorch's defaults.

    >>> tx = make("sgd", 0.01, momentum=0.9)   # torch.optim.SGD(p, lr=0.01, momentum=0.9)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}; "
                         f"got {name!r}")
    return OPTIMIZERS[name](learning_rate, **hyper)


class MinibatchSGDState(NamedTuple):
    """The hand-written SGD keeps no state."""


def minibatch_sgd(learning_rate: float, batch_size: int) -> optax.GradientTransformation:
    """d2l's from-scratch ``sgd``: ``param -= lr * param.grad / batch_size``.

    The d2l loop differentiates the *sum* of the batch's losses, so dividing by the batch
    size makes it a mean. Written out as an Optax ``GradientTransformation`` (an
    ``init``/``update`` pair with no hidden state) to show what ``optax.sgd`` is made of;
    it equals ``optax.sgd(learning_rate / batch_size)``.
    """
    positive("learning_rate", learning_rate)
    positive("batch_size", batch_size, integer=True)

    def init(params):
        del params
        return MinibatchSGDState()

    def update(grads, state, params=None):
        del params
        updates = jax.tree.map(lambda g: -learning_rate * g / batch_size, grads)
        return updates, state

    return optax.GradientTransformation(init, update)
