"""The PacGAN protocol on the 2-D mixtures with `descend gan`'s defaults: a plain GAN and PacGAN2 (--pack 2)
on the ring of 8 and the grid of 25 Gaussians, over several seeds, beside the published PacGAN Table 1; and
the gradient-penalty variants: WGAN-GP (--loss wgan-gp: λ 10, 5 critic steps, Adam β (0.5, 0.9)) and the
non-saturating GAN with an R1 penalty (--r1 1).

    python bench/gan_protocol.py [--seeds 3] [--configs ring8,ring8-pack2,grid25,grid25-pack2]
                                 [--runs runs/gan_protocol] [--steps N] [--threads 1] [--first-seed 0]

Configurations are DATA[-packN][-wgangp|-r1]; the default list is the four PacGAN rows.

Each run is a real CLI process (`python -m descend gan --data D [--pack 2] --seed S`), so what is measured is
what a user gets. A finished run directory is reused (its timing is kept in bench.json), so the script can be
stopped and started again to add seeds; an interrupted one is continued with --resume.
Metrics are those of the run's last evaluation: 2,500 samples, modes covered, % high quality (within 3 std of
the nearest mode), reverse KL of the covered-mode histogram to uniform. "diagnosed" counts the runs where the
GAN doctor reported mode collapse (diagnosis.json).
Wall time depends on the machine's load; CPU time (the child's user + system time) much less so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from descend.gan.loop import read_records  # noqa: E402

# PacGAN (Lin et al., 2018) Table 1: modes covered, % high quality samples, reverse KL (means over 10 trials).
PUBLISHED = {
    "ring8": ("GAN", 6.3, 98.2, 0.45),
    "ring8-pack2": ("PacGAN2", 7.9, 95.6, 0.07),
    "grid25": ("GAN", 17.3, 94.8, 0.70),
    "grid25-pack2": ("PacGAN2", 23.8, 91.3, 0.13),
}
# The gradient-penalty variants (no published row under this protocol): suffix -> CLI flags.
# R1's gamma: Mescheder et al. (2018) use 10 on images in [-1, 1]. The modes here are 0.01 (ring) and 0.05
# (grid) wide, and telling a sample on a mode from one 3 std off needs a steep discriminator: with gamma 1 the
# discriminator of ring8 seed 0 stayed flat (D(real) = D(fake) = 0.50 for 1,200 steps, 4 % high quality at
# step 1000), so the bench uses 0.1, the low end of the range used on toy data.
VARIANTS = {"wgangp": ["--loss", "wgan-gp"], "r1": ["--r1", "0.1"]}
CONFIGS = [f"{d}{p}{v}" for v in ("", "-wgangp", "-r1") for d in ("ring8", "grid25") for p in ("", "-pack2")]


def parse_config(config: str) -> tuple[str, list[str]]:
    """'grid25-pack2-r1' -> ('grid25', ['--pack', '2', '--r1', '1'])."""
    data, *rest = config.split("-")
    flags = []
    for part in rest:
        if part.startswith("pack"):
            flags += ["--pack", part[4:]]
        else:
            flags += VARIANTS[part]
    return data, flags


def run_one(config: str, seed: int, runs: Path, steps: int | None, threads: str,
            finished_only: bool = False) -> dict | None:
    """Train (or reuse) one run; its last evaluation, diagnosis and timing (None: unfinished, not trained)."""
    data, flags = parse_config(config)
    name = f"{config}-s{seed}" + (f"-steps{steps}" if steps else "")
    run_dir = runs / name
    timing_file = run_dir / "bench.json"
    if not timing_file.is_file() and finished_only:
        return None
    if not timing_file.is_file():
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        if (run_dir / "checkpoints" / "index.json").is_file():
            cmd = [sys.executable, "-m", "descend", "gan", "--resume", str(run_dir), "--quiet"]
        else:
            if run_dir.exists():  # started but never checkpointed: nothing worth keeping
                raise SystemExit(f"{run_dir}: an unfinished run without checkpoints; remove it and start again")
            cmd = [sys.executable, "-m", "descend", "gan", "--data", data, "--seed", str(seed),
                   "--out", str(runs), "--name", name, "--quiet", *flags]
            if steps:
                cmd += ["--steps", str(steps)]
        print(f"  {' '.join(cmd[1:])}", flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        timing_file.write_text(json.dumps({"wall_s": wall, "cpu_s": cpu, "resumed": cmd[4] == "--resume"}))
    timing = json.loads(timing_file.read_text())
    records = read_records((run_dir / "metrics.jsonl").read_text())  # "Infinity" back to a float
    last = [r for r in records if "modes" in r][-1]
    diagnoses = json.loads((run_dir / "diagnosis.json").read_text())["diagnoses"]
    collapse = [d for d in diagnoses if d["code"] == "mode_collapse" and d["severity"] in ("error", "warning")]
    return {"config": config, "seed": seed, "step": last["step"], "modes": last["modes"],
            "num_modes": last["num_modes"], "hq": 100 * last["high_quality"], "kl": last["reverse_kl"],
            "collapse": collapse[0]["title"] if collapse else "",
            "other": "; ".join(d["title"] for d in diagnoses
                               if d["code"] != "mode_collapse" and d["severity"] in ("error", "warning")),
            **timing}


def mean_sd(values: list[float], fmt: str) -> str:
    """Mean ± sd; runs with no high-quality sample have an infinite reverse KL, counted apart."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values):
        return " " + (mean_sd(finite, fmt) if finite else "-") + f" (+{len(values) - len(finite)} inf)"
    m = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:{fmt}} ± {sd:{fmt}}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per configuration (default 3)")
    p.add_argument("--first-seed", type=int, default=0, help="start at this seed (default 0)")
    p.add_argument("--configs", default=",".join(PUBLISHED), help="comma-separated, of: " + ", ".join(CONFIGS))
    p.add_argument("--runs", default=str(ROOT / "runs" / "gan_protocol"), help="folder of the run directories")
    p.add_argument("--steps", type=int, default=None, help="override the CLI default (5000 generator steps)")
    p.add_argument("--threads", default="1", help="BLAS threads per run (default 1)")
    p.add_argument("--finished-only", action="store_true", help="summarise the finished runs; train nothing")
    args = p.parse_args()
    configs = args.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            p.error(f"--configs: unknown configuration '{c}' (choose from {', '.join(CONFIGS)})")
    runs = Path(args.runs)
    if not args.finished_only:
        runs.mkdir(parents=True, exist_ok=True)

    results = []
    for seed in range(args.first_seed, args.seeds):  # seed-major: an interrupted sweep still has every configuration
        for c in configs:
            if not args.finished_only:
                print(f"{c} seed {seed}", flush=True)
            r = run_one(c, seed, runs, args.steps, args.threads, args.finished_only)
            if r is not None:
                results.append(r)

    print()
    print("Per run (last evaluation; 'collapse' is the doctor's finding, empty when silent)")
    print(f"{'config':<14}{'seed':>5}{'step':>6}{'modes':>8}{'HQ %':>7}{'rev KL':>8}{'wall s':>8}{'cpu s':>7}"
          f"  collapse | other findings")
    for r in results:
        print(f"{r['config']:<14}{r['seed']:>5}{r['step']:>6}{r['modes']:>5}/{r['num_modes']:<2}{r['hq']:>7.1f}"
              f"{r['kl']:>8.3f}{r['wall_s']:>8.0f}{r['cpu_s']:>7.0f}  {r['collapse']}"
              + (f" | {r['other']}" if r["other"] else ""))
    print()
    print("Mean ± sd over seeds, beside PacGAN Table 1 (published: mean of 10 trials)")
    print(f"{'config':<14}{'n':>3}{'modes':>14}{'HQ %':>14}{'reverse KL':>15}  {'published':<26}"
          f"{'wall s/run':>11}{'cpu s/run':>10}{'diagnosed':>10}")
    for c in configs:
        rs = [r for r in results if r["config"] == c]
        if not rs:
            print(f"{c:<14}{0:>3}  (no finished run)")
            continue
        pub = "-"
        if c in PUBLISHED:
            name, pm, phq, pkl = PUBLISHED[c]
            pub = f"{name} {pm} / {phq} % / {pkl}"
        diagnosed = sum(1 for r in rs if r["collapse"])
        print(f"{c:<14}{len(rs):>3}{mean_sd([r['modes'] for r in rs], '.1f'):>14}"
              f"{mean_sd([r['hq'] for r in rs], '.1f'):>14}{mean_sd([r['kl'] for r in rs], '.2f'):>15}  {pub:<26}"
              f"{statistics.fmean(r['wall_s'] for r in rs):>11.0f}{statistics.fmean(r['cpu_s'] for r in rs):>10.0f}"
              f"{diagnosed:>7}/{len(rs)}")


if __name__ == "__main__":
    main()
