"""Small classic CNNs for 28×28 single-channel inputs, as Flax NNX modules.

Every model maps x (n, 28, 28, 1) float32 NHWC to logits (n, 10) float32. Batch-norm
layers use Flax ``momentum=0.9`` (PyTorch's ``momentum=0.1``); train them through
``jaxbasics.nn.stateful`` so their running statistics live in the engine's
``TrainState.model_state`` and ``train=`` is explicit in every call. Widths are scaled
down from the papers so that a CPU trains each in seconds.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jaxbasics.conv import avg_pool2d, conv_general_dilated, max_pool2d


def _conv(cin, cout, k, rngs, stride=1, padding=None):
    return nnx.Conv(cin, cout, (k, k), strides=stride,
                    padding=k // 2 if padding is None else padding, rngs=rngs,
                    conv_general_dilated=conv_general_dilated)


def _bn(c, rngs):
    return nnx.BatchNorm(c, momentum=0.9, epsilon=1e-5, rngs=rngs)


def _flatten(x):
    return x.reshape(x.shape[0], -1)


def _global_avg(x):
    return jnp.mean(x, axis=(1, 2))


class AlexNet(nnx.Module):
    """AlexNet's shape in miniature: 3 conv + ReLU + max-pool stages, two dense layers."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.c1, self.c2, self.c3 = _conv(1, 16, 5, rngs), _conv(16, 32, 3, rngs), _conv(32, 32, 3, rngs)
        self.fc1, self.fc2 = nnx.Linear(32 * 3 * 3, 64, rngs=rngs), nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        x = max_pool2d(nnx.relu(self.c1(x)), 2)          # (n, 14, 14, 16)
        x = max_pool2d(nnx.relu(self.c2(x)), 2)          # (n, 7, 7, 32)
        x = max_pool2d(nnx.relu(self.c3(x)), 2)          # (n, 3, 3, 32)
        return self.fc2(nnx.relu(self.fc1(_flatten(x))))


class VGG(nnx.Module):
    """VGG blocks ((1 conv, 8 ch), (2 conv, 16 ch)), each 3×3 convs + ReLU then 2×2 max-pool."""

    def __init__(self, *, rngs: nnx.Rngs, arch=((1, 8), (2, 16))):
        convs, cin = [], 1
        for num, cout in arch:
            convs.append(nnx.List([_conv(cin if i == 0 else cout, cout, 3, rngs) for i in range(num)]))
            cin = cout
        self.blocks = nnx.List(convs)
        side = 28 // 2 ** len(arch)
        self.fc1, self.fc2 = nnx.Linear(cin * side * side, 64, rngs=rngs), nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        for block in self.blocks:
            for conv in block:
                x = nnx.relu(conv(x))
            x = max_pool2d(x, 2)
        return self.fc2(nnx.relu(self.fc1(_flatten(x))))


class Inception(nnx.Module):
    """GoogLeNet's Inception block: 1×1 | 1×1→3×3 | 1×1→5×5 | 3×3 max-pool→1×1, concatenated.

    (n, h, w, cin) -> (n, h, w, c1 + c2[1] + c3[1] + c4)."""

    def __init__(self, cin, c1, c2, c3, c4, *, rngs: nnx.Rngs):
        self.p1 = _conv(cin, c1, 1, rngs)
        self.p2a, self.p2b = _conv(cin, c2[0], 1, rngs), _conv(c2[0], c2[1], 3, rngs)
        self.p3a, self.p3b = _conv(cin, c3[0], 1, rngs), _conv(c3[0], c3[1], 5, rngs)
        self.p4 = _conv(cin, c4, 1, rngs)

    def __call__(self, x):
        p1 = nnx.relu(self.p1(x))
        p2 = nnx.relu(self.p2b(nnx.relu(self.p2a(x))))
        p3 = nnx.relu(self.p3b(nnx.relu(self.p3a(x))))
        p4 = nnx.relu(self.p4(max_pool2d(x, 3, 1, 1)))
        return jnp.concatenate([p1, p2, p3, p4], axis=-1)


