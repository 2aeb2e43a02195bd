"""tensor_basics: every family of the catalogue row is shown, each printed result equals the
seed's printed output, and the three places today's PyTorch differs from the seed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from _compiles import count_compiles
from experiments import _tensor_math, tensor_basics


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    return tensor_basics.main(["--quick", "--out", str(tmp_path_factory.mktemp("tb"))])


# The keys and every family in one program (issue 10: whole programs only); op by op,
# the chapter compiled 275.
MAX_COMPILES = 1


def test_whole_programs_only(tmp_path):
    jax.clear_caches()  # count from cold, whichever test ran the experiment first
    with count_compiles() as compiled:
        tensor_basics.main(["--quick", "--out", str(tmp_path)])
    assert 0 < compiled.count <= MAX_COMPILES, compiled.names


def test_every_printed_seed_output_matches(metrics):
    assert metrics["ok"] and metrics["result"]["mismatches"] == []
    compared = sum(len(v) for v in metrics["reference"].values())
    assert compared >= 100  # each one compared in body(); none left out
    for family, seed in metrics["reference"].items():
        for name, printed in seed.items():
            assert metrics["result"][family][name] == printed, (family, name)


# The catalogue row's families, each with a word that must appear in a result's name.
FAMILIES = ["dtype", "from numpy", "full", "eye", "arange", "linspace", "logspace", "rand",
            "randint", "normal", "randperm", "::2", "-1:", "...", "index_select", "masked_select",
            "take(", "view", "squeeze", "unsqueeze", "expand", "repeat", "transpose", "permute",
            "eq(a, a1)", "broadcast", "cat(", "stack(", "split(", "chunk(", "add(", "@", "pow",
            "sqrt", "rsqrt", "exp", "log", "floor", "ceil", "round", "trunc", "frac", "clamp",
            "clip_grad_norm", "norm(", "keepdim", "prod", "argmax", "argmin", "max(dim=1)",
            "topk", "kthvalue", "a > 2", "where", "gather"]


def test_every_family_of_the_catalogue_row_is_shown(metrics):
    names = " ".join(k for fam in metrics["result"].values() if isinstance(fam, dict) for k in fam)
    missing = [f for f in FAMILIES if f not in names]
    assert not missing


def test_the_three_differences_from_the_seed(metrics):
    r = metrics["result"]
    # 1. full([8], 1) is integer (int32 here, int64 in torch) and norm refuses it
    assert r["dtypes and creation"]["full([8], 1).dtype"].startswith("int")
    assert r["broadcasting"]["norm(full(8, 1)) (integer)"] == "error"
    # 2. round is half to even; the seed's 四舍五入 is floor(x + 0.5)
    x = np.array([0.5, 1.5, 2.5, 3.4999, 3.5, -2.5])
    assert r["arithmetic, matmul, pow/exp/log, rounding"]["round (half to even)"] == np.round(x).tolist()
    assert r["arithmetic, matmul, pow/exp/log, rounding"]["floor(x + 0.5) (the seed's 四舍五入)"] == \
        np.floor(x + 0.5).tolist()
    # 3. chunk(4) of 6 gives 3 chunks (torch); array_split gives 4
    c = r["cat/stack/split/chunk"]
    assert c["s.chunk(4) (torch rule)"] == [2, 2, 2]
    assert c["array_split(s, 4) (numpy rule)"] == [2, 2, 1, 1]
    doc = tensor_basics.__doc__
    assert "int64" in doc and "half to even" in doc and "3 chunks" in doc


@pytest.mark.parametrize("n, k", [(6, 4), (6, 2), (7, 3), (5, 5), (10, 4), (3, 5)])
def test_chunk_follows_torch(n, k):
    got = [int(p.shape[0]) for p in _tensor_math.chunk(jnp.arange(n), k)]
    size = -(-n // k)
    assert got == [min(size, n - i) for i in range(0, n, size)]
    torch = pytest.importorskip("torch")
    assert got == [len(p) for p in torch.arange(n).chunk(k)]


def test_seed_topk_kthvalue_against_torch():
    torch = pytest.importorskip("torch")
    t = torch.tensor(np.asarray(_tensor_math.SEED_A))
    v, i = jax.lax.top_k(_tensor_math.SEED_A, 3)
    np.testing.assert_allclose(v, t.topk(3, dim=1).values.numpy())
    np.testing.assert_array_equal(i, t.topk(3, dim=1).indices.numpy())
    kv = t.kthvalue(3, dim=1)
    order = jnp.argsort(_tensor_math.SEED_A, axis=1, stable=True)
    np.testing.assert_array_equal(order[:, 2], kv.indices.numpy())
    assert torch.round(torch.tensor([0.5, 1.5, 2.5])).tolist() == [0.0, 2.0, 2.0]
    assert torch.full([8], 1).dtype == torch.int64


def test_legacy_keys_kept(metrics):
    r = metrics["result"]
    assert r["broadcast (4,32,14,14)+(32,14)"] == "error" and r["y"] == [0.0, 5.0, 0.0]
    assert r["a.reshape(4, 784*3).shape"] == [4, 2352]
