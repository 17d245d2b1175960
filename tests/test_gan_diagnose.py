"""GAN diagnoses: each rule fires on records built to show its problem and stays silent on healthy ones;
then real (small, fast) training runs: a collapsing configuration is diagnosed, a healthy one is not."""

import io
import json
import math

import numpy as np
import pytest

import descend
from descend import nn, optim
from descend.doctor import read_diagnoses
from descend.gan.diagnose import GanDoctor, Setting, effective_modes, run_rules
from descend.gan.loop import GanTrainer
from descend.gan.models import normal_init_
from descend.gan.recipe import GanData, MixtureEvaluator
from descend.gan.step import GAN

K = 8
STEPS = 5000


def _eval(step, modes, hq, kl, counts=None, d_real=0.5, d_fake=0.5, g_loss=0.7, spread=1.0):
    return {"kind": "gan", "step": step, "d_loss": 1.38, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake,
            "modes": modes, "num_modes": K, "high_quality": hq, "reverse_kl": kl, "spread": spread,
            "counts": counts if counts is not None else [100] * modes + [0] * (K - modes)}


def _setting(**kw):
    return Setting("mixture", STEPS, num_modes=K, **kw)


def _codes(records, setting=None, finished=False):
    s = setting or _setting()
    s.extra["finished"] = finished
    return {d.code: d for d in run_rules(records, s)}


def test_effective_modes_is_the_exponential_of_the_entropy():
    # two of eight modes used equally: KL(p||u) = log 8 - log 2
    assert effective_modes(8, math.log(8) - math.log(2)) == pytest.approx(2.0)
    assert effective_modes(8, 0.0) == 8.0 and effective_modes(8, math.inf) == 0.0


def test_healthy_run_triggers_nothing_even_at_the_end():
    recs = [_eval(s, 8, 0.9, 0.02) for s in range(500, STEPS + 1, 500)]
    assert _codes(recs, finished=True) == {}


def test_collapse_onto_two_modes_is_an_error_with_its_evidence():
    recs = [_eval(500, 3, 0.2, 1.0), _eval(1000, 8, 0.8, 0.05), _eval(1500, 8, 0.9, 0.03)]
    two = math.log(8) - math.log(2)
    recs += [_eval(s, 2, 0.96, two) for s in (2000, 2500, 3000)]
    d = _codes(recs)["mode_collapse"]
    assert d.severity == "error" and d.step == 2000
    assert "2 of 8 modes" in d.evidence and "96%" in d.evidence and "8 modes at step 1000" in d.evidence
    assert d.values["effective_modes"] == pytest.approx(2.0)


def test_two_collapsed_evaluations_are_not_enough():
    two = math.log(8) - math.log(2)
    recs = [_eval(1000, 8, 0.9, 0.03), _eval(1500, 2, 0.96, two), _eval(2000, 2, 0.96, two)]
    assert "mode_collapse" not in _codes(recs)


def test_samples_spread_like_the_data_but_off_its_modes_are_not_collapse():
    # Too few samples near any mode to judge their histogram; they are as spread out as the data.
    recs = [_eval(s, 1, 0.01, math.log(8)) for s in range(1000, 3001, 500)]
    assert "mode_collapse" not in _codes(recs)


def test_samples_shrunk_to_a_point_are_collapse_wherever_they_are():
    recs = [_eval(s, 0, 0.0, math.inf, spread=0.05) for s in range(1000, 3001, 500)]
    d = _codes(recs)["mode_collapse"]
    assert d.step == 1000 and "shrunk to 5% of the data's spread" in d.evidence


def test_warm_up_evaluations_are_not_judged():
    two = math.log(8) - math.log(2)
    recs = [_eval(s, 2, 0.96, two) for s in (250, 500, 750)]  # all before 20 % of 5000 steps
    assert _codes(recs) == {}


def test_missing_modes_without_progress_are_a_warning_at_the_end_only():
    kl = math.log(8) - math.log(6)
    recs = [_eval(s, 6, 0.93, kl) for s in range(1000, STEPS + 1, 500)]
    assert _codes(recs) == {}
    d = _codes(recs, finished=True)["mode_collapse"]
    assert d.severity == "warning" and "never reached: mode 6, 7" in d.evidence


