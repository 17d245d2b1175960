"""Mode-collapse metrics for generators: the PacGAN protocol on 2-D mixtures, and class coverage on images."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ModeReport:
    """What a batch of generated 2-D samples covers of a known mixture."""

    modes_covered: int
    num_modes: int
    high_quality: float  # fraction of samples within `sigmas` standard deviations of their nearest mode
    reverse_kl: float  # KL(histogram of covered modes || uniform over all modes)
    counts: list  # high-quality samples per mode

    def as_dict(self) -> dict:
        return asdict(self)


def mode_report(samples: np.ndarray, modes: np.ndarray, std: float, sigmas: float = 3.0) -> ModeReport:
    """Score samples against mixture modes as in the PacGAN protocol (VEEGAN's metrics).

    A sample is high quality if it lies within `sigmas` standard deviations of its nearest mode; a mode is
    covered if it is the nearest mode of at least one high-quality sample; the reverse KL compares the
    histogram of high-quality samples over modes with the uniform distribution.
    """
    samples = np.asarray(samples, dtype=np.float64)
    modes = np.asarray(modes, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"mode_report: samples of shape {samples.shape} do not match modes {modes.shape}")
    d2 = ((samples[:, None, :] - modes[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    dist = np.sqrt(d2[np.arange(len(samples)), nearest])
    good = np.isfinite(dist) & (dist <= sigmas * std)
    counts = np.bincount(nearest[good], minlength=len(modes))
    k = len(modes)
    if good.any():
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * np.log(p[nz] * k)).sum())
    else:
        reverse_kl = float("inf")  # no sample near any mode: as far from the data as it gets
    return ModeReport(int((counts > 0).sum()), k, float(good.mean()), reverse_kl, counts.tolist())


def class_coverage(predicted: np.ndarray, num_classes: int) -> dict:
    """Coverage and normalised entropy of the classes a classifier assigns to generated samples."""
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=num_classes)
    p = counts / max(counts.sum(), 1)
    nz = p > 0
    entropy = float(-(p[nz] * np.log(p[nz])).sum())
    return {"classes_covered": int(nz.sum()), "num_classes": num_classes,
            "entropy": entropy / np.log(num_classes), "counts": counts.tolist()}


def near_duplicate_rate(samples: np.ndarray, threshold: float = 0.05) -> float:
    """Fraction of samples whose nearest other sample is within `threshold` (RMS per feature)."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    if len(x) < 2:
        return 0.0
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0) / x.shape[1]
    np.fill_diagonal(d2, np.inf)
    return float((np.sqrt(d2.min(1)) <= threshold).mean())
