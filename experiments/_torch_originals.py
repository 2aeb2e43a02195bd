"""The PyTorch originals of the training loops, as the seeds write them (benchmark only).

Each function builds its data and model, runs the seed's loop (``zero_grad``, ``backward``,
``step``) on the CPU in float32 and returns the final loss. Imported only when ``torch`` is.

From the command line it is the PyTorch side of ``experiments.whole_process``: one whole
process doing the work of a JAX experiment's default run (its data, steps, batch size, the
seed's log lines and the per-epoch test evaluation), ``import torch`` included::

    python -m experiments._torch_originals NAME [--quick] [--seed N] [--json FILE] [--figures DIR]

NAME is one of :data:`PROCESSES`. ``--quick`` does the work of the experiment's ``--quick``
run. ``--figures DIR`` also draws the figures its seed draws, with ``matplotlib.pyplot`` as the
seed does, saved as PNG files in DIR instead of shown (:data:`SEED_FIGURES`: seed 000's line
and its data with the fitted line, d2l 3.2's scatter of the data in seed 003, seed 004's
Himmelblau surface; the MNIST seeds draw none). The digits are the package's embedded
ones, read here with numpy alone (no JAX import).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from jaxbasics._embedded import embedded_split  # NumPy only: no JAX in this process


def _pyplot():
    """matplotlib's pyplot on the Agg backend (the seeds' ``plt``; files, never a window)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _show_as_file(plt, figures: Path, name: str) -> None:
    """The seed's ``plt.show()``, as a file: ``figures/name.png``."""
    figures.mkdir(parents=True, exist_ok=True)
    plt.savefig(figures / f"{name}.png")
    plt.close("all")


def linear_regression(epochs: int, seed: int = 0, log_every: int = 0,
                      figures: Path | None = None) -> float:
    """Seed 000: Linear(1, 1), MSELoss, SGD lr 0.01, full batch (``log_every``: print the
    loss every that many epochs, as the notebook does every 100; ``figures``: draw the
    notebook's two plots there, the line y = 5x + 7 and the data with the fitted line)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.random(256)
    y = x * 5 + 7 + rng.standard_normal(256) / 4
    if figures is not None:
        plt = _pyplot()
        line = np.linspace(0, 20, 500)
        plt.plot(line, 5 * line + 7)
        _show_as_file(plt, figures, "line")
    inputs = torch.from_numpy(x.reshape(-1, 1).astype("float32"))
    labels = torch.from_numpy(y.reshape(-1, 1).astype("float32"))
    model = torch.nn.Linear(1, 1)
    criterion = torch.nn.MSELoss()
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    for i in range(epochs):
        outputs = model(inputs)
        optim.zero_grad()
        loss = criterion(outputs, labels)
        loss.backward()
        optim.step()
        if log_every and (i + 1) % log_every == 0:
            print(f"epoch {i + 1}, loss {loss.item()}")
    if figures is not None:
        predicted = model.forward(inputs).data.numpy()
        plt.plot(inputs.numpy(), labels.numpy(), "go", label="data", alpha=0.3)
        plt.plot(inputs.numpy(), predicted, label="predicted", alpha=1)
        plt.legend()
        _show_as_file(plt, figures, "fit")
    return loss.item()


def himmelblau(steps: int, starts=((0.0, 0.0), (1.0, 0.0), (-4.0, 0.0), (4.0, 0.0)),
               lr: float = 1e-3, log_every: int = 0, figures: Path | None = None) -> float:
    """Seed 004: Adam lr 1e-3 from each start in turn; returns the sum of the final f
    (``log_every``: the seed's ``step, x, f(x)`` line every that many steps; ``figures``:
    draw the seed's surface there first, as it does)."""
    def f(x):
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    if figures is not None:
        plt = _pyplot()
        grid = np.arange(-6, 6, 0.1)
        print("x,y range:", grid.shape, grid.shape)
        X, Y = np.meshgrid(grid, grid)
        print("X,Y maps:", X.shape, Y.shape)
        Z = f([X, Y])
        fig = plt.figure("himmelblau")
        ax = fig.add_subplot(projection="3d")  # the seed's fig.gca(projection='3d')
        ax.plot_surface(X, Y, Z)
        ax.view_init(60, -30)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        _show_as_file(plt, figures, "himmelblau")

    total = 0.0
    for start in starts:
        x_y = torch.tensor(start, requires_grad=True)
        optimizer = torch.optim.Adam([x_y], lr=lr)
        for step in range(steps):
            pred = f(x_y)
            optimizer.zero_grad()
            pred.backward()
            optimizer.step()
            if log_every and step % log_every == 0:
                print(f"step {step}: x = {x_y.tolist()}, f(x) = {pred.item()}")
        total += pred.item()
    return total


def _d2l_data(seed: int):
    g = torch.Generator().manual_seed(seed)
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    x = torch.normal(0, 1, (1000, 2), generator=g)
    y = x @ true_w + true_b + torch.normal(0, 0.01, (1000,), generator=g)
    return x, y.reshape(-1, 1), g


def linreg_scratch(epochs: int, seed: int = 0, report: bool = False,
                   figures: Path | None = None) -> float:
    """d2l 3.2: data_iter, linreg, squared_loss, the hand-written sgd; lr 0.03, batch 10
    (``report``: d2l's ``epoch e, loss l`` line of the mean loss on all the data;
    ``figures``: d2l's scatter of the second feature against the labels, drawn there)."""
    features, labels, g = _d2l_data(seed)
    if figures is not None:
        plt = _pyplot()
        plt.figure(figsize=(3.5, 2.5))  # d2l.set_figsize()
        plt.scatter(features[:, 1].detach().numpy(), labels.detach().numpy(), 1)
        _show_as_file(plt, figures, "data")
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True, generator=g)
    b = torch.zeros(1, requires_grad=True)
    lr, batch_size = 0.03, 10
    for epoch in range(epochs):
        indices = torch.randperm(len(features), generator=g)
        for i in range(0, len(features), batch_size):
            j = indices[i:i + batch_size]
            l = ((features[j] @ w + b - labels[j]) ** 2 / 2).sum()  # noqa: E741
            l.backward()
            with torch.no_grad():
                for param in (w, b):
                    param -= lr * param.grad / batch_size
                    param.grad.zero_()
        if report:
            with torch.no_grad():
                train_l = (features @ w + b - labels) ** 2 / 2
                print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")
    return l.item()  # the last batch's loss, before its update


