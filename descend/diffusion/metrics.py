"""The Fréchet distance between generated and real samples in a classifier's feature space.

It is FID's formula (Heusel et al. 2017) on the penultimate features of the descend classifier that judges a
run's samples (the MNIST-1D CNN, the Fashion-MNIST MLP) — not the Inception network, so its numbers are only
comparable between runs judged by the same classifier.
"""

from __future__ import annotations

import numpy as np

from descend import backend, nn
from descend._tensor import Tensor, no_grad


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """|μ_a - μ_b|² + Tr(Σ_a + Σ_b - 2 (Σ_a^½ Σ_b Σ_a^½)^½) of two (N, D) feature sets (float64)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"frechet_distance: expected two (N, D) arrays with N >= 2 and the same D, got {a.shape} "
                         f"and {b.shape}")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    # Tr((Σ_a^½ Σ_b Σ_a^½)^½): the product is symmetric PSD, so its square root's trace is Σ sqrt(eigenvalues).
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sb @ root_a), 0, None)).sum()
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * cross)


@no_grad()
def penultimate_features(model: nn.Module, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """The input of the model's last Linear layer for each sample (eval mode), (N, features)."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError(f"penultimate_features: {type(model).__name__} has no Linear layer")
    seen: list = []
    handle = last[-1].register_forward_pre_hook(lambda module, args: seen.append(backend.to_numpy(args[0]._data)))
    was = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch):
            model(Tensor(backend.xp.asarray(np.ascontiguousarray(x[i:i + batch], dtype=backend.default_dtype()))))
    finally:
        handle.remove()
        model.train(was)
    return np.concatenate([s.reshape(len(s), -1) for s in seen]).astype(np.float64)


def compare_runs(runs: list[str], n: int = 1000, seed: int = 0) -> list[dict]:
    """Class coverage and classifier-feature Fréchet distance of gan or diffusion runs of the same image data.

    All runs are judged by the first run's classifier (classifier.safetensors), against the held-out real data.
    """
    from descend import io, models
    from descend.gan.detect import load_generator
    from descend.gan.evaluate import class_coverage
    from descend.gan.recipe import CLASSIFIERS, predict
    from pathlib import Path

    gens = [load_generator(r, "run") for r in runs]
    data = gens[0].data
    if data.kind != "image" or any(g.data_name != gens[0].data_name for g in gens):
        raise ValueError("compare_runs: the runs must all model the same image data (mnist1d, fashion-mnist)")
    judge_dir = Path(runs[0]) if Path(runs[0]).is_dir() else Path(runs[0]).parent.parent
    tensors, meta = io.load_safetensors(judge_dir / "classifier.safetensors", with_metadata=True)
    judge = models.build(meta["model"] if "model" in meta else CLASSIFIERS[data.name.split(":")[0]], data.shape,
                         data.num_classes)
    judge.load_state_dict(tensors)
    real = penultimate_features(judge, data.test[0])
    out = [{"run": "real (held-out)", "frechet": frechet_distance(real[: len(real) // 2], real[len(real) // 2:]),
            "classes_covered": data.num_classes, "entropy": 1.0}]
    for g in gens:
        x = g.sample(n, np.random.default_rng([seed, 50]))
        c = class_coverage(predict(judge, x), data.num_classes)
        out.append({"run": g.label, "frechet": frechet_distance(penultimate_features(judge, x), real),
                    "classes_covered": c["classes_covered"], "entropy": c["entropy"]})
    return out


if __name__ == "__main__":  # python -m descend.diffusion.metrics RUN [RUN ...]
    import sys

    for row in compare_runs(sys.argv[1:]):
        print(f"{row['run']}: classes {row['classes_covered']}, entropy {row['entropy']:.2f}, "
              f"classifier-feature Fréchet distance {row['frechet']:.2f}")
