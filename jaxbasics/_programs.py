"""A step's compiled program: XLA's full pipeline, or the quick one when its work is small.

On the CPU a small model's epoch runs in microseconds to milliseconds while XLA's
optimising pipeline takes a tenth of a second or more to compile it: the d2l regression's
fused 3-epoch run compiled in 0.26 s and ran in 0.38 ms. :func:`jaxbasics._once.jit_once`'s
quick pipeline (backend optimisation off, the older loop emitters) compiled it in 0.17 s
and ran it in 0.63 ms. For a large epoch the trade goes the other way: the LeNet epoch
compiled in 0.74 s instead of 1.34 s but ran 4.3x slower, the ResNet epoch 7.3x, and
every small step pays about 1 µs more (measured on a 2-core Zen 4, jax 0.10.2). How many
epochs a training run will take is not known when its first call compiles, so training
programs take the full pipeline unless their step says otherwise (``quick_compile``).

What runs once per epoch (evaluation, jit mode's shuffle) is chosen: :meth:`Program.run_pass`
lowers the program (JAX caches the trace and the lowering, so the compile that follows
reuses them) and takes XLA's cost analysis of it, which counts a loop's body once (one
batch), times the batches of one pass. A pass estimated under
:data:`QUICK_BELOW_SECONDS` at :data:`FLOPS_PER_SECOND` and :data:`BYTES_PER_SECOND`
compiles quick: LeNet's evaluation of 1,000 digits compiled in 0.2 s instead of 0.34-0.39 s
and ran as fast (its convolutions and matmuls are library calls either way); the MNIST
MLP's in 0.13 s instead of 0.35 s, 7.1 ms a pass instead of 5.3. Other backends always
use their full pipeline.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import jax
import numpy as np

from jaxbasics._once import CPU_OPTIONS

QUICK_BELOW_SECONDS = 0.03
# Deliberately low rates for a small model on one CPU core: an estimate that errs long
# keeps a program that runs many times on the full pipeline.
FLOPS_PER_SECOND = 1e11
BYTES_PER_SECOND = 1e10


def estimated_seconds(lowered: jax.stages.Lowered, repeats: int) -> float:
    """Seconds for ``repeats`` runs of the loop body in ``lowered``, from XLA's cost
    analysis (floating-point operations and bytes accessed of the body counted once)."""
    cost = lowered.cost_analysis() or {}
    if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
        cost = cost[0] if cost else {}
    return repeats * (cost.get("flops", 0.0) / FLOPS_PER_SECOND
                      + cost.get("bytes accessed", 0.0) / BYTES_PER_SECOND)


def signature(tree: Any) -> Hashable:
    """What a compiled program depends on in ``tree``: its structure, each array's shape
    and dtype, and the value of anything that is not an array."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(a), str(a.dtype)) if hasattr(a, "dtype") else a
                          for a in leaves)


class Program:
    """``jax.jit(body, **options)``, compiled by XLA's full pipeline or the quick one.

    quick: True, the quick pipeline (on the CPU); False, the full one; None, the full one
        for :attr:`training` and, in :meth:`run_pass`, chosen per input signature by
        the estimated time of one pass (see the module docstring).
    """

    def __init__(self, body: Callable, quick: bool | None = None, **options: Any):
        self.full = jax.jit(body, **options)
        self._quick = jax.jit(body, compiler_options=CPU_OPTIONS, **options)
        self.quick = quick
        self.chosen: dict[Hashable, str] = {}  # signature -> "quick" or "full"

    @property
    def training(self) -> Callable:
        """The jitted function for a training program: quick only if asked for."""
        return self._pick(bool(self.quick))

    def cache_size(self) -> int:
        """How many executables both pipelines hold (``jax.jit``'s cache sizes)."""
        return self.full._cache_size() + self._quick._cache_size()

    def run_pass(self, repeats: int, signature_of: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one pass (an evaluation, an epoch's shuffle) on ``args``, by the pipeline
        chosen for it: ``repeats`` is how many times the pass runs the program's loop body;
        ``signature_of`` is what the choice depends on (the state and the data), made once
        per signature."""
        if self.quick is not None or jax.default_backend() != "cpu":
            return self._pick(bool(self.quick))(*args, **kwargs)
        sig = (repeats, signature(signature_of))
        if sig not in self.chosen:
            lowered = self.full.trace(*args, **kwargs).lower()
            quick = estimated_seconds(lowered, repeats) < QUICK_BELOW_SECONDS
            self.chosen[sig] = "quick" if quick else "full"
        return self._pick(self.chosen[sig] == "quick")(*args, **kwargs)

    def _pick(self, quick: bool) -> Callable:
        return self._quick if quick and jax.default_backend() == "cpu" else self.full