def linreg_concise(epochs: int, seed: int = 0, report: bool = False) -> float:
    """d2l 3.3: nn.Sequential(nn.Linear(2, 1)), MSELoss, SGD lr 0.03, DataLoader batch 10
    (``report``: d2l's ``epoch e, loss l`` line of the MSE on all the data)."""
    features, labels, g = _d2l_data(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = torch.nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(features, labels),
                                         batch_size=10, shuffle=True)
    for epoch in range(epochs):
        for x, y in loader:
            l = loss(net(x), y)  # noqa: E741
            trainer.zero_grad()
            l.backward()
            trainer.step()
        if report:
            with torch.no_grad():
                print(f"epoch {epoch + 1}, loss {float(loss(net(features), labels)):f}")
    return l.item()  # the last batch's loss, before its update


def _train_classifier(model, optimizer, x, y, batch_size: int, epochs: int, *,
                      loss_fn=None, on_step=None, on_epoch=None) -> float:
    """The seeds' loop: shuffled ``DataLoader`` batches, cross-entropy (or
    ``loss_fn(outputs, target)``), ``zero_grad``, ``backward``, ``step``; returns the last
    batch's loss. ``on_step(epoch, batch_idx, loss)`` after each step and
    ``on_epoch(epoch)`` after each epoch, when given (the seeds' log lines and test)."""
    import torch.nn.functional as F
    loss_fn = loss_fn or F.cross_entropy
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=batch_size, shuffle=True, drop_last=True)
    for epoch in range(epochs):
        for batch_idx, (data, target) in enumerate(loader):
            loss = loss_fn(model(data), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if on_step is not None:
                on_step(epoch, batch_idx, loss)
        if on_epoch is not None:
            on_epoch(epoch)
    return loss.item()


def _evaluate(model, x, y, batch_size: int, loss_fn=None) -> dict[str, float]:
    """Mean per-example loss (cross-entropy, or ``loss_fn(outputs, target)`` per example)
    and accuracy over (x, y), under ``no_grad``, in the seeds' test ``DataLoader`` batches
    (every example once): what ``Step.evaluate`` computes."""
    import torch.nn.functional as F
    loss_fn = loss_fn or (lambda out, t: F.cross_entropy(out, t, reduction="none"))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=batch_size)
    total, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            out = model(data)
            total += float(loss_fn(out, target).sum())
            correct += int((out.argmax(-1) == target).sum())
    return {"loss": total / len(y), "accuracy": correct / len(y)}


