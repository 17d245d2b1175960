"""Seven PyTorch programs port to descend by rewriting their import lines only.

Each program under examples/pytorch_style/ is a plain PyTorch script (MNIST CNN, VAE, polynomial regression,
word language model, the blitz CIFAR classifier, makemore, micrograd-style expression checks). The test runs it
as a real subprocess under PyTorch, which writes its initial weights to an .npz file (`--init-out`), then the same
source with only `import torch...` / `from torch... import` rewritten to descend, which loads those weights
(`--init-in`). Data come from NumPy seeds inside the programs, so both see the same batches. The printed loss
lines must agree to float32 precision. Random streams differ between the frameworks, so the comparison runs
turn off what draws from them during training: dropout (`--no-dropout` / `--dropout 0`), shuffling, and the VAE's
noise, which comes from NumPy under `--numpy-noise`. Sampling (makemore) still runs under descend's generator
but its text is not compared.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "pytorch_style"
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
IMPORT_RULES = [
    (re.compile(r"^import torch$"), "import descend as torch"),
    (re.compile(r"^import torch\.([\w.]+) as (\w+)$"), r"import descend.\1 as \2"),
    (re.compile(r"^import torch\.([\w.]+)$"), r"import descend.\1"),
    (re.compile(r"^from torch((?:\.\w+)*) import (.+)$"), r"from descend\1 import \2"),
]


def port(source: str) -> tuple[str, int]:
    """The source with its torch import lines rewritten for descend, and how many lines changed."""
    lines, changed = [], 0
    for line in source.splitlines():
        new = line
        for pattern, repl in IMPORT_RULES:
            if pattern.match(line):
                new = pattern.sub(repl, line)
                break
        changed += new != line
        lines.append(new)
    return "\n".join(lines) + "\n", changed


def run(name: str, framework: str, args: list, tmp_path: Path) -> str:
    """Run examples/pytorch_style/<name> under `framework` as a subprocess; its stdout."""
    source = (EXAMPLES / name).read_text()
    if framework == "descend":
        source, changed = port(source)
        assert changed >= 1, f"{name}: no torch import line to rewrite"
        left = [line for line in source.splitlines() if re.match(r"\s*(import|from) torch\b", line)]
        assert not left, f"{name}: torch imports the rewrite missed: {left}"
    script = tmp_path / f"{framework}_{name}"
    script.write_text(source)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{name} under {framework} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def losses(stdout: str, pattern: str) -> list:
    """Every number captured by `pattern` in the program's output."""
    return [float(m) for m in re.findall(pattern, stdout)]


def compare(name: str, args: list, pattern: str, tmp_path: Path, rtol: float = 1e-4,
            expect: int = 2, torch_args: tuple = (), descend_args: tuple = ()) -> tuple:
    """The loss curves of `name` under torch and descend from the same initial weights."""
    init = str(tmp_path / "init.npz")
    theirs = run(name, "torch", [*args, *torch_args, "--init-out", init], tmp_path)
    ours = run(name, "descend", [*args, *descend_args, "--init-in", init], tmp_path)
    t, d = losses(theirs, pattern), losses(ours, pattern)
    assert len(t) >= expect, f"{name}: torch printed too few loss lines:\n{theirs}"
    assert len(d) == len(t), f"{name}: {len(d)} loss lines under descend, {len(t)} under torch\n{ours}"
    np.testing.assert_allclose(d, t, rtol=rtol, atol=1e-6, err_msg=f"{name} loss curve")
    return t, d, theirs, ours


def lines_starting(stdout: str, *prefixes: str) -> list:
    """The output lines that start with one of `prefixes`."""
    return [line for line in stdout.splitlines() if line.startswith(prefixes)]


def test_port_rewrites_only_import_lines():
    source = ("import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\n"
              "import torch.utils.data\nx = torch.zeros(2)  # import torch\n")
    ported, changed = port(source)
    assert changed == 4
    assert ported.splitlines() == ["import descend as torch", "import descend.nn as nn",
                                   "from descend.utils.data import DataLoader", "import descend.utils.data",
                                   "x = torch.zeros(2)  # import torch"]


