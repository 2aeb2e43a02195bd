"""``jit_once``: ``jax.jit`` for programs that run once per process (initialisers, data).

XLA's CPU backend spends most of a random initialiser's compile time in LLVM's
optimisation passes and its fusion emitters (every ``jax.random`` draw inlines a threefry
hash). A program that runs once does not need them: with ``xla_backend_optimization_level=0``,
LLVM's expensive passes off and the older loop emitters
(``xla_cpu_use_fusion_emitters=False``), LeNet's initialiser compiles 2-4x faster (a
program of two normal draws: 0.17 s with the fusion emitters, 0.09 s without, on a Zen 4),
and its values agree with the op-by-op (eager) computation's to a few units in the last
place (integer draws bit for bit; tests/test_once.py). Programs that run
many times keep the defaults: without the fusion emitters a fused LeNet epoch compiled in
0.8 s instead of 1.3 s but ran 1.4x slower. Other backends keep their defaults.

The quick pipeline also compiles the program's small kernels as one LLVM module
(``xla_cpu_parallel_codegen_split_count=1``) instead of XLA's parts compiled in parallel:
on two cores each part's fixed cost outweighed the parallelism (tensor_basics' arithmetic
examples 0.17 s instead of 0.25 s, its whole chapter 0.83 s of compiling instead of 1.03 s,
medians of four processes each on a 2-core Zen 4).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

CPU_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True,
               "xla_cpu_use_fusion_emitters": False, "xla_cpu_parallel_codegen_split_count": 1}


def jit_once(fun: Callable | None = None, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fun, **jit_kwargs)``, compiled with the cheap pipeline on CPU. Usable as
    ``@jit_once`` or ``@jit_once(static_argnums=...)``. Called with tracers (inside
    another ``jit`` or ``vmap``) it is plain ``fun``, traced into the caller's program."""
    if fun is None:
        return functools.partial(jit_once, **jit_kwargs)
    variants: dict[bool, Callable] = {}

    @functools.wraps(fun)
    def call(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((args, kwargs))):
            return fun(*args, **kwargs)  # inside a caller's jit/vmap: part of its program
        cpu = jax.default_backend() == "cpu"
        if cpu not in variants:
            variants[cpu] = jax.jit(fun, compiler_options=CPU_OPTIONS if cpu else None,
                                    **jit_kwargs)
        return variants[cpu](*args, **kwargs)
    return call
