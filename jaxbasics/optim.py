"""Optimizers: Optax transformations built by name, and the hand-written SGD of d2l.

``make(name, learning_rate, **hyper)`` maps the course's ``torch.optim`` calls onto Optax:

=============================================  ==========================================
PyTorch                                        here
=============================================  ==========================================
``SGD(p, lr)``                                 ``make("sgd", lr)``
``SGD(p, lr, momentum=0.9)``                   ``make("sgd", lr, momentum=0.9)``
``SGD(p, lr, weight_decay=wd)``                ``make("sgd", lr, weight_decay=wd)`` (coupled L2)
``RMSprop(p, lr, alpha=0.99)``                 ``make("rmsprop", lr, alpha=0.99)``
``Adam(p, lr, betas=(0.9, 0.999), eps=1e-8)``  ``make("adam", lr, b1=0.9, b2=0.999, eps=1e-8)``
``AdamW(p, lr, weight_decay=1e-2)``            ``make("adamw", lr, weight_decay=1e-2)``
``LBFGS(p, lr=1, history_size=10)``            ``make("lbfgs", 1.0, memory_size=10)``
=============================================  ==========================================

Defaults follow PyTorch, not Optax, where they differ: AdamW's ``weight_decay`` is 1e-2
(Optax: 1e-4); RMSprop's ``eps`` is 1e-8 (Optax: 1e-8 too, but see the RMSprop note).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import jax
import optax

from jaxbasics._checks import positive

Schedule = Callable[[Any], Any]
LearningRate = Union[float, Schedule]


def _learning_rate(learning_rate: LearningRate) -> LearningRate:
    if callable(learning_rate):
        return learning_rate
    return positive("learning_rate", learning_rate)


def sgd(learning_rate: LearningRate, momentum: float = 0.0, *, nesterov: bool = False,
        weight_decay: float = 0.0) -> optax.GradientTransformation:
    """``torch.optim.SGD``: coupled L2 weight decay, then (heavy-ball) momentum, then -lr.

    PyTorch's momentum buffer is b = momentum * b + g and the step is -lr * b, which is
    Optax's ``trace``; ``dampening`` is 0 as in the course.
    """
    if momentum < 0:
        raise ValueError(f"momentum must be >= 0; got {momentum!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0; got {weight_decay!r}")
    parts = []
    if weight_decay:
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(optax.sgd(_learning_rate(learning_rate), momentum=momentum or None,
                           nesterov=nesterov))
    return optax.chain(*parts)


def rmsprop(learning_rate: LearningRate, alpha: float = 0.99, eps: float = 1e-8,
            momentum: float = 0.0) -> optax.GradientTransformation:
    """``torch.optim.RMSprop(lr, alpha, eps)``: step -lr * g / (sqrt(v) + eps).

    ``alpha`` is PyTorch's smoothing constant (Optax calls it ``decay``). PyTorch adds eps
    outside the square root; Optax's default adds it inside (``eps_in_sqrt=True``), so it is
    switched off here to follow PyTorch.
    """
    return optax.rmsprop(_learning_rate(learning_rate), decay=alpha, eps=eps,
                         momentum=momentum or None, eps_in_sqrt=False)


def adam(learning_rate: LearningRate, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformation:
    """``torch.optim.Adam(lr, betas=(b1, b2), eps)``."""
    return optax.adam(_learning_rate(learning_rate), b1=b1, b2=b2, eps=eps)


def adamw(learning_rate: LearningRate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> optax.GradientTransformation:
    """``torch.optim.AdamW``, with PyTorch's default ``weight_decay`` 1e-2 (Optax's is 1e-4)."""
    return optax.adamw(_learning_rate(learning_rate), b1=b1, b2=b2, eps=eps,
                       weight_decay=weight_decay)


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
