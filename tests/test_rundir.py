"""The run directory as a trust boundary (issue 18): one regression test per defect found by treating a run
directory as hostile input. Each fails on the code before descend.rundir: there, the evil model file ran,
symlinks were followed, index entries left the run, two writers interleaved, NaN and int weights loaded,
edits were ignored, malformed state gave tracebacks, I/O errors were tracebacks, labels were unbounded and
temporary files stayed."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from descend import io
from descend.cli import main
from descend.train import Run
from descend.train.checkpoint import Checkpoints, load, save

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def own_key(tmp_path, monkeypatch):
    """Each test signs with its own key (never the user's)."""
    monkeypatch.setenv("DESCEND_TRUST_KEY", str(tmp_path / "key" / "trust.key"))


def write_npz(path, n=60, features=8, classes=3, y=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype(np.float32)
    np.savez(path, x=x, y=np.arange(n) % classes if y is None else y)
    return path


def train(tmp, *extra, epochs=2, name="r"):
    data = write_npz(tmp / "d.npz")
    code = main(["train", "--data", str(data), "--model", "logistic", "--epochs", str(epochs), "--batch-size",
                 "20", "--out", str(tmp / "runs"), "--name", name, "--quiet", "--no-doctor", *extra])
    assert code == 0
    return tmp / "runs" / name


def one_line(err):
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def set_config(run, **changes):
    """Edit config.toml as a user would (dotted keys)."""
    cfg = io.load_toml(run / "config.toml")
    for k, v in changes.items():
        section, _, key = k.rpartition(".")
        (cfg[section] if section else cfg)[key] = v
    (run / "config.toml").write_text(io.dump_toml(cfg))


# 1 --- code in a run directory --------------------------------------------------------------------------

EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\nfrom descend import nn\n" \
       "def build(shape, classes):\n    return nn.Sequential(nn.Flatten(), nn.Linear(8, classes))\n"


@pytest.mark.parametrize("command", ["evaluate", "resume", "lr-find", "predict", "export"])
def test_config_pointing_at_a_python_file_does_not_run_it(tmp_path, capsys, command):
    run = train(tmp_path)
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.py"
    evil.write_text(EVIL.format(marker=str(marker)))
    set_config(run, **{"model.name": f"{evil}:build", "train.epochs": 3})
    argv = {"evaluate": ["evaluate", str(run)], "resume": ["train", "--resume", str(run)],
            "lr-find": ["lr-find", "--run", str(run), "--num-iter", "3"],
            "predict": ["predict", str(run), "--data", str(tmp_path / "d.npz")],
            "export": ["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "w.st")]}[command]
    capsys.readouterr()
    code = main(argv)
    assert not marker.exists()  # the file never ran
    assert code == 2
    line = one_line(capsys.readouterr().err)
    digest = hashlib.sha256(evil.read_bytes()).hexdigest()
    assert str(evil) in line and digest in line and "--trust-code" in line


def test_a_signed_model_file_runs_and_trust_code_allows_an_unsigned_one(tmp_path, capsys):
    model = tmp_path / "m.py"
    model.write_text(EVIL.format(marker=str(tmp_path / "imported")))
    run = train(tmp_path, "--model", f"{model}:build")  # (the later --model wins over logistic)
    assert json.loads((run / "trust.json").read_text())["signatures"][0]["file"] == "model.py"
    assert main(["evaluate", str(run)]) == 0  # signed by this user at train time
    os.environ["DESCEND_TRUST_KEY"] = str(tmp_path / "other-user.key")  # another user: not signed by them
    assert main(["evaluate", str(run)]) == 2
    assert main(["evaluate", str(run), "--trust-code"]) == 0


def test_a_model_file_calling_sys_exit_is_reported(tmp_path, capsys):
    model = tmp_path / "quit.py"
    model.write_text("import sys\nsys.exit(0)\n")
    write_npz(tmp_path / "d.npz")
    code = main(["train", "--data", str(tmp_path / "d.npz"), "--model", f"{model}:build", "--out",
                 str(tmp_path / "runs"), "--quiet"])
    assert code == 2 and "sys.exit(0)" in one_line(capsys.readouterr().err)


# 2 --- symlinks ---------------------------------------------------------------------------------------------

def test_resume_never_truncates_through_a_symlinked_metrics_file(tmp_path, capsys):
    run = train(tmp_path)
    precious = tmp_path / "bashrc"
    precious.write_text("x" * 100_000)
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(precious)
    set_config(run, **{"train.epochs": 3})
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert "symbolic link" in one_line(capsys.readouterr().err)
    assert precious.read_text() == "x" * 100_000


def test_pruning_never_deletes_in_a_symlinked_checkpoints_folder(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    for s in (1, 2, 3):
        (other / f"step-{s:08d}.safetensors").write_bytes(b"theirs")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(other)
    with pytest.raises(ValueError, match="symbolic link"):
        Checkpoints(run / "checkpoints", keep=1).save({"model": {"w": np.ones(2)}}, 10)
    assert sorted(p.name for p in other.iterdir()) == [f"step-{s:08d}.safetensors" for s in (1, 2, 3)]


def test_pruning_deletes_only_files_it_wrote(tmp_path):
    ckpts = Checkpoints(tmp_path, keep=1)
    foreign = tmp_path / "step-00000001.safetensors"
    foreign.write_bytes(b"not ours")
    for s in (2, 3, 4):
        ckpts.save({"model": {"w": np.full(2, float(s))}}, s)
    assert foreign.read_bytes() == b"not ours"
    assert sorted(p.name for p in tmp_path.glob("step-*")) == [foreign.name, "step-00000004.safetensors"]


# 3 --- index entries ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["../../other/step-00000006.safetensors", "../../../../etc/passwd",
                                   "/etc/passwd", "step-00000006.safetensors/..", "index.json"])
def test_index_entries_never_leave_checkpoints(tmp_path, capsys, entry):
    run = train(tmp_path)
    outside = train(tmp_path, name="other")
    index = json.loads((run / "checkpoints" / "index.json").read_text())
    index["best"] = index["latest"] = entry
    (run / "checkpoints" / "index.json").write_text(json.dumps(index))
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    assert "not a checkpoint file name" in one_line(capsys.readouterr().err)
    assert outside.exists()


# 4 --- one writer -----------------------------------------------------------------------------------------

def test_a_second_writer_stops_at_once_naming_the_first(tmp_path, capsys):
    run = train(tmp_path)
    set_config(run, **{"train.epochs": 3})
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from descend import rundir; "
                               "lock = rundir.RunLock(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
                               str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = (run / "metrics.jsonl").read_bytes()
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--quiet"]) == 1
        line = one_line(capsys.readouterr().err)
        assert f"process {holder.pid}" in line
        assert (run / "metrics.jsonl").read_bytes() == before
        assert f"process {holder.pid}" in (run / ".lock").read_text()
        assert main(["evaluate", str(run)]) == 0  # readers do not lock
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0


# 5 --- checkpoint contents ----------------------------------------------------------------------------------

def _rewrite(file, edit):
    """Rewrite a checkpoint through the writer after `edit(state)` (so its checksums are valid)."""
    state = load(file)
    edit(state)
    save(file, state)


@pytest.mark.parametrize("case, words", [
    ("nan", "non-finite"), ("int32", "int32"), ("bool", "bool"), ("step", "'step'")])
def test_nonsense_weights_and_fields_are_refused(tmp_path, capsys, case, words):
    run = train(tmp_path)
    file = run / "checkpoints" / json.loads((run / "checkpoints" / "index.json").read_text())["best"]
    key = "model/" if case == "nan" else ""

    def edit(state):
        name = next(iter(state["model"]))
        w = state["model"][name]
        if case == "nan":
            w.reshape(-1)[0] = np.nan
        elif case in ("int32", "bool"):
            state["model"][name] = w.astype(case)
        else:
            state["step"] = -5
    if case == "nan":  # the writer refuses non-finite weights: forge the file past it
        state = load(file)
        next(iter(state["model"].values())).reshape(-1)[0] = np.nan
        save(file, state)
    else:
        _rewrite(file, edit)
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    line = one_line(capsys.readouterr().err)
    assert words in line and str(file.name) in line and key in line


def test_float64_weights_are_cast_as_pytorch_does(tmp_path, capsys):
    run = train(tmp_path)
    file = run / "checkpoints" / json.loads((run / "checkpoints" / "index.json").read_text())["best"]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    _rewrite(file, lambda s: s.update(model={k: v.astype(np.float64) for k, v in s["model"].items()}))
    assert main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == before["loss"]


def test_a_header_flip_that_changes_the_scheduler_step_is_rejected(tmp_path):
    run = train(tmp_path)
    file = run / "checkpoints" / json.loads((run / "checkpoints" / "index.json").read_text())["latest"]
    data = bytearray(file.read_bytes())
    at = data.find(b'\\"last_epoch\\": ') + len(b'\\"last_epoch\\": ')
    assert at > 20 and chr(data[at]).isdigit()
    data[at] ^= 0x01  # one digit of the scheduler's position: still valid JSON
    file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        load(file)


# 6 --- config edits on resume -------------------------------------------------------------------------------

def _step_lrs(run):
    return [r["lr"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == "step"]


def test_an_edited_lr_and_schedule_apply_from_the_resume_step(tmp_path, capsys):
    run = train(tmp_path)
    before = _step_lrs(run)
    set_config(run, **{"train.epochs": 3, "optim.lr": 0.05, "schedule.name": "step", "schedule.step_size": 1,
                       "schedule.gamma": 0.5})
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    after = _step_lrs(run)
    assert after[:len(before)] == before
    # StepLR(step_size=1, gamma=0.5) on lr 0.05 during epoch index 2: 0.05 * 0.5**2 (not 0, not the old lr).
    assert after[len(before):] == [pytest.approx(0.0125)] * 3
    meta = json.loads((run / "meta.json").read_text())
    assert meta["config_changes"][0]["changes"]["optim.lr"] == {"from": 0.01, "to": 0.05}


def test_an_edit_a_resume_cannot_apply_is_refused_naming_the_keys(tmp_path, capsys):
    run = train(tmp_path)
    set_config(run, **{"train.epochs": 3, "optim.name": "sgd", "data.batch_size": 7})
    before = (run / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "optim.name" in line and "data.batch_size" in line and "train.epochs" not in line
    assert (run / "metrics.jsonl").read_bytes() == before


# 7 --- malformed state ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("index_text, words", [
    ("[" * 900 + "]" * 900, "nested too deeply"), ('["step-00000006.safetensors"]', "JSON object"),
    ('{"latest": 5}', "'latest'"), ('{"latest": "step-00000006.safetensors", "kept": "x"}', "'kept'")])
def test_malformed_index_is_one_line(tmp_path, capsys, index_text, words):
    run = train(tmp_path)
    (run / "checkpoints" / "index.json").write_text(index_text)
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    assert words in one_line(capsys.readouterr().err)


def test_a_fifo_named_as_checkpoint_does_not_hang(tmp_path):
    fifo = tmp_path / "step-00000001.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load(fifo)


@pytest.mark.parametrize("text, words", [
    ('name = "a\\u0000b"\n', "control characters"), ("[train]\nepochs = 99999999999999999999999\n", "at most"),
    ("seed = -1\n", ">= 0")])
def test_bad_config_values_are_one_line(tmp_path, capsys, text, words):
    (tmp_path / "c.toml").write_text(text)
    assert main(["train", str(tmp_path / "c.toml"), "--out", str(tmp_path / "runs")]) == 2
    assert words in one_line(capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


# 8 --- I/O errors -------------------------------------------------------------------------------------------

def test_a_run_name_too_long_is_one_line_exit_1(tmp_path, capsys):
    write_npz(tmp_path / "d.npz")
    code = main(["train", "--data", str(tmp_path / "d.npz"), "--model", "logistic", "--epochs", "1", "--out",
                 str(tmp_path / "runs"), "--name", "n" * 300, "--quiet", "--no-doctor"])
    assert code == 1
    assert "file name too long" in one_line(capsys.readouterr().err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_folder_is_one_line_exit_1(tmp_path, capsys):
    write_npz(tmp_path / "d.npz")
    (tmp_path / "ro").mkdir(mode=0o500)
    code = main(["train", "--data", str(tmp_path / "d.npz"), "--model", "logistic", "--epochs", "1", "--out",
                 str(tmp_path / "ro"), "--quiet", "--no-doctor"])
    assert code == 1 and "permission denied" in one_line(capsys.readouterr().err)


def test_out_in_proc_is_one_line(tmp_path, capsys):
    write_npz(tmp_path / "d.npz")
    code = main(["train", "--data", str(tmp_path / "d.npz"), "--model", "logistic", "--epochs", "1", "--out",
                 "/proc/descend-runs", "--quiet", "--no-doctor"])
    assert code in (1, 2)
    assert "/proc/descend-runs" in one_line(capsys.readouterr().err)


def test_disk_full_names_what_survived(tmp_path, capsys, monkeypatch):
    run = train(tmp_path)
    set_config(run, **{"train.epochs": 3})
    import errno

    from descend.train import checkpoint

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(checkpoint.io, "save_safetensors", full)
    latest = json.loads((run / "checkpoints" / "index.json").read_text())["latest"]
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "no space left" in line and latest in line and "--resume" in line
    assert load(run / "checkpoints" / latest)["epoch"] == 2


# 9 --- input size limits --------------------------------------------------------------------------------------

def test_a_huge_label_is_refused_before_allocating(tmp_path):
    y = np.arange(60) % 3
    y[5] = 999_999_999
    write_npz(tmp_path / "d.npz", y=y)
    import resource

    def small():  # 3 GB of address space: the old code's 1e9 class names must fail here, not on the machine
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    p = subprocess.run([sys.executable, "-m", "descend", "train", "--data", str(tmp_path / "d.npz"), "--model",
                        "logistic", "--epochs", "1", "--out", str(tmp_path / "runs"), "--quiet"], cwd=ROOT,
                       capture_output=True, text=True, preexec_fn=small, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "999999999" in one_line(p.stderr) and "100000 classes" in p.stderr


# 10 --- temporary files -----------------------------------------------------------------------------------

def test_leftover_temporary_files_are_removed_when_a_run_is_opened_for_writing(tmp_path):
    run = train(tmp_path)
    junk = [run / "checkpoints" / ".step-00000099.safetensors.k3j.tmp", run / "checkpoints" / ".index.json.x.tmp",
            run / ".report.html.abc.tmp", run / ".diagnosis.json.tmp"]
    for p in junk:
        p.write_bytes(b"partial")
    keep = run / "notes.tmp"  # not an atomic-write leftover: not ours
    keep.write_text("mine")
    Run.reopen(run, (run / "metrics.jsonl").stat().st_size, 6).close()
    assert not any(p.exists() for p in junk) and keep.exists()


def test_data_over_the_size_limit_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    from descend.data import user

    monkeypatch.setattr(user, "MAX_VALUES", 1000)
    np.save(tmp_path / "x.npy", np.zeros((200, 8), np.float32))  # 1600 values
    np.save(tmp_path / "y.npy", np.arange(200) % 2)
    csv = tmp_path / "d.csv"
    csv.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(600)))
    for data in (tmp_path, csv):
        code = main(["train", "--data", str(data), "--model", "logistic", "--epochs", "1", "--out",
                     str(tmp_path / "runs"), "--quiet"])
        assert code == 2
        assert "more than the limit of 1000" in one_line(capsys.readouterr().err)


# --- kills while pruning and while writing the report ----------------------------------------------------

KILL_IN = '''
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from tests.test_resume import build
from descend.train import Run

real_unlink = Path.unlink
def unlink(self, *args, **kwargs):  # die in the middle of pruning, with one old checkpoint removed
    real_unlink(self, *args, **kwargs)
    if self.name.startswith("step-") and sys.argv[2] == "prune":
        os.kill(os.getpid(), signal.SIGKILL)
Path.unlink = unlink
run = Run.create(sys.argv[1], "r")
build(run, "onecycle").fit()
run.close()
from descend import io
real_write = io.atomic_write
def dying_write(path, write, mode="wb"):  # die with the report half written in its temporary file
    def half(f):
        f.write("<html>" if "b" not in mode else b"<html>")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_write(path, half if Path(path).name == "report.html" else write, mode)
io.atomic_write = dying_write
from descend.report import build_report
build_report(run.dir)
'''


@pytest.mark.parametrize("where", ["prune", "report"])
def test_killed_while_pruning_or_writing_the_report_resumes_bit_identical(tmp_path, where):
    from tests.test_resume import build, final_state

    full = Run.create(tmp_path, "full")
    reference = final_state(build(full, "onecycle").fit(), full.dir)
    full.close()
    p = subprocess.run([sys.executable, "-c", KILL_IN, str(tmp_path / where), where, str(ROOT)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == -9, p.stderr[-2000:]
    run = tmp_path / where / "r"
    if where == "report":
        assert list(run.glob(".report.html.*.tmp")) and not (run / "report.html").exists()
    index = json.loads((run / "checkpoints" / "index.json").read_text())
    state = load(run / "checkpoints" / index["latest"])  # the index never names a deleted file
    assert all((run / "checkpoints" / k).is_file() for k in index["kept"])
    r = Run.reopen(run, state["metrics_offset"], state["step"])
    assert not list(run.glob(".*.tmp")) and not list((run / "checkpoints").glob(".*.tmp"))
    t = build(r, "onecycle")
    t.resume(run)
    t.fit()
    r.close()
    assert final_state(t, run) == reference
