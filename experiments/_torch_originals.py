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
