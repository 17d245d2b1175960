"""A trained diffusion run as a generator of samples for `descend detect` (beside the GAN runs it loads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descend.diffusion import config as diff_config
from descend.diffusion.ddpm import Diffusion
from descend.errors import UsageError


@dataclass
class DiffusionGenerator:
    """The EMA denoiser of a `descend diffusion` checkpoint with the run's sampler; `sample(n, rng)` as a GAN's."""

    source: Path
    label: str
    step: int
    data_name: str
    data: Any
    diffusion: Diffusion
    cfg: dict

    def sample(self, n: int, rng: np.random.Generator, batch: int = 500) -> np.ndarray:
        """n samples from x_T (and, for ddpm or eta > 0, the added noise) drawn with `rng`."""
        d = self.cfg["diffusion"]
        out = []
        for i in range(0, n, batch):
            x_T = rng.standard_normal((min(batch, n - i),) + tuple(self.data.shape))
            if d["sampler"] == "ddpm":
                out.append(self.diffusion.sample_ddpm(x_T, rng))
            else:
                out.append(self.diffusion.sample_ddim(x_T, d["sample_steps"], d["eta"], rng))
        return np.concatenate(out).astype(np.float32)


def load(file: Path, run_dir: Path, raw: dict, flag: str, source: Path) -> DiffusionGenerator:
    """The generator of checkpoint `file` of the diffusion run `run_dir` (raw: its parsed config.toml)."""
    from descend.diffusion import recipe
    from descend.gan.loop import scalars_restored
    from descend.train.checkpoint import load as load_checkpoint

    cfg = diff_config.validate(raw, str(run_dir / "config.toml"))
    try:
        state = load_checkpoint(file)
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"{flag} {file}: {' '.join(str(e).split())}") from None
    data = recipe.load_data(cfg)
    diffusion = recipe.build_diffusion(cfg, data)
    try:
        diffusion.ema.model.load_state_dict(scalars_restored(state["ema"], diffusion.ema.model))
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{flag} {file}: does not match its run's config: {' '.join(str(e).split())}") from None
    d = cfg["diffusion"]
    how = f"{d['sampler']}" + (f" {d['sample_steps']} steps" if d["sampler"] == "ddim" else "")
    label = f"{run_dir.name} (diffusion {d['arch']}, {how}, step {state['step']})"
    return DiffusionGenerator(source, label, int(state["step"]), cfg["data"]["name"], data, diffusion, cfg)