class GoogLeNet(nnx.Module):
    """Stem conv + pool, two Inception blocks with a pool between, global average, Linear."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.stem = _conv(1, 16, 3, rngs)
        self.i1 = Inception(16, 8, (8, 12), (4, 4), 8, rngs=rngs)     # -> 32 channels
        self.i2 = Inception(32, 16, (16, 24), (4, 8), 16, rngs=rngs)  # -> 64 channels
        self.fc = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        x = max_pool2d(nnx.relu(self.stem(x)), 2)   # (n, 14, 14, 16)
        x = max_pool2d(self.i1(x), 2)               # (n, 7, 7, 32)
        return self.fc(_global_avg(self.i2(x)))


class ResBlk(nnx.Module):
    """The course's ResBlk: conv3×3(stride)-BN-ReLU-conv3×3-BN, plus the input, then ReLU;
    the shortcut is a 1×1 conv (stride) + BN when channels (or the stride) change."""

    def __init__(self, ch_in, ch_out, stride=1, *, rngs: nnx.Rngs):
        self.conv1, self.bn1 = _conv(ch_in, ch_out, 3, rngs, stride), _bn(ch_out, rngs)
        self.conv2, self.bn2 = _conv(ch_out, ch_out, 3, rngs), _bn(ch_out, rngs)
        if ch_in != ch_out or stride != 1:
            self.extra = nnx.Sequential(_conv(ch_in, ch_out, 1, rngs, stride, padding=0),
                                        _bn(ch_out, rngs))
        else:
            self.extra = None

    def __call__(self, x):
        out = nnx.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return nnx.relu(out + (x if self.extra is None else self.extra(x)))


class ResNet(nnx.Module):
    """Conv-BN-ReLU stem, ResBlk(16→32, /2), ResBlk(32→64, /2), global average, Linear."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.stem, self.bn = _conv(1, 16, 3, rngs), _bn(16, rngs)
        self.blk1, self.blk2 = ResBlk(16, 32, 2, rngs=rngs), ResBlk(32, 64, 2, rngs=rngs)
        self.fc = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.bn(self.stem(x)))          # (n, 28, 28, 16)
        x = self.blk2(self.blk1(x))                  # (n, 7, 7, 64)
        return self.fc(_global_avg(x))


class DenseBlock(nnx.Module):
    """``num_convs`` BN-ReLU-conv3×3 layers, each adding ``growth`` channels by concatenation:
    (n, h, w, cin) -> (n, h, w, cin + num_convs * growth)."""

    def __init__(self, num_convs, cin, growth, *, rngs: nnx.Rngs):
        self.bns = nnx.List([_bn(cin + i * growth, rngs) for i in range(num_convs)])
        self.convs = nnx.List([_conv(cin + i * growth, growth, 3, rngs) for i in range(num_convs)])

    def __call__(self, x):
        for bn, conv in zip(self.bns, self.convs):
            x = jnp.concatenate([x, conv(nnx.relu(bn(x)))], axis=-1)
        return x


class Transition(nnx.Module):
    """DenseNet's transition: BN-ReLU-conv1×1 (cin -> cout) then 2×2 average pool."""

    def __init__(self, cin, cout, *, rngs: nnx.Rngs):
        self.bn, self.conv = _bn(cin, rngs), _conv(cin, cout, 1, rngs, padding=0)

    def __call__(self, x):
        return avg_pool2d(self.conv(nnx.relu(self.bn(x))), 2)


class DenseNet(nnx.Module):
    """Stem conv + pool, dense block, transition, dense block, BN-ReLU, global average, Linear."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.stem, self.bn0 = _conv(1, 16, 3, rngs), _bn(16, rngs)
        self.d1, self.t1 = DenseBlock(2, 16, 8, rngs=rngs), Transition(32, 16, rngs=rngs)
        self.d2 = DenseBlock(2, 16, 8, rngs=rngs)
        self.bn, self.fc = _bn(32, rngs), nnx.Linear(32, 10, rngs=rngs)

    def __call__(self, x):
        x = max_pool2d(nnx.relu(self.bn0(self.stem(x))), 2)   # (n, 14, 14, 16)
        x = self.t1(self.d1(x))                               # (n, 7, 7, 16)
        return self.fc(_global_avg(nnx.relu(self.bn(self.d2(x)))))


MODELS = {"alexnet": AlexNet, "vgg": VGG, "googlenet": GoogLeNet, "resnet": ResNet,
          "densenet": DenseNet}
