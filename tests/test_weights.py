"""The pretrained models ship with the package: fixed files, checked by hash, loaded without training.

Every number the book prints starts from these weights, so they are pinned here by SHA-256. Regenerating them
(`prunebook.models.ship_weights`, maintainers only) must update this table in the same commit.
"""
import json, shutil, subprocess, sys, zipfile
from pathlib import Path

import pytest
import torch

import prunebook.models as models
from prunebook.data import load_digits, load_mnist5k

ROOT = Path(__file__).resolve().parents[1]

SHIPPED = {
    "cnn-mnist5k": "1da67b2db7f1b049df749250b4454a66e76f035c227c9700c80dbcf86b7477e5",
    "lenet5-k3-mnist5k": "f48e03762e71b000bfd7d09914ac3fda99ec0749ea9a1a3dee307fbc95be552c",
    "lenet5-mnist5k": "72766eb3f8c7351dab0331ca549689d580fc78c1ebb82ae6c9c98fb0e4ae6710",
    "mlp-mnist5k": "e551dd4473bbf8536a90f1463b165d45e776e0b00f1a9ed43b4fc4851564f93c",
    "mlp-sigmoid-mnist5k": "5ae93e33bec6b9d406bd46b458e61623fa4b6180b71a28cea5651681c73afe24",
    "resnet20-digits": "836b358d2c7289d1727ae254ddbd80db0eeeedcdc85a51a802b8a1edf0051817",
    "resnet20-mnist5k": "e9e8cf05fd89bed9a06886899b7b4151dc82faa6108a9be840be13bdd7a169c8",
    "vgg-digits": "e6ebb9e865b8b6fbfb80692cd2f13d06de8e174e3c1c2dd9953f1820ed3dce59",
}


def test_every_recipe_ships_with_its_pinned_hash():
    manifest = models.weights_manifest()
    assert set(manifest) == set(models.RECIPES) == set(SHIPPED)
    for name, rec in manifest.items():
        f = models.weights_dir() / rec["file"]
        assert models._sha256(f) == rec["sha256"] == SHIPPED[name], name
        assert rec["recipe"] == json.dumps(models.RECIPES[name], sort_keys=True), name
        assert f.stat().st_size < 1 << 20, name                    # small models: the package stays small


@pytest.fixture
def no_training(monkeypatch):
    "Any training (the loop, a recipe run, an optimiser step) fails the test."
    def forbidden(*a, **k): raise AssertionError("pretrained() trained a model")
    monkeypatch.setattr(models, "train", forbidden)
    monkeypatch.setattr(models, "train_recipe", forbidden)
    monkeypatch.setattr(torch.optim.Optimizer, "step", forbidden)


def test_pretrained_never_trains(no_training):
    data = {"mnist5k": load_mnist5k()[1], "digits": load_digits()[1]}
    state = torch.random.get_rng_state()
    for name in models.RECIPES:
        m = models.pretrained(name)
        assert not m.training and m.meta["sha256"] == SHIPPED[name]
        test = data[models.RECIPES[name]["data"]]
        # the stored accuracy was measured on the machine that made the weights; other CPU kernels may flip a near-tie
        assert abs(models.evaluate(m, test) - m.meta["test_acc"]) <= 2 / len(test) + 1e-9, name
    assert torch.equal(torch.random.get_rng_state(), state)        # loading leaves the caller's RNG alone


def test_retrain_runs_the_recipe(monkeypatch):
    calls = []
    monkeypatch.setattr(models, "train_recipe", lambda name, progress=False: calls.append(name) or "trained")
    assert models.pretrained("vgg-digits", retrain=True) == "trained" and calls == ["vgg-digits"]


def test_damaged_or_missing_weights_are_errors(tmp_path, monkeypatch):
    shutil.copytree(models.weights_dir(), tmp_path / "weights")
    monkeypatch.setattr(models, "weights_dir", lambda: tmp_path / "weights")
    f = tmp_path / "weights" / "vgg-digits.pt"
    b = bytearray(f.read_bytes()); b[-100] ^= 1; f.write_bytes(bytes(b))
    with pytest.raises(RuntimeError, match="sha256"): models.pretrained("vgg-digits")
    mf = tmp_path / "weights" / "manifest.json"
    manifest = json.loads(mf.read_text()); del manifest["mlp-mnist5k"]; mf.write_text(json.dumps(manifest))
    with pytest.raises(FileNotFoundError, match="retrain=True"): models.pretrained("mlp-mnist5k")
    with pytest.raises(ValueError, match="available"): models.pretrained("resnet1000")


def test_wheel_contains_the_weights(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv*", ".git", "_book", "_e2e", "build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
                   check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("prunebook-*.whl"))).namelist()
    assert "prunebook/weights/manifest.json" in names
    assert {f"prunebook/weights/{n}.pt" for n in SHIPPED} <= set(names)
