"""Tensors as JAX arrays (seed 001 §14-33, seed 002): the whole tensor chapter, each example
printed next to the seed's printed output (the table's reference column) and checked
against it; ``mismatches`` lists any that differ (then the run is NOT OK).

Families: dtypes; creation (from lists/numpy, zeros/ones/full/eye/arange/linspace/logspace,
rand/randn/randint/normal, one permutation shuffling two arrays); indexing and slicing
(steps, negative, ``...``, index_select = ``jnp.take(axis=)``, masked_select = ``x[mask]``,
take); reshape/squeeze/expand_dims/broadcast_to/tile/transpose/permute with the
transpose-then-reshape corruption and its fix; broadcasting; concatenate/stack/split/chunk;
arithmetic; matmul incl. batched and broadcast; pow/sqrt/rsqrt/exp/log; floor/ceil/round/
trunc/frac; clip and gradient clipping by norm; norms; reductions with keepdims;
argmax/argmin and max with an axis; top-k (``lax.top_k``); k-th value (a stable argsort);
comparisons; where; gather (``take_along_axis``); ``.at[].set`` for ``t[i] = v``.

Where today's PyTorch differs from the seed, and what the JAX version follows:
1. ``torch.full([8], 1)`` is now int64 and ``.norm()`` refuses it (the seed printed floats).
   ``jnp.full(8, 1)`` is an integer array too and ``jaxbasics.tensor.norm`` refuses it the
   same way; the norm examples write ``jnp.full(8, 1.0)`` to get the seed's numbers.
2. ``torch.round`` rounds half to even (2.5 -> 2) although the seed says 四舍五入;
   ``jnp.round`` does the same (today's PyTorch). The seed's half-up rounding is shown as
   ``floor(x + 0.5)``.
3. ``chunk(4)`` of a size-6 axis gives 3 chunks of 2 (pieces of ceil(6/4)), while
   ``jnp.array_split(x, 4)`` gives 4 (2, 2, 1, 1). The chapter's ``chunk`` follows PyTorch.
One more: ``b.squeeze(1)`` on a size-32 axis is a silent no-op in PyTorch; ``jnp.squeeze``
raises. Random examples use explicit keys (``jax.random``), so values differ from the seed's;
only their shapes, ranges and statistics are compared there.

Whole programs, not one per primitive: each family's examples are a function of arrays
(``*_examples``) and the whole chapter is one compiled program (:func:`chapter`, with the
keys), fetched once and reported on the host from NumPy; shape-only examples and expected
failures are traced with ``jax.eval_shape``. Run op by op, the chapter compiled 275 small
programs; one program per family and one for the keys made 9 (1.0 s of compiling on a
2-core Zen 4); now it compiles 1.
"""

from __future__ import annotations

import jax

from experiments import _cli
from experiments._tensor_create import (broadcasting, broadcasting_examples, creation_examples,
                                        dtypes_and_creation, indexing, indexing_examples,
                                        reshaping, reshaping_examples)
from experiments._tensor_math import (arithmetic, arithmetic_examples, clipping_and_norms,
                                      clipping_examples, combine_and_split, select,
                                      select_examples, statistics, statistics_examples)

# family: (its examples, a function of the family's key; None where it only shows shapes),
# its report of them. Family i draws from key i of the chapter's split.
FAMILIES = {
    "dtypes and creation": (creation_examples, dtypes_and_creation),
    "indexing": (indexing_examples, indexing),
    "reshaping": (reshaping_examples, reshaping),
    "broadcasting": (broadcasting_examples, broadcasting),
    "cat/stack/split/chunk": (None, combine_and_split),
    "arithmetic, matmul, pow/exp/log, rounding": (arithmetic_examples, arithmetic),
    "clip, gradient clipping, norms": (clipping_examples, clipping_and_norms),
    "where, compare, gather": (select_examples, select),
    "statistics, top-k, k-th value": (statistics_examples, statistics),
}


def chapter(*keys) -> dict:
    """Every family's examples, {family: {example: array}}, from one key per family: traced
    into the one program ``_cli.seeded`` compiles with the keys."""
    return {family: examples(key) for key, (family, (examples, _)) in zip(keys, FAMILIES.items())
            if examples is not None}


def body(args) -> _cli.Outcome:
    out = jax.device_get(_cli.seeded(chapter, args.seed, len(FAMILIES)))
    result, reference = {}, {}
    for family, (_, report) in FAMILIES.items():
        result[family], reference[family] = report(out.get(family))
    mismatches = [f"{family}: {name}" for family, seed in reference.items()
                  for name, printed in seed.items() if result[family][name] != printed]
    # The headline examples under their original names (read by the fundamentals test).
    create, broadcast = result["indexing"], result["broadcasting"]
    old, new = create["x.at[1].set(5): old, new"]
    result.update({"broadcast (4,32,14,14)+(32,14)": broadcast["[4,32,14,14] + [32,14]"],
                   "x after y = x.at[1].set(5)": old, "y": new,
                   "a.reshape(4, 784*3).shape": shapes_of_reshape()})
    result["mismatches"] = mismatches
    return _cli.Outcome(result, reference, not mismatches, data_source="none")


def shapes_of_reshape() -> list[int]:
    """a (4, 3, 28, 28) flattened per image, by tracing."""
    return list(jax.eval_shape(lambda a: a.reshape(4, -1),
                               jax.ShapeDtypeStruct((4, 3, 28, 28), "float32")).shape)


def main(argv=None) -> dict:
    return _cli.run("tensor_basics", __doc__, body, argv)


if __name__ == "__main__":
    main()
