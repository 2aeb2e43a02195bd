"""The PyTorch originals of the training loops, as the seeds write them (benchmark only).

Each function builds its data and model, runs the seed's loop (``zero_grad``, ``backward``,
``step``) on the CPU in float32 and returns the final loss. Imported only when ``torch`` is.
"""

from __future__ import annotations

import numpy as np
import torch


def linear_regression(epochs: int, seed: int = 0) -> float:
    """Seed 000: Linear(1, 1), MSELoss, SGD lr 0.01, full batch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.random(256)
    y = x * 5 + 7 + rng.standard_normal(256) / 4
    inputs = torch.from_numpy(x.reshape(-1, 1).astype("float32"))
    labels = torch.from_numpy(y.reshape(-1, 1).astype("float32"))
    model = torch.nn.Linear(1, 1)
    criterion = torch.nn.MSELoss()
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(epochs):
        outputs = model(inputs)
        optim.zero_grad()
        loss = criterion(outputs, labels)
        loss.backward()
        optim.step()
    return loss.item()


def himmelblau(steps: int, starts=((0.0, 0.0), (1.0, 0.0), (-4.0, 0.0), (4.0, 0.0))) -> float:
    """Seed 004: Adam lr 1e-3 from each start in turn; returns the sum of the final f."""
    def f(x):
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    total = 0.0
    for start in starts:
        x_y = torch.tensor(start, requires_grad=True)
        optimizer = torch.optim.Adam([x_y], lr=1e-3)
        for _ in range(steps):
            pred = f(x_y)
            optimizer.zero_grad()
            pred.backward()
            optimizer.step()
        total += pred.item()
    return total


def _d2l_data(seed: int):
    g = torch.Generator().manual_seed(seed)
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    x = torch.normal(0, 1, (1000, 2), generator=g)
    y = x @ true_w + true_b + torch.normal(0, 0.01, (1000,), generator=g)
    return x, y.reshape(-1, 1), g


def linreg_scratch(epochs: int, seed: int = 0) -> float:
    """d2l 3.2: data_iter, linreg, squared_loss, the hand-written sgd; lr 0.03, batch 10."""
    features, labels, g = _d2l_data(seed)
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True, generator=g)
    b = torch.zeros(1, requires_grad=True)
    lr, batch_size = 0.03, 10
    for _ in range(epochs):
        indices = torch.randperm(len(features), generator=g)
        for i in range(0, len(features), batch_size):
            j = indices[i:i + batch_size]
            l = ((features[j] @ w + b - labels[j]) ** 2 / 2).sum()  # noqa: E741
            l.backward()
            with torch.no_grad():
                for param in (w, b):
                    param -= lr * param.grad / batch_size
                    param.grad.zero_()
    return l.item()  # the last batch's loss, before its update


def linreg_concise(epochs: int, seed: int = 0) -> float:
    """d2l 3.3: nn.Sequential(nn.Linear(2, 1)), MSELoss, SGD lr 0.03, DataLoader batch 10."""
    features, labels, g = _d2l_data(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = torch.nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(features, labels),
                                         batch_size=10, shuffle=True)
    for _ in range(epochs):
        for x, y in loader:
            l = loss(net(x), y)  # noqa: E741
            trainer.zero_grad()
            l.backward()
            trainer.step()
    return l.item()  # the last batch's loss, before its update


def _train_classifier(model, optimizer, x, y, batch_size: int, epochs: int) -> float:
    """The seeds' loop: shuffled ``DataLoader`` batches, cross-entropy, ``zero_grad``,
    ``backward``, ``step``; returns the last batch's loss."""
    import torch.nn.functional as F
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=batch_size, shuffle=True, drop_last=True)
    for _ in range(epochs):
        for data, target in loader:
            loss = F.cross_entropy(model(data), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()


def _embedded_mnist():
    from jaxbasics.data import load
    ds = load("mnist", "train")
    x = torch.from_numpy(np.ascontiguousarray(ds.images.transpose(0, 3, 1, 2)))
    return x, torch.from_numpy(ds.labels.astype(np.int64))


def mnist_mlp(epochs: int, seed: int = 0) -> float:
    """Seeds 001/004: raw w1..w3 (kaiming_normal_), relu between layers (the experiment's
    default: no relu on the logits), SGD lr 0.01, batch 200, shuffled, on the 4,000
    embedded training digits."""
    import torch.nn.functional as F
    torch.manual_seed(seed)
    x, y = _embedded_mnist()
    x = x.view(-1, 784)
    ws = [torch.randn(o, i, requires_grad=True) for i, o in ((784, 200), (200, 200), (200, 10))]
    bs = [torch.zeros(o, requires_grad=True) for o in (200, 200, 10)]
    for w in ws:
        torch.nn.init.kaiming_normal_(w)

    def forward(h):
        for w, b in zip(ws, bs):
            h = h @ w.t() + b
            h = F.relu(h) if w is not ws[-1] else h
        return h

    return _train_classifier(forward, torch.optim.SGD(ws + bs, lr=0.01), x, y, 200, epochs)


def lenet(epochs: int, seed: int = 0) -> float:
    """Seed 002's LeNet and train loop, SGD lr 0.1, batch 64, on the embedded digits."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)
    x, y = _embedded_mnist()

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
    return _train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y, 64,
                             epochs)


def resnet(epochs: int, seed: int = 0, n: int = 2048) -> float:
    """The course's ResBlk network as ``classic_cnns`` builds it (conv-BN-ReLU stem 1->16,
    ResBlk 16->32 /2, ResBlk 32->64 /2, global average, Linear(64, 10)), Adam 3e-3,
    batch 32, on the first ``n`` embedded training digits."""
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)
    x, y = _embedded_mnist()
    x, y = x[:n], y[:n]

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

    model = ResNet()
    model.train()
    return _train_classifier(model, torch.optim.Adam(model.parameters(), lr=3e-3), x, y, 32,
                             epochs)
