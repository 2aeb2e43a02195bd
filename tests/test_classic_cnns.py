"""The small classic CNNs: shapes, parameter counts, and a brief training run."""

import jax.numpy as jnp
from flax import nnx

from experiments import classic_cnns
from jaxbasics.models import cnns
from jaxbasics.nn import count_params, stateful


def test_resblk_parameters_and_shortcut():
    blk = cnns.ResBlk(16, 32, 2, rngs=nnx.Rngs(0))
    _, params, state = stateful(blk)
    # conv1 3*3*16*32+32, bn1 2*32, conv2 3*3*32*32+32, bn2 2*32, 1x1 shortcut 16*32+32, its bn 2*32
    assert count_params(params) == 4640 + 64 + 9248 + 64 + 544 + 64
    same = cnns.ResBlk(8, 8, rngs=nnx.Rngs(0))
    assert same.extra is None


def test_blocks_shapes():
    x = jnp.ones((2, 14, 14, 16))
    assert cnns.Inception(16, 8, (8, 12), (4, 4), 8, rngs=nnx.Rngs(0))(x).shape == (2, 14, 14, 32)
    block = cnns.DenseBlock(2, 16, 8, rngs=nnx.Rngs(0))
    block.eval()
    assert block(x).shape == (2, 14, 14, 32)
    t = cnns.Transition(32, 16, rngs=nnx.Rngs(0))
    t.eval()
    assert t(jnp.ones((2, 14, 14, 32))).shape == (2, 7, 7, 16)


def test_parameter_counts():
    counts = {n: count_params(stateful(c(rngs=nnx.Rngs(0)))[1]) for n, c in cnns.MODELS.items()}
    # AlexNet: conv 5*5*1*16+16, 3*3*16*32+32, 3*3*32*32+32, fc 288*64+64, 64*10+10
    assert counts["alexnet"] == 416 + 4640 + 9248 + 18496 + 650
    assert counts == {"alexnet": 33450, "vgg": 54458, "googlenet": 8570, "resnet": 73386,
                      "densenet": 7130}


def test_classic_cnns_quick_resnet(tmp_path):
    m = classic_cnns.main(["--quick", "--only", "resnet", "--out", str(tmp_path)])
    assert m["ok"], m["result"]
    assert m["data_source"].startswith("embedded")
    assert m["result"]["resnet"]["test_accuracy"] > 0.35  # chance is 0.1


def test_a_resumed_model_finished_before_reports_no_epoch_time(tmp_path, capsys):
    """Resuming a run whose model had finished trains nothing more: its test accuracy is
    the first run's and its seconds per epoch are None ('-'), not NaN."""
    flags = ["--quick", "--only", "alexnet", "--checkpoint-dir", str(tmp_path / "c")]
    first = classic_cnns.main(flags + ["--out", str(tmp_path / "a")])
    again = classic_cnns.main(flags + ["--out", str(tmp_path / "b"), "--resume"])
    assert first["result"]["alexnet"]["seconds_per_epoch"] > 0
    assert again["result"]["alexnet"]["seconds_per_epoch"] is None
    accuracy = first["result"]["alexnet"]["test_accuracy"]
    assert again["result"]["alexnet"]["test_accuracy"] == accuracy
    assert "trained before this run (resumed)" in capsys.readouterr().out