_LAST_TEST: dict[str, float] = {}  # the last per-epoch test metrics of a process run

# The seeds' normalisation, as jaxbasics.data.datasets applies it (that module imports JAX).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _embedded_digits(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits of a split, numpy only: images (n, 28, 28, 1) float32
    ((x/255 - 0.1307) / 0.3081) and labels (n,) int32, in class order; the same arrays as
    ``jaxbasics.data.load("mnist", split)``."""
    images, labels = embedded_split(split)
    x = (images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD
    return x[..., None], labels


def _embedded_mnist(split: str = "train", limit: int | None = None, seed: int = 0):
    """The embedded digits as tensors: images (n, 1, 28, 28) float32, labels (n,) int64.
    ``limit``: a random subset of that many, as the experiments' ``--quick`` takes it
    (``np.random.default_rng(seed).permutation(n)[:limit]``, ``experiments._data``)."""
    images, labels = _embedded_digits(split)
    if limit is not None:
        order = np.random.default_rng(seed).permutation(len(labels))[:limit]
        images, labels = images[order], labels[order]
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return x, torch.from_numpy(labels.astype(np.int64))


def _test_set(m: dict[str, float], n: int, show: bool) -> None:
    """Record the epoch's test metrics; print the seeds' ``Test set`` line if ``show``."""
    if show:
        print(f"\nTest set: Average loss: {m['loss']:.4f}, Accuracy: "
              f"{round(m['accuracy'] * n)}/{n} ({100.0 * m['accuracy']:.0f}%)\n")
    _LAST_TEST.clear()
    _LAST_TEST.update(m)


def mnist_mlp(epochs: int, seed: int = 0, *, data=None, test=None, shown=None) -> float:
    """Seeds 001/004: raw w1..w3 (kaiming_normal_), relu between layers (the experiment's
    default: no relu on the logits), SGD lr 0.01, batch 200, shuffled, on the 4,000
    embedded training digits (or ``data`` (x, y)). With ``test`` (x, y): the seed's
    ``Train Epoch`` line every 100 batches and its ``Test set`` line (test batch 200) after
    each epoch; ``shown(epoch)`` picks which epochs print (the test runs every epoch)."""
    import torch.nn.functional as F
    torch.manual_seed(seed)
    x, y = _embedded_mnist() if data is None else data
    x = x.reshape(-1, 784)
    ws = [torch.randn(o, i, requires_grad=True) for i, o in ((784, 200), (200, 200), (200, 10))]
    bs = [torch.zeros(o, requires_grad=True) for o in (200, 200, 10)]
    for w in ws:
        torch.nn.init.kaiming_normal_(w)

    def forward(h):
        for w, b in zip(ws, bs):
            h = h @ w.t() + b
            h = F.relu(h) if w is not ws[-1] else h
        return h

    hooks = {}
    if test is not None:
        x_test, y_test = test[0].reshape(-1, 784), test[1]
        shown = shown or (lambda epoch: True)

        def on_step(epoch, batch_idx, loss):
            if batch_idx % 100 == 0 and shown(epoch):
                print(f"Train Epoch: {epoch} [{batch_idx * 200}/{len(y)} "
                      f"({100.0 * batch_idx * 200 / len(y):.0f}%)]\tLoss: {loss.item():.6f}")

        def on_epoch(epoch):
            _test_set(_evaluate(forward, x_test, y_test, 200), len(y_test), shown(epoch))

        hooks = {"on_step": on_step, "on_epoch": on_epoch}
    return _train_classifier(forward, torch.optim.SGD(ws + bs, lr=0.01), x, y, 200, epochs,
                             **hooks)


def lenet(epochs: int, seed: int = 0, *, data=None, test=None) -> float:
    """Seed 002's LeNet and train loop, SGD lr 0.1, batch 64, on the embedded digits (or
    ``data`` (x, y)). With ``test`` (x, y): the seed's ``loss: l [current/size]`` line every
    100 batches and its ``Test Error`` line (test batch 256) after each epoch."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)
    x, y = _embedded_mnist() if data is None else data

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = (nn.Linear(256, 120), nn.Linear(120, 84),
                                            nn.Linear(84, 10))

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
            x = x.view(-1, 16 * 4 * 4)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    model = LeNet()
    hooks = {}
    if test is not None:
        def on_step(epoch, batch_idx, loss):
            if batch_idx % 100 == 0:
                print(f"loss: {loss.item():>7f} [{batch_idx * 64:>5d}/{len(y):>5d}]")

        def on_epoch(epoch):
            model.eval()
            m = _evaluate(model, *test, 256)
            model.train()
            print(f"Test Error: \n Accuracy: {100 * m['accuracy']:>0.1f}%, "
                  f"Avg loss: {m['loss']:>8f} \n")
            _LAST_TEST.clear()
            _LAST_TEST.update(m)

        hooks = {"on_step": on_step, "on_epoch": on_epoch}
    return _train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y, 64,
                             epochs, **hooks)


