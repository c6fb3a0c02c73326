"""Tests of the exported package itself (imported as a user would), complementing the in-notebook tests."""
import copy

import pytest
import torch

from prunebook import core, paoding, psap, robustness, submodular
from prunebook.models import lenet5, mlp, vgg_small


def small_mlp(seed=0):
    torch.manual_seed(seed)
    m = mlp(sizes=(64, 32, 32, 10), input_shape=(1, 8, 8))
    return m.eval()


def test_public_names_exist():
    for mod, names in [(core, ["remove_units", "mask_units", "count_params", "count_macs", "PruneReport", "save_pruned", "load_pruned"]),
                       (paoding, ["paoding_prune", "magnitude_prune", "random_prune", "Profile", "PROFILES"]),
                       (submodular, ["greedy_select", "submodular_prune", "uniform_fraction"]),
                       (psap, ["psap_prune", "sfp_flops", "allocate"]),
                       (robustness, ["fgsm", "pgd", "Interval", "interval_bounds", "robustness_metrics"])]:
        for n in names: assert n in mod.__all__, f"{mod.__name__}.{n} is not exported"


def test_paoding_from_package_is_deterministic_and_exact():
    m = small_mlp()
    a, ra = paoding.paoding_prune(m, target=0.5, step=1 / 32, seed=3)
    b, rb = paoding.paoding_prune(m, target=0.5, step=1 / 32, seed=3)
    masked, _ = paoding.paoding_prune(m, target=0.5, step=1 / 32, seed=3, physical=False)
    x = torch.rand(32, 1, 8, 8)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert core.prunable_layers(a) == {"1": 16, "3": 16, "5": 10}
    assert torch.allclose(a(x), masked(x), atol=1e-5)
    assert ra.data == "none" and ra.params_after < ra.params_before


def test_paoding_warns_when_steps_are_not_whole_neurons():
    with pytest.warns(UserWarning, match="exceed the nominal target"):
        _, rep = paoding.paoding_prune(small_mlp(), target=0.25, step=1 / 64)
    assert rep.logs["actual"]["1"] > rep.logs["nominal"]      # 16 steps of ceil(32/64) = 1 neuron: 50 % of the layer, nominal 25 %


def test_paoding_leaves_caller_model_alone_on_error():
    m = small_mlp()
    before = copy.deepcopy(m.state_dict())
    with pytest.raises(ValueError, match="target"):
        paoding.paoding_prune(m, target=1.5)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_greedy_select_matches_bruteforce_when_modular():
    q, _ = torch.linalg.qr(torch.randn(20, 5, dtype=torch.float64))
    B = q * torch.tensor([5., 1., 3., 2., 4.], dtype=torch.float64)
    W = torch.ones(1, 5, dtype=torch.float64)
    r = submodular.greedy_select(B, B, W, 3)
    assert r.order == [0, 4, 2]           # orthogonal columns: gains are the column norms squared, largest first
    assert abs(r.f[-1] - (25 + 16 + 9) / (25 + 1 + 9 + 4 + 16)) < 1e-12


def test_submodular_prune_vgg_budget_and_function():
    torch.manual_seed(0)
    v = vgg_small().eval()
    X = torch.rand(64, 1, 8, 8)
    small, rep = submodular.submodular_prune(v, X, compression=2, variant="seq")
    assert rep.logs["achieved_compression"] >= 2
    assert small(X).shape == (64, 10)
    with pytest.raises(ValueError, match="compression"):
        submodular.submodular_prune(v, X, compression=0.5)


def test_psap_hard_removal_exact_on_a_chain_cnn():
    torch.manual_seed(0)
    net = vgg_small(cfg=(8, "M", 8, "M")).train()
    ds = torch.utils.data.TensorDataset(torch.rand(96, 1, 8, 8), torch.randint(0, 10, (96,)))
    small, rep = psap.psap_prune(net, ds, target=0.5, epochs=2, batch_size=32, method="psap")
    x = torch.rand(16, 1, 8, 8)
    assert torch.allclose(rep.masked_model(x), small(x), atol=1e-4)
    assert [small[0].out_channels, small[4].out_channels] != [8, 8]


def test_save_load_roundtrip_of_pruned_zoo_model(tmp_path):
    m = lenet5()
    p = core.remove_units(m, "3", [0, 2, 5, 7, 11])
    back = core.load_pruned(core.save_pruned(p, tmp_path / "m.pt"))
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(back(x), p.eval()(x))


def test_unified_prune_equals_each_method_function():
    "prunebook.prune calls the method function with exactly the options given: the same seed gives the same model."
    import prunebook
    m = small_mlp()
    X = torch.rand(96, 1, 8, 8)
    same = lambda a, b: all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    a, ra = prunebook.prune(m, "paoding", target=0.5, step=1 / 32, seed=5, latency=None)
    assert same(a, paoding.paoding_prune(m, target=0.5, step=1 / 32, seed=5)[0]) and ra.latency is None
    b, rb = prunebook.prune(m, "submodular", X, compression=2, variant="seq", seed=1)
    assert same(b, submodular.submodular_prune(m, X, compression=2, variant="seq", seed=1)[0])
    assert rb.data == "96 unlabeled samples" and rb.latency.column("batch") == [1, 256]
    c, _ = prunebook.prune(m, "magnitude", compression=2, latency=None)
    assert same(c, submodular.submodular_prune(m, None, compression=2, selection="weightnorm", reweight=False)[0])
    torch.manual_seed(0)
    net = vgg_small(cfg=(8, "M", 8, "M")).train()
    ds = torch.utils.data.TensorDataset(torch.rand(96, 1, 8, 8), torch.randint(0, 10, (96,)))
    d, rd = prunebook.prune(net, "fpgm", ds, target=0.5, epochs=1, batch_size=32, seed=2, latency=None)
    assert same(d, psap.psap_prune(net, ds, target=0.5, epochs=1, batch_size=32, seed=2, method="fpgm")[0])
    assert rd.data == "96 labelled training samples"


def test_unified_prune_rejects_bad_options_and_data_clearly():
    import prunebook
    m = small_mlp()
    with pytest.raises(TypeError, match=r"'paoding' accepts \['target', 'step'"):
        prunebook.prune(m, "paoding", compression=4)
    with pytest.raises(ValueError, match="method: expected one of"):
        prunebook.prune(m, "optimal-brain-damage")
    with pytest.raises(ValueError, match="needs a few hundred unlabeled inputs"):
        prunebook.prune(m, "submodular")
    with pytest.raises(TypeError, match="needs the labelled training set"):
        prunebook.prune(m, "psap", torch.rand(8, 1, 8, 8))
    with pytest.raises(ValueError, match="is data-free"):
        prunebook.prune(m, "magnitude", torch.rand(8, 1, 8, 8))