def test_mnist(tmp_path):
    args = ["--epochs", "2", "--batch-size", "16", "--train-size", "64", "--test-size", "32",
            "--log-interval", "1", "--no-dropout", "--save-model"]
    t, *_ = compare("mnist.py", args, rf"[Ll]oss: ({NUMBER})", tmp_path, expect=10)
    assert min(t[-4:]) < t[0]
    import descend

    saved = descend.load(str(tmp_path / "mnist_cnn.pt"))  # the descend run's, written last
    assert saved["fc1.weight"].shape == (128, 9216) and len(saved) == 8


def test_vae(tmp_path):
    args = ["--epochs", "2", "--batch-size", "16", "--train-size", "64", "--test-size", "32", "--hidden", "64",
            "--latent", "8", "--log-interval", "1", "--numpy-noise"]
    t, *_ = compare("vae.py", args, rf"(?:Loss|loss): ({NUMBER})", tmp_path, expect=10)
    assert t[-1] < t[0]


def test_regression_runs_to_its_stop_criterion(tmp_path):
    args = ["--log-interval", "10"]
    init = str(tmp_path / "init.npz")
    theirs = run("regression.py", "torch", [*args, "--init-out", init], tmp_path)
    ours = run("regression.py", "descend", [*args, "--init-in", init], tmp_path)
    pattern = rf"loss ({NUMBER})"
    t, d = losses(theirs, pattern), losses(ours, pattern)
    assert len(t) >= 5 and len(d) == len(t)
    np.testing.assert_allclose(d, t, rtol=1e-3, atol=1e-5)
    stop = r"Loss: (\S+) after (\d+) batches"
    assert re.search(stop, ours).group(2) == re.search(stop, theirs).group(2)
    assert float(re.search(stop, ours).group(1)) < 1e-3
    assert re.search(r"Learned function:\s+(.*)", ours).group(1) == re.search(r"Learned function:\s+(.*)",
                                                                                theirs).group(1)


def test_cifar10_classifier(tmp_path):
    """Worker processes load the batches under descend; torch loads them in-process (same batches, same
    order), because starting its workers costs several seconds."""
    args = ["--epochs", "2", "--train-size", "96", "--test-size", "40", "--batch-size", "8", "--print-every", "2",
            "--no-shuffle"]
    *_, theirs, ours = compare("cifar10_classifier.py", args, rf"loss: ({NUMBER})", tmp_path, expect=12,
                               torch_args=("--num-workers", "0"), descend_args=("--num-workers", "2"))
    # the reloaded state dict predicts as torch's does, overall and class by class
    assert len(lines_starting(ours, "Predicted", "Accuracy")) >= 3
    assert lines_starting(ours, "Predicted", "Accuracy") == lines_starting(theirs, "Predicted", "Accuracy")


WORD_LM_ARGS = ["--epochs", "3", "--emsize", "16", "--nhid", "16", "--nlayers", "2", "--batch_size", "8",
                "--bptt", "10", "--sentences", "120", "--log-interval", "1", "--lr", "5"]


def assert_same_test_loss(ours: str, theirs: str) -> None:
    """The word model's final test loss (after reloading the best saved state dict) agrees."""
    pattern = rf"End of training \| test loss ({NUMBER})"
    d, t = losses(ours, pattern), losses(theirs, pattern)
    assert len(d) == len(t) == 1
    np.testing.assert_allclose(d, t, rtol=1e-5)


def test_word_language_model(tmp_path):
    """Tied LSTM, clipping, manual SGD, annealing (epoch 3 runs at lr/4) and the test perplexity after reloading
    the best state dict; dropout 0 because the frameworks draw different masks."""
    *_, theirs, ours = compare("word_language_model.py", [*WORD_LM_ARGS, "--tied", "--dropout", "0"],
                               rf"loss ({NUMBER})", tmp_path, expect=30)
    assert "lr 1.25" in ours
    assert_same_test_loss(ours, theirs)


def test_word_language_model_transformer(tmp_path):
    """The original's TransformerModel: a subclass of nn.Transformer that uses its encoder with a causal mask
    made by log(tril(ones)), and a sine/cosine PositionalEncoding buffer."""
    args = [*WORD_LM_ARGS, "--epochs", "2", "--nhid", "32", "--lr", "1", "--model", "Transformer", "--dropout", "0"]
    *_, theirs, ours = compare("word_language_model.py", args, rf"loss ({NUMBER})", tmp_path, expect=20)
    assert_same_test_loss(ours, theirs)


ONNX_MODELS = ["LSTM", "GRU", "Transformer"]