def mnist_first(epochs: int, seed: int = 0, *, data=None, test=None, batch_size: int = 512,
                shown=None) -> float:
    """Seed 001 §9-13: Linear 784-256-64-10 (PyTorch's default init), relu on the hidden
    layers, MSE to one-hot labels, SGD lr 0.01 momentum 0.9, batch 512, every step's
    ``loss.item()`` kept (the seed's ``train_loss`` list) and ``epoch, batch_idx, loss``
    printed every 10 batches (of the epochs ``shown`` picks); on the embedded digits (or
    ``data``). With ``test``: evaluated (MSE and accuracy, batch 512) after every epoch, as
    the experiment does."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)
    x, y = _embedded_mnist() if data is None else data
    x = x.reshape(-1, 784)
    shown = shown or (lambda epoch: True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, 256), nn.Linear(256, 64)
            self.fc3 = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = Net()
    train_loss = []

    def mse_one_hot(out, target):
        return F.mse_loss(out, F.one_hot(target, 10).float())

    def on_step(epoch, batch_idx, loss):
        train_loss.append(loss.item())
        if batch_idx % 10 == 0 and shown(epoch):
            print(epoch, batch_idx, train_loss[-1])

    hooks = {"loss_fn": mse_one_hot, "on_step": on_step}
    if test is not None:
        x_test, y_test = test[0].reshape(-1, 784), test[1]

        def per_example(out, target):
            return ((out - F.one_hot(target, 10).float()) ** 2).mean(-1)

        def on_epoch(epoch):
            _test_set(_evaluate(net, x_test, y_test, batch_size, per_example), len(y_test),
                      shown(epoch))

        hooks["on_epoch"] = on_epoch
    return _train_classifier(net, torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9),
                             x, y, batch_size, epochs, **hooks)


def resnet(epochs: int, seed: int = 0, n: int = 2048) -> float:
    """The course's ResBlk network as ``classic_cnns`` builds it (conv-BN-ReLU stem 1->16,
    ResBlk 16->32 /2, ResBlk 32->64 /2, global average, Linear(64, 10)), Adam 3e-3,
    batch 32, on the first ``n`` embedded training digits."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)

    class ResBlk(nn.Module):
        def __init__(self, ch_in, ch_out, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(ch_in, ch_out, 3, stride=stride, padding=1)
            self.bn1 = nn.BatchNorm2d(ch_out)
            self.conv2 = nn.Conv2d(ch_out, ch_out, 3, stride=1, padding=1)
            self.bn2 = nn.BatchNorm2d(ch_out)
            self.extra = nn.Sequential()
            if ch_in != ch_out or stride != 1:
                self.extra = nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride=stride),
                                           nn.BatchNorm2d(ch_out))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.extra(x))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16),
                                      nn.ReLU())
            self.blk1, self.blk2 = ResBlk(16, 32, 2), ResBlk(32, 64, 2)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.blk2(self.blk1(self.stem(x)))
            return self.fc(x.mean(dim=(2, 3)))

    return _train_classic(ResNet(), epochs, n)


def _train_classic(model, epochs: int, n: int) -> float:
    """``classic_cnns``' loop: Adam 3e-3, batch 32, on the first ``n`` embedded digits."""
    x, y = _embedded_mnist()
    model.train()
    return _train_classifier(model, torch.optim.Adam(model.parameters(), lr=3e-3), x[:n],
                             y[:n], 32, epochs)


