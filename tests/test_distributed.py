"""prunebook under `torchrun --nproc_per_node 2` (gloo backend, CPU, loopback only) and on whatever device is present.

Each task of tests/distributed/ddp_worker.py runs in two processes; every rank saves what it computed. The tests
require: identical results on both ranks, identical results on a rerun, and, for the submodular statistics, the
same sums as one process over all the samples (float64, to 1e-10)."""
import os, socket, subprocess, sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed" / "ddp_worker.py"
TORCHRUN = Path(sys.executable).with_name("torchrun")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def torchrun(task, out, n=2):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([str(TORCHRUN), "--nproc_per_node", str(n), "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                        str(WORKER), task, str(out)], capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, f"torchrun {task} failed:\n{p.stderr[-3000:]}"
    return [torch.load(Path(out) / f"{task}-rank{r}.pt", weights_only=False) for r in range(n)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    "Every task twice, in two processes each."
    d = tmp_path_factory.mktemp("ddp")
    return {task: (torchrun(task, d / "a"), torchrun(task, d / "b")) for task in ("stats", "train", "fpgm", "psap")}


def test_torchrun_is_installed():
    assert TORCHRUN.exists(), f"{TORCHRUN} is missing (it comes with torch)"


def test_two_ranks_really_ran(runs):
    for task, (first, _) in runs.items():
        assert [r["rank"] for r in first] == [0, 1] and all(r["world"] == 2 for r in first), task


def test_submodular_statistics_equal_one_process(runs):
    from prunebook.models import pretrained
    from prunebook.data import load_mnist5k, unlabeled_subset
    from prunebook.submodular import next_inputs, next_weight, gram_stats, pruning_pairs
    first, _ = runs["stats"]
    model = pretrained("lenet5-mnist5k")
    X = unlabeled_subset(load_mnist5k()[0], 512, seed=0)
    p = pruning_pairs(model)[2]
    B = next_inputs(model, X, p.next)
    G, H, t0 = gram_stats(B, B, next_weight(model, p.next))
    assert [r["rows"] for r in first] == [256, 256]                      # each rank collected half of the rows
    for r in first:
        assert r["G"].dtype == torch.float64
        assert (r["G"] - G).abs().max() <= 1e-10 * G.abs().max()
        assert (r["H"] - H).abs().max() <= 1e-10 * H.abs().max()
        assert abs(float(r["t0"]) - float(t0)) <= 1e-10 * float(t0)
    assert first[0]["data"] == "512 unlabeled samples"                   # the report counts all the samples, not a shard


@pytest.mark.parametrize("task", ["stats", "train", "fpgm", "psap"])
def test_ranks_agree_and_reruns_repeat(runs, task):
    first, again = runs[task]
    assert first[0]["digest"] == first[1]["digest"], f"{task}: the two ranks ended with different models"
    assert first[0]["digest"] == again[0]["digest"], f"{task}: a rerun gave another model"
    if "kept" in first[0]:
        assert first[0]["kept"] == first[1]["kept"] == again[0]["kept"]
    if "steps" in first[0]:                                              # every pruning decision, epoch by epoch
        assert first[0]["steps"] == first[1]["steps"] == again[0]["steps"]
    if "history" in first[0]:                                            # losses are summed over ranks: one history
        assert first[0]["history"] == first[1]["history"]


def test_device_agnostic_paths_on_this_machine():
    "The CPU path of the device-agnostic code; the same code on CUDA where a GPU is present (test below)."
    from prunebook.distributed import device_of, to_device
    from prunebook.models import pretrained, evaluate
    from prunebook.data import load_mnist5k
    m = pretrained("mlp-mnist5k")
    assert device_of(m) == torch.device("cpu")
    _, test = load_mnist5k()
    assert 0.9 < evaluate(m, test) <= 1.0


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                  reason="no CUDA device on this machine: the CUDA path runs where one is present"))]


@pytest.mark.parametrize("dev", DEVICES)
def test_every_path_on_the_models_device(dev):
    "Every method, evaluation, the attacks and interval bounds on a model on `dev`: results on that device, and close to the CPU's."
    import prunebook
    from prunebook.models import pretrained, evaluate
    from prunebook.data import load_mnist5k, load_digits, unlabeled_subset
    from prunebook.robustness import adversarial_accuracy, noise_accuracy, robustness_metrics, interval_bounds, ood_auroc
    train, test = load_mnist5k()
    cpu = pretrained("lenet5-mnist5k"); m = pretrained("lenet5-mnist5k").to(dev)
    assert abs(evaluate(m, test) - evaluate(cpu, test)) < 0.005
    on_dev = lambda net: next(net.parameters()).device.type == dev
    small, rep = prunebook.prune(m, "submodular", unlabeled_subset(train, 256, seed=0), compression=4, latency=(1,))
    assert on_dev(small) and rep.device.startswith(dev)
    sub = torch.utils.data.TensorDataset(*(t[:512] for t in train.tensors))
    small, rep = prunebook.prune(m, "fpgm", sub, target=0.5, epochs=1, pretrained=True, latency=(1,))
    assert on_dev(small)
    mlp_cpu = pretrained("mlp-mnist5k"); mlp = pretrained("mlp-mnist5k").to(dev)
    for method, budget in (("paoding", dict(target=0.5)), ("magnitude", dict(compression=2)), ("random", dict(compression=2))):
        small, _ = prunebook.prune(mlp, method, **budget, latency=(1,))
        small_cpu, _ = prunebook.prune(mlp_cpu, method, **budget, latency=None)
        assert on_dev(small) and abs(evaluate(small, test) - evaluate(small_cpu, test)) < 0.01, method
    r = adversarial_accuracy(mlp, test, 0.05, "pgd", n=200)
    assert abs(r["acc"] - adversarial_accuracy(mlp_cpu, test, 0.05, "pgd", n=200)["acc"]) < 0.03
    assert abs(noise_accuracy(mlp, test, 0.2, n=200) - noise_accuracy(mlp_cpu, test, 0.2, n=200)) < 0.02
    robustness_metrics(mlp, test, n=200); ood_auroc(mlp, test.tensors[0][:200], torch.rand(200, 1, 28, 28))
    iv = interval_bounds(mlp.eval(), 0.0, 1.0)
    assert next(iter(iv.values())).lo.device.type == dev
    dtrain, _ = load_digits()
    res = pretrained("resnet20-digits").to(dev)
    small, _ = prunebook.prune(res, "psap", dtrain, target=0.4, epochs=1, pretrained=True, latency=(1,))
    assert on_dev(small)
