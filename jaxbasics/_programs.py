"""A step's compiled program: XLA's full pipeline, or the quick one when its work is small.

On the CPU a small model's epoch runs in microseconds to milliseconds while XLA's
optimising pipeline takes a tenth of a second or more to compile it: the d2l regression's
fused 3-epoch run compiled in 0.26 s and ran in 0.38 ms. :func:`jaxbasics._once.jit_once`'s
quick pipeline (backend optimisation off, the older loop emitters) compiled it in 0.17 s
and ran it in 0.63 ms. For a large epoch the trade goes the other way: the LeNet epoch
compiled in 0.74 s instead of 1.34 s but ran 4.3x slower, the ResNet epoch 7.3x, and
every small step pays about 1 µs more (measured on a 2-core Zen 4, jax 0.10.2).

So each program is chosen by the work it is called for (:meth:`Program.choose`): the
caller says how many times the program's loop body will run (a fit's steps to its end, an
evaluation's batches). The program is lowered once per input signature (JAX caches the
trace and the lowering, so the compile that follows reuses them) and XLA's cost analysis
of it, which counts a loop's body once, gives the seconds of one body at
:data:`FLOPS_PER_SECOND` and :data:`BYTES_PER_SECOND`. Work times that under
:data:`QUICK_BELOW_SECONDS` (of the pipeline that would otherwise compile it) compiles
quick; more work takes the full pipeline for training and the middle one (LLVM at level
1, the older loop emitters) for an evaluation, a
forward pass that it compiles 2-3x faster and runs within 0.9-1.2x of the full pipeline's
time (1,000 digits: the MNIST MLP 0.19 s instead of 0.33 s to compile, 3.1 ms a pass
instead of 2.7; LeNet 0.20 / 0.53 s, 15.6 / 13.3 ms; ResNet 0.43 / 1.18 s, 222 / 246 ms;
GoogLeNet 0.30 / 0.90 s, 103 / 100 ms). Training stays on the full pipeline: the middle
one compiled the fused epochs of the five classic CNNs, LeNet and the MLP 0.15-1.5 s
faster but ran LeNet's epoch 1.35x and GoogLeNet's 1.5x slower. An evaluation saves less
by the middle pipeline than training does by the full one, so its bound is higher: the
MNIST MLP's evaluation of 3,200 digits (estimated 0.031 s) compiled in 0.12-0.13 s quick
against 0.26-0.28 s middle and ran in 16-21 ms against 11-16 ms; the classic CNNs' (1,000
digits, estimated 0.19-0.78 s) ran 1.4-2x slower quick, which their 0.1-0.3 s of compiling
saved did not repay, so they stay on the middle pipeline.

Measured choices in the default catalogue: the hand-backprop MLP's 500 full-batch steps
(estimated 12-24 ms), the optimizer comparison's 2,000-step runs (2-13 ms) and the d2l
regressions' 300 steps (24 ms) compile quick; seed 000's 3,000 regression epochs (71 ms),
the MNIST MLP's 3,000 steps (12 s) and LeNet's 620 (7 s) take the full pipeline. The
estimates err long for large models (LeNet's 620 steps run in about 2 s). A later call
with more work moves up (one more compilation); the same work again compiles nothing.
Other backends always use their full pipeline (measured on a 2-core Zen 4, jax 0.10.2).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import jax

from jaxbasics._once import CPU_OPTIONS

# XLA's CPU options of each pipeline: "quick" is jit_once's; "middle" keeps LLVM's
# passes at level 1 and the older loop emitters (see the module docstring).
PIPELINES = {"full": None, "middle": {"xla_backend_optimization_level": 1,
                                       "xla_cpu_use_fusion_emitters": False},
             "quick": CPU_OPTIONS}

# Estimated seconds of work below which a program compiles quick, by the pipeline it would
# otherwise take (see the module docstring).
QUICK_BELOW_SECONDS = {"full": 0.03, "middle": 0.1}
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
    # shape and dtype objects as they are: hashing them is 8x faster than their strings (a
    # fit's signature of 9 leaves: 4 us instead of 36, on a Zen 4), and a fit computes one
    # per call
    return treedef, tuple((a.shape, a.dtype) if hasattr(a, "dtype") else a for a in leaves)


class Program:
    """``jax.jit(body, **options)``, compiled by one of XLA's :data:`PIPELINES` on the CPU.

    quick: True, the quick pipeline; False, the full one; None, chosen per input
        signature by :meth:`choose`: the quick pipeline for small work, else ``large``.
    large: the pipeline for work that is not small: ``"full"`` (training) or
        ``"middle"`` (a forward pass: evaluation).
    """

    def __init__(self, body: Callable, quick: bool | None = None, *, large: str = "full",
                 **options: Any):
        self.quick = quick
        self.large = large
        self.jitted = {name: jax.jit(body, compiler_options=cpu, **options)
                       for name, cpu in PIPELINES.items()}
        self.costs: dict[Hashable, float] = {}  # signature -> estimated seconds per body run

    def cache_size(self) -> int:
        """How many executables all pipelines hold (``jax.jit``'s cache sizes)."""
        return sum(f._cache_size() for f in self.jitted.values())

    def run(self, work: int, signature_of: Any, *args: Any, **kwargs: Any) -> Any:
        """``self.choose(work, signature_of, *args, **kwargs)(*args, **kwargs)``."""
        return self.choose(work, signature_of, *args, **kwargs)(*args, **kwargs)

    def choose(self, work: int, signature_of: Any, *args: Any, **kwargs: Any) -> Callable:
        """The jitted function to run on ``args``: ``work`` is how many times the caller
        will run the program's loop body in all (an evaluation's batches, a fit's steps);
        ``signature_of`` is what the estimate depends on (the state and the data). The
        program is lowered and its cost analysed once per signature; each call then
        compares ``work`` times that cost with :data:`QUICK_BELOW_SECONDS`, so the same
        work again compiles nothing and far more work moves up to the full pipeline."""
        if jax.default_backend() != "cpu":
            return self.jitted["full"]
        if self.quick is not None:
            return self.jitted["quick" if self.quick else "full"]
        sig = signature(signature_of)
        if sig not in self.costs:
            self.costs[sig] = estimated_seconds(
                self.jitted["full"].trace(*args, **kwargs).lower(), 1)
        small = work * self.costs[sig] < QUICK_BELOW_SECONDS[self.large]
        return self.jitted["quick" if small else self.large]