def googlenet(epochs: int, seed: int = 0, n: int = 2048) -> float:
    """``classic_cnns``' GoogLeNet: conv 1->16 3x3, ReLU, pool 2, Inception (-> 32), pool 2,
    Inception (-> 64), global average, Linear(64, 10); Adam 3e-3, batch 32, ``n`` digits."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)

    def conv(cin, cout, k):
        return nn.Conv2d(cin, cout, k, padding=k // 2)

    class Inception(nn.Module):
        def __init__(self, cin, c1, c2, c3, c4):
            super().__init__()
            self.p1 = conv(cin, c1, 1)
            self.p2a, self.p2b = conv(cin, c2[0], 1), conv(c2[0], c2[1], 3)
            self.p3a, self.p3b = conv(cin, c3[0], 1), conv(c3[0], c3[1], 5)
            self.p4 = conv(cin, c4, 1)

        def forward(self, x):
            p1 = F.relu(self.p1(x))
            p2 = F.relu(self.p2b(F.relu(self.p2a(x))))
            p3 = F.relu(self.p3b(F.relu(self.p3a(x))))
            p4 = F.relu(self.p4(F.max_pool2d(x, 3, 1, 1)))
            return torch.cat([p1, p2, p3, p4], dim=1)

    class GoogLeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = conv(1, 16, 3)
            self.i1 = Inception(16, 8, (8, 12), (4, 4), 8)
            self.i2 = Inception(32, 16, (16, 24), (4, 8), 16)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.stem(x)), 2)
            x = F.max_pool2d(self.i1(x), 2)
            return self.fc(self.i2(x).mean(dim=(2, 3)))

    return _train_classic(GoogLeNet(), epochs, n)


def densenet(epochs: int, seed: int = 0, n: int = 2048) -> float:
    """``classic_cnns``' DenseNet: conv 1->16 3x3, BN, ReLU, pool 2, dense block (2 BN-ReLU-
    conv 3x3 layers, growth 8), transition (BN-ReLU-conv 1x1 32->16, average pool 2), dense
    block, BN, ReLU, global average, Linear(32, 10); Adam 3e-3, batch 32, ``n`` digits."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, cin, growth):
            super().__init__()
            self.bns = nn.ModuleList([nn.BatchNorm2d(cin + i * growth) for i in range(num_convs)])
            self.convs = nn.ModuleList([nn.Conv2d(cin + i * growth, growth, 3, padding=1)
                                        for i in range(num_convs)])

        def forward(self, x):
            for bn, conv in zip(self.bns, self.convs):
                x = torch.cat([x, conv(F.relu(bn(x)))], dim=1)
            return x

    class DenseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.bn0 = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)
            self.d1, self.d2 = DenseBlock(2, 16, 8), DenseBlock(2, 16, 8)
            self.t_bn, self.t_conv = nn.BatchNorm2d(32), nn.Conv2d(32, 16, 1)
            self.bn, self.fc = nn.BatchNorm2d(32), nn.Linear(32, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn0(self.stem(x))), 2)
            x = F.avg_pool2d(self.t_conv(F.relu(self.t_bn(self.d1(x)))), 2)
            return self.fc(F.relu(self.bn(self.d2(x))).mean(dim=(2, 3)))

    return _train_classic(DenseNet(), epochs, n)


# --- the command line: one JAX experiment's default run as a PyTorch process -------------

QUICK_TRAIN, QUICK_TEST = 1000, 500  # experiments._data's --quick slices