def test_discriminator_overpowering_needs_the_generator_loss_to_climb():
    early = [_eval(s, 8, 0.9, 0.03, g_loss=0.7) for s in (1000, 1500)]
    strong = [dict(_eval(s, 8, 0.9, 0.03), d_real=0.97, d_fake=0.02) for s in range(2000, 4001, 500)]
    flat = [dict(r, g_loss=0.7) for r in strong]
    assert "discriminator_overpowers" not in _codes(early + flat)
    climbing = [dict(r, g_loss=3.5) for r in strong]
    d = _codes(early + climbing)["discriminator_overpowers"]
    assert d.step == 2000 and "D(real) = 0.97" in d.evidence and "0.7 to 3.5" in d.evidence


def test_label_smoothing_lowers_the_bar_for_d_real():
    # With s = 0.2 the discriminator's real target is 0.8: D(real) = 0.75 already means it wins.
    recs = [_eval(1000, 8, 0.9, 0.03, g_loss=0.7)]
    recs += [dict(_eval(s, 8, 0.9, 0.03), d_real=0.75, d_fake=0.05, g_loss=3.0) for s in range(1500, 4001, 500)]
    assert "discriminator_overpowers" not in _codes(recs)
    assert "discriminator_overpowers" in _codes(recs, _setting(label_smoothing=0.2))


def test_coverage_cycling_and_mode_hopping_are_oscillation():
    cyc = [_eval(s, m, 0.9, 0.1) for s, m in zip(range(1000, 5001, 500), [8, 3, 8, 2, 8, 3, 8, 2])]
    d = _codes(cyc)["gan_oscillation"]
    assert "went up and down" in d.evidence
    one = math.log(8)
    hop = [_eval(s, 1, 0.97, one, counts=[2400 if i == m else 0 for i in range(8)])
           for s, m in zip(range(1000, 3001, 500), [0, 3, 5, 1, 6])]
    found = _codes(hop)
    assert "mode_collapse" in found and "hops between modes" in found["gan_oscillation"].title
    steady = [_eval(s, 1, 0.97, one, counts=[2400] + [0] * 7) for s in range(1000, 3001, 500)]
    assert "gan_oscillation" not in _codes(steady)


def test_image_collapse_by_entropy_or_duplicates():
    s = Setting("image", 1000, num_classes=10)

    def rec(step, entropy, dup):
        return {"kind": "gan", "step": step, "d_loss": 1.3, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4,
                "classes_covered": 10 if entropy > 0.8 else 2, "num_classes": 10, "class_entropy": entropy,
                "near_duplicates": dup}

    healthy = [rec(t, 0.95, 0.01) for t in range(250, 1001, 250)]
    assert _codes(healthy, s, finished=True) == {}
    few = [rec(t, 0.25, 0.01) for t in range(250, 1001, 250)]
    assert "2 of 10 classes" in _codes(few, s)["mode_collapse"].evidence
    twins = [rec(t, 0.95, 0.9) for t in range(250, 1001, 250)]
    assert "90% of the fixed-noise samples" in _codes(twins, s)["mode_collapse"].evidence


def test_doctor_prints_once_and_writes_the_doctors_file_format(tmp_path):
    out = io.StringIO()
    doc = GanDoctor(_setting(), tmp_path, stream=out)
    two = math.log(8) - math.log(2)
    for s in range(1000, 4001, 500):
        doc.add(_eval(s, 2, 0.96, two), s)
    doc.finish(4000)
    text = out.getvalue()
    assert text.count("Mode collapse") == 1 and text.count("doctor: [error]") == 1
    body = json.loads((tmp_path / "diagnosis.json").read_text())
    assert body["finished"] is True and body["step"] == 4000
    (d,) = read_diagnoses(tmp_path)  # the doctor's own reader takes it
    assert (d.code, d.severity, d.step) == ("mode_collapse", "error", 1000)
    assert set(body["diagnoses"][0]) >= {"code", "title", "severity", "step", "epoch", "evidence", "suggestion"}


# --- real training on a small problem ------------------------------------------------------------------------
def _ring(k):
    return np.stack([np.cos(2 * np.pi / k * np.arange(k)), np.sin(2 * np.pi / k * np.arange(k))], 1)


