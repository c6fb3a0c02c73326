"""Bad command lines: every one ends with exit status 2 and one line on stderr that names the flag, before any work,
and leaves the user's files as they were. One row per family; the rows run the CLI in-process (`prunebook.cli.main`)."""
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

from prunebook.cli import main

GOOD = "prunebook-good.pt"     # an existing file the user cares about: no bad command may touch it


def _setup(tmp: Path):
    (tmp / "adir").mkdir()
    (tmp / "afile").write_text("not a folder")
    (tmp / "garbage.pt").write_bytes(b"\x00 not a torch file")
    (tmp / GOOD).write_bytes(b"precious bytes")


P = ["prune", "--model", "mlp-mnist5k"]
ROWS = [
    # (id, argv, the flag or argument the message must name)
    ("unknown method", ["prune", "--method", "nope", "--model", "mlp-mnist5k"], "--method"),
    ("missing method", ["prune", "--model", "mlp-mnist5k"], "--method"),
    ("unknown model", ["prune", "--method", "paoding", "--model", "no-such-model"], "--model"),
    ("model is a directory", ["prune", "--method", "paoding", "--model", "adir"], "--model"),
    ("model file is not a saved model", ["prune", "--method", "paoding", "--model", "garbage.pt"], "path"),
    ("empty --out", P + ["--method", "paoding", "--out", ""], "--out"),
    ("--out is a directory", P + ["--method", "paoding", "--out", "adir"], "--out"),
    ("--out under a file", P + ["--method", "paoding", "--out", "afile/pruned.pt"], "--out"),
    ("--out not writable", P + ["--method", "paoding", "--out", "/proc/prunebook-pruned.pt"], "--out"),
    ("--samples 0", P + ["--method", "submodular", "--samples", "0"], "--samples"),
    ("--samples negative", P + ["--method", "submodular", "--samples", "-5"], "--samples"),
    ("--epochs 0", ["prune", "--model", "lenet5-mnist5k", "--method", "fpgm", "--epochs", "0"], "--epochs"),
    ("--samples not a number", P + ["--method", "submodular", "--samples", "many"], "--samples"),
    ("--compression not a number", P + ["--method", "submodular", "--compression", "abc"], "--compression"),
    ("--compression below 1", P + ["--method", "submodular", "--compression", "0.5"], "compression"),
    ("--compression nan", P + ["--method", "submodular", "--compression", "nan"], "compression"),
    ("--compression inf", P + ["--method", "magnitude", "--compression", "inf"], "compression"),
    ("--target above 1", P + ["--method", "paoding", "--target", "1.5"], "target"),
    ("--target nan", P + ["--method", "paoding", "--target", "nan"], "target"),
    ("flag the method does not take", P + ["--method", "paoding", "--compression", "4"], "--compression"),
    ("two budgets", P + ["--method", "submodular", "--compression", "4", "--target", "0.5"], "--target"),
    ("--option without =", P + ["--method", "paoding", "-o", "mode"], "--option"),
    ("unknown --option", P + ["--method", "paoding", "-o", "colour=red"], "colour"),
    ("bad --option value", P + ["--method", "paoding", "-o", "mode=greedy"], "mode"),
    ("unknown --data", P + ["--method", "submodular", "--data", "imagenet"], "--data"),
    ("--seed not an integer", P + ["--method", "random", "--seed", "1.5"], "--seed"),
    ("--fraction out of range", P + ["--method", "paoding", "--fraction", "2"], "fraction"),
    ("compare: bad --fractions", ["compare", "--models", "mlp-mnist5k", "--methods", "paoding", "--fractions", "a,b", "--out", "r.json"], "--fractions"),
    ("compare: bad --seeds", ["compare", "--models", "mlp-mnist5k", "--methods", "paoding", "--seeds", "x", "--out", "r.json"], "--seeds"),
    ("compare: empty --models", ["compare", "--models", ",", "--methods", "paoding", "--out", "r.json"], "--models"),
    ("compare: unknown model", ["compare", "--models", "nope", "--methods", "paoding", "--out", "r.json"], "--model"),
    ("compare: --out missing", ["compare", "--models", "mlp-mnist5k", "--methods", "paoding"], "--out"),
    ("compare: --out is a directory", ["compare", "--models", "mlp-mnist5k", "--methods", "paoding", "--out", "adir"], "--out"),
    ("compare: --samples 0", ["compare", "--models", "mlp-mnist5k", "--methods", "submodular", "--samples", "0", "--out", "r.json"], "--samples"),
    ("info: a directory", ["info", "adir"], "path"),
    ("info: no such file", ["info", "missing.pt"], "path"),
    ("info: not a saved model", ["info", "garbage.pt"], "path"),
    ("no command", [], "command"),
    ("unknown command", ["shrink"], "shrink"),
]


@pytest.mark.parametrize("argv, names", [pytest.param(a, n, id=i) for i, a, n in ROWS])
def test_bad_command_line(argv, names, tmp_path, capsys, monkeypatch):
    _setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    rng = torch.get_rng_state()
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, f"exit status {status}, stderr: {err!r}"
    assert err and "\n" not in err, f"expected one line on stderr, got {err!r}"
    assert err.startswith("prunebook"), err
    assert names in err, f"the message should name {names!r}: {err!r}"
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a bad command created or removed files"
    assert (tmp_path / GOOD).read_bytes() == b"precious bytes"
    assert torch.equal(torch.get_rng_state(), rng), "a bad command moved the global RNG"


def test_bad_option_never_touches_an_existing_output(tmp_path, capsys, monkeypatch):
    "A good --out that already holds a file, with an option that fails: the file keeps its bytes."
    _setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    status = main(P + ["--method", "paoding", "-o", "colour=red", "--out", GOOD])
    assert status == 2 and "colour" in capsys.readouterr().err
    assert (tmp_path / GOOD).read_bytes() == b"precious bytes"