def _shown(epoch: int, epochs: int) -> bool:
    """experiments._logs.shown: ten printed epochs per run, the last always."""
    return (epoch + 1) % max(1, epochs // 10) == 0 or epoch + 1 == epochs


def _seed_epochs(seed_epochs: int, batch_size: int, n_train: int) -> int:
    """experiments._data.seed_epochs: as many steps as ``seed_epochs`` over 60,000 images."""
    steps = seed_epochs * (60_000 // batch_size)
    return max(1, round(steps / max(1, n_train // batch_size)))


def _digits(quick: bool, seed: int):
    """(train, test) as the MNIST experiments' default (or --quick) run reads them."""
    limits = (QUICK_TRAIN, QUICK_TEST) if quick else (None, None)
    return (_embedded_mnist("train", limits[0], seed), _embedded_mnist("test", limits[1], seed))


def _run_linear_regression(quick: bool, seed: int, figures: Path | None) -> dict:
    return {"final_loss": linear_regression(3000, seed, log_every=100, figures=figures),
            "epochs": 3000}


def _run_linreg_scratch(quick: bool, seed: int, figures: Path | None) -> dict:
    return {"last_batch_loss": linreg_scratch(3, seed, report=True, figures=figures),
            "epochs": 3}


def _run_linreg_concise(quick: bool, seed: int, figures: Path | None) -> dict:
    return {"last_batch_loss": linreg_concise(3, seed, report=True), "epochs": 3}


def _run_himmelblau(quick: bool, seed: int, figures: Path | None) -> dict:
    steps, lr, every = (3000, 1e-2, 500) if quick else (20000, 1e-3, 2000)
    return {"sum_f": himmelblau(steps, lr=lr, log_every=every, figures=figures),
            "steps": steps, "starts": 4}


def _run_mnist_first(quick: bool, seed: int, figures: Path | None) -> dict:
    train, test = _digits(quick, seed)
    batch_size = 128 if quick else 512
    epochs = 3 if quick else _seed_epochs(3, batch_size, len(train[1]))
    loss = mnist_first(epochs, seed, data=train, test=test, batch_size=batch_size,
                       shown=lambda e: _shown(e, epochs))
    print("test acc:", _LAST_TEST["accuracy"])
    return {"final_train_mse": loss, "test_accuracy": _LAST_TEST["accuracy"], "epochs": epochs,
            "batch_size": batch_size}


def _run_mnist_mlp(quick: bool, seed: int, figures: Path | None) -> dict:
    train, test = _digits(quick, seed)
    epochs = 10 if quick else _seed_epochs(10, 200, len(train[1]))
    loss = mnist_mlp(epochs, seed, data=train, test=test, shown=lambda e: _shown(e, epochs))
    return {"final_train_loss": loss, "test_accuracy": _LAST_TEST["accuracy"],
            "test_loss": _LAST_TEST["loss"], "epochs": epochs}


def _run_lenet(quick: bool, seed: int, figures: Path | None) -> dict:
    train, test = _digits(quick, seed)
    epochs = 3 if quick else 10
    loss = lenet(epochs, seed, data=train, test=test)
    return {"final_train_loss": loss, "test_accuracy": _LAST_TEST["accuracy"],
            "test_loss": _LAST_TEST["loss"], "epochs": epochs}


# experiment name -> fn(quick, seed, figures) -> result dict: the work of its default (--quick)
# run, and the seed's figures drawn in ``figures`` (a directory) unless it is None.
PROCESSES = {
    "linear_regression": _run_linear_regression,
    "linreg_scratch": _run_linreg_scratch,
    "linreg_concise": _run_linreg_concise,
    "himmelblau": _run_himmelblau,
    "mnist_first": _run_mnist_first,
    "mnist_mlp": _run_mnist_mlp,
    "lenet": _run_lenet,
}
SEED_FIGURES = ("linear_regression", "linreg_scratch", "himmelblau")  # the originals that draw


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(PROCESSES), help="the JAX experiment to match")
    p.add_argument("--quick", action="store_true", help="the work of its --quick run")
    p.add_argument("--seed", type=int, default=0, help="default %(default)s")
    p.add_argument("--json", type=Path, default=None,
                   help="write {experiment, quick, seconds, result, torch} here")
    p.add_argument("--figures", type=Path, default=None, metavar="DIR",
                   help="draw the figures the seed draws (%s) as PNG files in DIR"
                        % ", ".join(SEED_FIGURES))
    args = p.parse_args(argv)
    start = time.perf_counter()
    result = PROCESSES[args.name](args.quick, args.seed, args.figures)
    seconds = time.perf_counter() - start
    out = {"experiment": args.name, "quick": args.quick, "seconds": round(seconds, 4),
           "result": result, "torch": torch.__version__, "threads": torch.get_num_threads()}
    print(f"\n== PyTorch {args.name}{' (quick)' if args.quick else ''}: {seconds:.2f} s; "
          + "; ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in result.items()))
    if args.json is not None:
        args.json.write_text(json.dumps(out) + "\n")
    return out


if __name__ == "__main__":
    main()