def _train(seed, noise_dim, lr, steps, pack=1, loss="non_saturating", bn=True, lr_d=None, k=4, width=64,
           linear=False, d_steps=1, small_init=False):
    descend.manual_seed(seed)
    rng = np.random.default_rng(seed)
    modes = _ring(k)
    x = (modes[rng.integers(k, size=8000)] + 0.05 * rng.standard_normal((8000, 2))).astype(np.float32)
    norm = nn.BatchNorm1d if bn else (lambda n: nn.Identity())
    w = width
    g = nn.Sequential(nn.Linear(noise_dim, w), norm(w), nn.ReLU(), nn.Linear(w, w), norm(w), nn.ReLU(),
                      nn.Linear(w, 2))
    if linear:
        g = nn.Linear(noise_dim, 2)
    d = nn.Sequential(nn.Linear(2 * pack, w), nn.LeakyReLU(0.2), nn.Linear(w, w), nn.LeakyReLU(0.2),
                      nn.Linear(w, 1))
    if small_init:
        normal_init_(g)
    gan = GAN(g, d, optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999)),
              optim.Adam(d.parameters(), lr=lr_d or lr, betas=(0.5, 0.999)), noise_dim, loss=loss, pack=pack,
              d_steps=d_steps)
    z = descend.tensor(np.random.default_rng(99).standard_normal((1000, noise_dim)).astype(np.float32))
    evaluator = MixtureEvaluator(GanData(f"ring{k}", "mixture", x, (2,), modes=modes, std=0.05), z)
    doctor = GanDoctor(Setting("mixture", steps, num_modes=k, loss=loss), stream=io.StringIO())
    GanTrainer(gan, x, steps=steps, batch_size=64, seed=seed, evaluator=evaluator, log_every=25,
               eval_every=steps // 10, doctor=doctor).fit()
    return doctor


@pytest.mark.parametrize("seed", [0, 1])
def test_healthy_small_gan_triggers_nothing(seed):
    # A batch-normalised generator covers all eight modes of the ring within 600 steps.
    doctor = _train(seed, 2, 1e-3, 600, k=8)
    last = doctor.records[-1]
    assert last["modes"] == 8 and last["reverse_kl"] < 0.3
    assert doctor.diagnoses == []


@pytest.mark.parametrize("seed", [0, 1])
def test_collapsing_small_gan_is_diagnosed(seed):
    # Without batch normalisation and with the protocol's tiny initial weights the generator's output hardly
    # depends on its noise: all samples move together and end on one spot.
    doctor = _train(seed, 2, 1e-3, 800, k=8, bn=False, small_init=True)
    last = doctor.records[-1]
    assert last["modes"] <= 1 and last["spread"] < 0.2
    d = doctor.found["mode_collapse"]
    assert d.severity == "error" and "shrunk" in d.evidence and d.step >= 0.2 * 800


def test_a_collapse_that_recovers_is_kept_as_info(tmp_path):
    out = io.StringIO()
    doc = GanDoctor(_setting(), tmp_path, stream=out)
    two = math.log(8) - math.log(2)
    recs = [_eval(s, 2, 0.9, two) for s in (1000, 1500, 2000)] + [_eval(s, 8, 0.9, 0.02) for s in (2500, 3000, 3500)]
    for r in recs:
        doc.add(r, r["step"])
    doc.finish(3500)
    (d,) = read_diagnoses(tmp_path)
    assert d.severity == "info" and d.title == "Mode collapse (recovered)" and "step 3500" in d.evidence
    assert "recovered" in out.getvalue() and "no problems found" in out.getvalue()


# --- evaluation records of two real `descend gan` runs with the protocol networks ----------------------------
# (step, modes, high quality, reverse KL, spread, counts, D(real), D(fake), g_loss) as metrics.jsonl holds them.
# Healthy: `descend gan --data ring8` (defaults, seed 0, 5000 steps). Collapsing: the same with
# `--lr-g 1e-2 --lr-d 1e-2 --lr-decay none --steps 1500 --eval-every 150`.
HEALTHY_RING8 = [
    (500, 6, 0.0864, 0.8543, 1.013, [0, 16, 30, 12, 129, 28, 0, 1], 0.785, 0.209, 3.887),
    (1000, 7, 0.2388, 0.9359, 0.971, [3, 0, 25, 13, 144, 43, 360, 9], 0.785, 0.220, 4.270),
    (1500, 6, 0.3980, 0.9072, 0.985, [369, 0, 0, 5, 48, 80, 474, 19], 0.763, 0.238, 4.112),
    (2000, 6, 0.0396, 0.5715, 0.946, [9, 0, 2, 0, 38, 27, 8, 15], 0.739, 0.263, 3.933),
    (2500, 8, 0.6904, 0.6283, 0.963, [471, 17, 1, 4, 455, 302, 469, 7], 0.722, 0.278, 3.646),
    (3000, 8, 0.6600, 0.5031, 0.967, [211, 149, 5, 2, 483, 328, 461, 11], 0.708, 0.289, 3.306),
    (3500, 7, 0.6744, 0.6365, 0.961, [404, 20, 5, 0, 515, 269, 467, 6], 0.692, 0.305, 3.068),
    (4000, 8, 0.7796, 0.6008, 0.955, [525, 43, 3, 3, 551, 336, 483, 5], 0.677, 0.323, 2.688),
    (4500, 8, 0.8468, 0.4604, 0.967, [492, 248, 5, 2, 512, 358, 490, 10], 0.676, 0.326, 2.590),
    (5000, 8, 0.8536, 0.4669, 0.963, [482, 245, 3, 1, 532, 358, 501, 12], 0.664, 0.334, 2.586),
]
HIGH_LR_RING8 = [
    (150, 1, 0.0008, 2.0794, 0.794, [0, 0, 0, 2, 0, 0, 0, 0], 0.666, 0.321, 2.348),
    (300, 1, 0.0124, 2.0794, 0.514, [0, 0, 0, 0, 0, 0, 0, 31], 0.724, 0.324, 19.104),
    (450, 2, 0.0052, 1.8083, 0.672, [12, 0, 0, 0, 0, 0, 0, 1], 0.774, 0.224, 2.185),
    (600, 3, 0.2796, 1.7069, 0.751, [38, 27, 0, 0, 0, 0, 0, 634], 0.792, 0.207, 2.319),
    (750, 3, 0.0104, 1.7549, 0.749, [24, 0, 0, 1, 0, 0, 0, 1], 0.798, 0.201, 2.668),
    (900, 3, 0.0232, 1.4259, 0.717, [15, 42, 0, 1, 0, 0, 0, 0], 0.805, 0.197, 2.406),
    (1050, 1, 0.6332, 2.0794, 0.574, [0, 0, 0, 0, 0, 0, 0, 1583], 0.800, 0.201, 2.447),
    (1200, 2, 0.2204, 1.8732, 0.574, [522, 0, 0, 0, 0, 0, 0, 29], 0.788, 0.209, 2.313),
    (1350, 2, 0.6156, 1.5917, 0.495, [294, 0, 0, 0, 0, 0, 0, 1245], 0.811, 0.187, 2.414),
    (1500, 0, 0.0, math.inf, 0.473, [0] * 8, 0.809, 0.190, 2.362),
]

# The same collapsing command with --seed 2: it swings between piling half its samples on mode 1 and having
# almost none near any mode (too few to judge).
HIGH_LR_RING8_SWINGING = [
    (150, 1, 0.0116, 2.0794, 0.785, [0, 0, 0, 29, 0, 0, 0, 0], 0.568, 0.415, 1.546),
    (300, 3, 0.0180, 0.9916, 0.933, [12, 0, 0, 0, 0, 0, 16, 17], 0.712, 0.278, 2.946),
    (450, 2, 0.0120, 1.4064, 0.843, [0, 0, 0, 18, 0, 0, 0, 12], 0.741, 0.252, 3.284),
    (600, 2, 0.0084, 1.3874, 0.716, [10, 0, 0, 0, 0, 11, 0, 0], 0.800, 0.200, 7.662),
    (750, 5, 0.4836, 1.8484, 0.762, [42, 1151, 4, 1, 11, 0, 0, 0], 0.777, 0.223, 2.625),
    (900, 0, 0.0000, math.inf, 0.735, [0, 0, 0, 0, 0, 0, 0, 0], 0.801, 0.199, 2.695),
    (1050, 5, 0.5708, 1.9643, 0.737, [0, 1400, 14, 1, 0, 7, 5, 0], 0.810, 0.191, 3.205),
    (1200, 2, 0.0040, 1.4064, 0.701, [0, 0, 0, 4, 6, 0, 0, 0], 0.817, 0.184, 3.362),
    (1350, 5, 0.4024, 1.7306, 0.706, [71, 919, 0, 0, 1, 5, 10, 0], 0.827, 0.172, 3.200),
    (1500, 3, 0.0620, 1.6825, 0.601, [138, 14, 0, 0, 0, 0, 3, 0], 0.825, 0.173, 3.081),
]


def _recorded(rows):
    return [{"kind": "gan", "step": s, "d_loss": 1.0, "g_loss": g, "d_real": dr, "d_fake": df, "modes": m,
             "num_modes": K, "high_quality": hq, "reverse_kl": kl, "spread": sp, "counts": c}
            for s, m, hq, kl, sp, c, dr, df, g in rows]


# `descend gan --data ring8 --loss wgan-gp` seed 2 of the penalty protocol (bench/gan_protocol_penalty.txt):
# at most 2 % of the samples near a mode at any evaluation, spread like the data.
WGANGP_RING8 = [
    (500, 2, 0.0036, 1.7306, 0.737, [0, 0, 0, 0, 1, 0, 0, 8], 0.850, 0.748, -0.721),
    (1000, 2, 0.0036, 1.5497, 0.659, [0, 0, 0, 2, 0, 7, 0, 0], -1.322, -1.457, 1.453),
    (1500, 3, 0.0060, 1.1518, 0.780, [9, 2, 0, 0, 0, 0, 0, 4], -0.479, -0.601, 0.619),
    (2000, 1, 0.0032, 2.0794, 0.774, [0, 0, 8, 0, 0, 0, 0, 0], -1.282, -1.351, 1.373),
    (2500, 2, 0.0016, 1.3863, 0.868, [0, 0, 0, 2, 2, 0, 0, 0], -0.537, -0.643, 0.616),
    (3000, 4, 0.0040, 0.7473, 0.896, [2, 0, 0, 2, 0, 0, 4, 2], -0.524, -0.601, 0.608),
    (3500, 5, 0.0152, 0.7498, 0.851, [6, 12, 2, 2, 0, 0, 0, 16], -0.338, -0.368, 0.370),
    (4000, 7, 0.0168, 0.3597, 0.907, [7, 15, 4, 5, 7, 1, 0, 3], 0.664, 0.610, -0.612),
    (4500, 6, 0.0204, 0.5563, 0.901, [0, 13, 8, 19, 0, 1, 3, 7], 0.438, 0.421, -0.426),
    (5000, 5, 0.0044, 0.6113, 0.960, [3, 4, 0, 0, 0, 1, 2, 1], -1.096, -0.923, 0.923),
]


def _doctor_over(rows, steps, loss="non_saturating"):
    # As the CLI's trainer does: one record at a time, then the end of the run.
    doc = GanDoctor(Setting("mixture", steps, num_modes=K, loss=loss), stream=io.StringIO())
    for r in _recorded(rows):
        doc.add(r, r["step"])
    doc.finish(steps)
    return doc


def test_recorded_protocol_runs_healthy_silent_collapsing_diagnosed():
    # Uneven but complete cover (reverse KL ~0.5, as the published plain GAN's 0.45) is not collapse.
    assert _doctor_over(HEALTHY_RING8, 5000).diagnoses == []
    # Collapsed whenever there are samples on modes to judge (steps 600, 1050, 1200, 1350); the evaluations
    # with almost none (750, 900, 1500) neither break the streak nor count as a recovery.
    (d,) = _doctor_over(HIGH_LR_RING8, 1500).diagnoses
    assert (d.code, d.severity, d.step) == ("mode_collapse", "error", 600)
    assert "2 of 8 modes" in d.evidence and "leaving aside 2" in d.evidence
    found = {d.code: d for d in _doctor_over(HIGH_LR_RING8_SWINGING, 1500).diagnoses}
    d = found["mode_collapse"]
    assert d.severity == "error" and d.step == 750 and "at step 1350" in d.evidence


def test_samples_off_every_mode_at_the_end_are_a_warning_with_advice_for_the_loss():
    off = [_eval(s, 2, 0.02, 1.0) for s in range(1000, STEPS + 1, 500)]
    assert "gan_off_modes" not in _codes(off)  # not before the end: every generator starts off the modes
    d = _codes(off, finished=True)["gan_off_modes"]
    assert d.severity == "warning" and d.step == 4000 and "2%, 2%, 2% of the samples" in d.evidence
    assert "--steps" in d.suggestion and "--r1" not in d.suggestion
    wgan = _codes(off, _setting(loss="wgan-gp"), finished=True)["gan_off_modes"]
    assert "--r1 0.1" in wgan.suggestion
    # One of the last evaluations with enough samples on modes, or samples shrunk to a point (collapse): silent.
    assert "gan_off_modes" not in _codes(off[:-1] + [_eval(STEPS, 3, 0.06, 1.0)], finished=True)
    assert "gan_off_modes" not in _codes([dict(r, spread=0.05) for r in off], finished=True)


def test_recorded_wgan_gp_run_is_told_it_missed_the_modes():
    doc = _doctor_over(WGANGP_RING8, 5000, loss="wgan-gp")
    codes = [d.code for d in doc.diagnoses]
    assert codes == ["gan_off_modes"], codes
    assert "steps 4000-5000" in doc.diagnoses[0].evidence
    assert _doctor_over(HEALTHY_RING8, 5000).diagnoses == []
