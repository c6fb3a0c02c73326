"""The installed `prunebook` console script, run as a user runs it: in a subprocess, in a temporary directory."""
import json, os, subprocess, sys
from pathlib import Path

import torch

EXE = Path(sys.executable).with_name("prunebook")


def run(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(EXE), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_console_script_is_installed():
    assert EXE.exists(), "pip install -e . must create the prunebook console script (settings.ini console_scripts)"


def test_cli_round_trip_prune_save_info_load_evaluate(tmp_path):
    from prunebook.core import load_pruned, count_params, count_macs
    from prunebook.data import load_mnist5k
    from prunebook.models import evaluate
    p = run("prune", "--method", "submodular", "--model", "lenet5-mnist5k", "--compression", "4", "--out", "pruned.pt", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["data"] == "512 unlabeled samples" and rep["compression"] >= 4 and rep["out"] == "pruned.pt"
    assert [r["batch"] for r in rep["latency"]] == [1, 256] and all(r["pruned_ms"] > 0 for r in rep["latency"])
    i = run("info", "pruned.pt", "--json", cwd=tmp_path)
    assert i.returncode == 0, i.stderr
    info = json.loads(i.stdout)
    model = load_pruned(tmp_path / "pruned.pt")
    assert info["params"] == count_params(model) == rep["params_after"]
    assert info["macs"] == count_macs(model, (1, 28, 28)) == rep["macs_after"]
    assert [l["units"] for l in info["layers"]] == [r["units_after"] for r in rep["layers"]]
    _, test = load_mnist5k()
    assert evaluate(model, test) == rep["test_acc_after"] and rep["test_acc_after"] > 0.8
    t = run("info", "pruned.pt", cwd=tmp_path)             # the table form names the method and the source model
    assert t.returncode == 0 and "pruned_from: lenet5-mnist5k" in t.stdout and "method: submodular" in t.stdout


def test_cli_bad_arguments_exit_nonzero_with_one_line(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00not a model")
    cases = [(["prune", "--method", "nope", "--model", "mlp-mnist5k"], "--method: expected one of"),
             (["prune", "--method", "paoding", "--model", "missing.pt"], "neither a file nor a zoo model"),
             (["prune", "--method", "paoding", "--model", "mlp-mnist5k", "--compression", "3"], "does not take it"),
             (["prune", "--method", "submodular", "--model", "mlp-mnist5k", "--compression", "0.5", "--no-latency"], "compression"),
             (["info", "junk.pt"], "not a model saved by prunebook"),
             (["info", "missing.pt"], "no such file"),
             (["compare", "--models", "mlp-mnist5k", "--fractions", "half", "--out", "r.json"], "--fractions"),
             ([], "required")]
    for argv, msg in cases:
        p = run(*argv, cwd=tmp_path)
        assert p.returncode == 2, (argv, p.returncode, p.stderr)
        assert msg in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, (argv, p.stderr)
    assert not (tmp_path / "r.json").exists()


def test_cli_compare_writes_rows(tmp_path):
    p = run("compare", "--models", "mlp-mnist5k", "--methods", "magnitude,random", "--fractions", "0.25,0.5", "--out", "r.json", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [(r["method"], r["fraction"]) for r in rows] == [("unpruned", 0.0), ("magnitude", 0.25), ("magnitude", 0.5), ("random", 0.25), ("random", 0.5)]
    acc = {(r["method"], r["fraction"]): r["acc"] for r in rows}
    assert acc[("magnitude", 0.25)] >= acc[("magnitude", 0.5)] and acc[("unpruned", 0.0)] > acc[("random", 0.5)]
