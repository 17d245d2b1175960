"""Train a two-layer network on a toy spiral with nothing but descend's tensors and autograd."""

import numpy as np

import descend


def spiral(n_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The classic interleaved-spirals toy problem: not linearly separable."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        theta = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def main() -> None:
    descend.manual_seed(0)
    x_np, y_np = spiral()
    x, y = descend.tensor(x_np), descend.tensor(y_np)
    rng = np.random.default_rng(0)
    w1 = descend.tensor(rng.normal(0, 1.0, (2, 64)).astype(np.float32), requires_grad=True)
    b1 = descend.tensor(np.zeros(64, np.float32), requires_grad=True)
    w2 = descend.tensor(rng.normal(0, 0.1, (64, 3)).astype(np.float32), requires_grad=True)
    b2 = descend.tensor(np.zeros(3, np.float32), requires_grad=True)
    params = [w1, b1, w2, b2]
    lr = 1.0
    for step in range(301):
        logits = (x @ w1 + b1).relu() @ w2 + b2
        loss = -logits.log_softmax(1)[np.arange(len(y_np)), y_np].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with descend.no_grad():
            for p in params:
                p.data -= lr * p.grad.data
        if step % 50 == 0:
            acc = (logits.data.argmax(1) == y_np).mean()
            print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {acc:.2%}")


if __name__ == "__main__":
    main()