@pytest.mark.parametrize("model", ONNX_MODELS)
def test_word_language_model_onnx_export(tmp_path, model):
    try:
        import descend.onnx  # noqa: F401
    except ImportError:
        pytest.skip("descend.onnx is not there yet")
    path = tmp_path / "model.onnx"
    run("word_language_model.py", "descend", [*WORD_LM_ARGS, "--epochs", "1", "--model", model, "--onnx-export",
                                              str(path)], tmp_path)
    onnx = pytest.importorskip("onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path))
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in arg.shape]
        feeds[arg.name] = np.zeros(shape, np.int64 if "int64" in arg.type else np.float32)
    log_probs = session.run(None, feeds)[0]
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, rtol=1e-5)


MAKEMORE_MODELS = {
    "transformer": ["--n-layer", "2", "--n-head", "2", "--n-embd", "16"],
    "mlp": ["--n-embd", "8", "--n-embd2", "32"],
}


@pytest.mark.parametrize("kind", list(MAKEMORE_MODELS))
def test_makemore(tmp_path, kind):
    """Training curves and evaluations match in `--sequential` mode (no random split or batch order); then the
    saved best transformer is reloaded and sampled with a seeded Generator, twice, to the same names."""
    args = ["--type", kind, *MAKEMORE_MODELS[kind], "--names", "200", "--batch-size", "16", "--max-steps", "12",
            "--log-interval", "1", "--eval-interval", "6", "--sample-interval", "10", "--sequential"]
    *_, theirs, ours = compare("makemore.py", args, rf"loss:? ({NUMBER})", tmp_path, expect=14)
    assert sum(int(n) for n in re.findall(r"(\d+) samples that are", ours)) == 10  # sampled at step 10
    if kind != "transformer":
        return
    samples = [run("makemore.py", "descend", [*args, "--sample-only"], tmp_path) for _ in range(2)]
    assert samples[0] == samples[1]
    assert sum(int(n) for n in re.findall(r"(\d+) samples that are", samples[0])) == 50


def test_micrograd_checks(tmp_path):
    """Each check asserts torch (or descend, once ported) against the file's own scalar autograd; the printed
    values and gradients must also agree between the two runs."""
    theirs = run("micrograd_checks.py", "torch", [], tmp_path)
    ours = run("micrograd_checks.py", "descend", [], tmp_path)
    assert ours.splitlines()[-1] == "all checks passed"
    t, d = losses(theirs, NUMBER), losses(ours, NUMBER)
    assert len(t) >= 12 and len(d) == len(t)
    np.testing.assert_allclose(d, t, rtol=1e-9)
    assert re.sub(NUMBER, "#", ours) == re.sub(NUMBER, "#", theirs)


RANDOM_RUNS = {
    "mnist.py": (["--epochs", "1", "--batch-size", "16", "--train-size", "48", "--test-size", "16", "--log-interval",
                  "1", "--shuffle"], rf"Loss: ({NUMBER})"),
    "vae.py": (["--epochs", "1", "--batch-size", "16", "--train-size", "48", "--test-size", "16", "--hidden", "32",
                "--latent", "4", "--log-interval", "1"], rf"Loss: ({NUMBER})"),
    "cifar10_classifier.py": (["--epochs", "1", "--train-size", "32", "--test-size", "16", "--batch-size", "8",
                               "--print-every", "1", "--num-workers", "0"], rf"loss: ({NUMBER})"),
    "word_language_model.py": ([*WORD_LM_ARGS, "--epochs", "1", "--model", "RNN_TANH", "--dropout", "0.2"],
                               rf"loss ({NUMBER})"),
    "makemore.py": (["--type", "transformer", *MAKEMORE_MODELS["transformer"], "--names", "100", "--batch-size",
                     "8", "--max-steps", "4", "--log-interval", "1", "--eval-interval", "2", "--sample-interval",
                     "3", "--top-k", "5"], rf"loss ({NUMBER})"),
}




@pytest.mark.parametrize("name", list(RANDOM_RUNS))
def test_runs_with_its_random_parts_under_descend(tmp_path, name):
    """The paths the comparisons switch off (dropout, shuffling, randn_like noise, random split and sampler,
    an RNN_TANH model) run to the end under descend with finite losses."""
    args, pattern = RANDOM_RUNS[name]
    values = losses(run(name, "descend", args, tmp_path), pattern)
    assert len(values) >= 3 and np.isfinite(values).all()
