"""`prunebook.prune` on the architectures users bring (tests/architectures.py).

For every (architecture, method) the method can apply to, the pruned model runs on new inputs with the same output
shape, has the parameters and MACs its report states, saves and loads into a fresh instance of its class, and is
exact where it should be:
- magnitude and random remove units without refitting: the pruned model equals the original with the removed units'
  outgoing weights zeroed (`zero_outgoing`), to 1e-5 (units read through a LayerNorm change its statistics when they
  leave: those are removed in the reference model too);
- FPGM and PSAP-R zero filters while training (a residual stream's channels as one unit), then remove them: the pruned
  model equals the masked model to 1e-5;
- submodular refits the next layers: its greedy objective lies in [0, 1] and grows along the selection;
- Paoding merges neurons of any hidden Linear layer read by another Linear layer through one activation; the pruned
  model equals the merged, full-width one to 1e-5.
A method that cannot apply by its nature refuses in one line (a ValueError naming `model`), before any work.
"""
import copy, warnings
import pytest, torch
import prunebook
from prunebook.core import count_params, count_macs, zero_outgoing, remove_units, prunable_layers, save_pruned, load_pruned
from architectures import ARCHS

SHAPE = (1, 8, 8)
X = torch.rand(128, *SHAPE, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 10, (128,), generator=torch.Generator().manual_seed(1))
TRAIN = torch.utils.data.TensorDataset(X, Y)
X_NEW = torch.rand(16, *SHAPE, generator=torch.Generator().manual_seed(2))

# what each method needs and cannot do without: (method, data, options, architectures it refuses and why)
NO_CONV2D = {"mlp_mixed", "conv1d", "transformer"}
PAODING_NONE = {"resnet_projection", "resnet_bottleneck", "depthwise_separable", "mobilenetv2_inverted", "transformer", "tiny_vit",
                "dense_block"}      # one Linear layer, or the only hidden ones inside an attention block
CASES = {
    "magnitude": (None, dict(compression=1.5), {}),
    "random": (None, dict(compression=1.5, seed=3), {}),
    "submodular": (X, dict(compression=1.5), {}),
    "fpgm": (TRAIN, dict(target=0.5, epochs=1, pretrained=True), {**{a: "no nn.Conv2d" for a in NO_CONV2D}, "tiny_vit": "coupled"}),
    "psap": (TRAIN, dict(target=0.5, epochs=1, pretrained=True), {**{a: "no nn.Conv2d" for a in NO_CONV2D}, "tiny_vit": "coupled"}),
    "sfp": (TRAIN, dict(target=0.5, epochs=1, pretrained=True), {**{a: "no nn.Conv2d" for a in NO_CONV2D}, "tiny_vit": "coupled"}),
    "asfp": (TRAIN, dict(target=0.5, epochs=1, pretrained=True), {**{a: "no nn.Conv2d" for a in NO_CONV2D}, "tiny_vit": "coupled"}),
    # Paoding merges neurons of a hidden Linear layer read by another Linear layer through one activation, and needs
    # an interval rule for every node of the traced graph: a model with no such layer pair is refused in one line
    # (in mlp_mixed the layers whose change would cross the LayerNorm stay whole, with a warning)
    "paoding": (None, dict(target=0.25, step=1 / 8), {a: "hidden Linear layer whose only reader" for a in PAODING_NONE}),
}


def build(arch):
    torch.manual_seed(0)
    m = ARCHS[arch]().eval()
    with torch.no_grad():          # non-trivial BatchNorm statistics, so that exactness checks mean something
        for mod in m.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.uniform_(-0.5, 0.5); mod.running_var.uniform_(0.5, 2); mod.bias.uniform_(-0.5, 0.5)
    return m


def run(model, method):
    data, opts, _ = CASES[method]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # Torch-Pruning's notes on parameters it finds outside modules
        return prunebook.prune(model, method, data, latency=None, input_shape=SHAPE, **opts)


@pytest.mark.parametrize("method", list(CASES))
@pytest.mark.parametrize("arch", list(ARCHS))
def test_prune_any_architecture(arch, method, tmp_path):
    model = build(arch)
    before = copy.deepcopy(model.state_dict())
    refuses = CASES[method][2].get(arch)
    if refuses:
        with pytest.raises(ValueError, match=f"^model: .*{refuses}") as e: run(model, method)
        assert "\n" not in str(e.value)
        return
    small, rep = run(model, method)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())          # the caller's model is untouched
    with torch.no_grad():
        out, ref = small(X_NEW), model(X_NEW)
    assert out.shape == ref.shape
    assert rep.params_after == count_params(small) < count_params(model) == rep.params_before
    assert rep.macs_after == count_macs(small, SHAPE) and rep.macs_before == count_macs(model, SHAPE)
    assert rep.macs_after < rep.macs_before
    save_pruned(small, tmp_path / "small.pt")                          # and it saves and loads into a fresh instance
    back = load_pruned(tmp_path / "small.pt", ARCHS[arch]()).eval()
    with torch.no_grad(): torch.testing.assert_close(back(X_NEW), out, atol=1e-6, rtol=1e-6)
    removed = {n: [i for i in range(u) if i not in set(rep.kept[n])] for n, u in prunable_layers(model).items() if n in rep.kept}
    assert any(removed.values())
    if method in ("magnitude", "random"):
        for layer, log in rep.logs["layers"].items():     # a layer given no units keeps one, silenced (its readers' columns zeroed)
            if log["silent"]: removed[layer] = list(range(log["units"]))
        masked = model
        for layer, drop in removed.items():     # read through a LayerNorm, the units leave its statistics: removed, not zeroed
            if drop and not rep.logs["layers"][layer]["through"]: masked = zero_outgoing(masked, layer, drop, input_shape=SHAPE)
        for layer, drop in removed.items():
            if drop and rep.logs["layers"][layer]["through"]:
                masked = remove_units(masked, layer, rep.kept[layer], input_shape=SHAPE)
        with torch.no_grad(): torch.testing.assert_close(out, masked(X_NEW), atol=1e-5, rtol=1e-5)
    elif method == "submodular":
        for layer, log in rep.logs["layers"].items():
            f = log["f"]
            assert all(-1e-9 <= a <= b + 1e-9 <= 1 + 2e-9 for a, b in zip(f, f[1:])), (layer, f)
    elif method == "paoding":                  # merged neurons have zero outgoing weights: cutting them changes nothing
        assert rep.logs["steps"]
        assert list(rep.logs["left_whole"]) == (["1", "4"] if arch == "mlp_mixed" else [])
        data, opts, _ = CASES[method]
        merged, _ = prunebook.prune(model, method, data, latency=None, input_shape=SHAPE, physical=False, **opts)
        with torch.no_grad(): torch.testing.assert_close(out, merged(X_NEW), atol=1e-5, rtol=1e-5)
    else:
        with torch.no_grad(): torch.testing.assert_close(out, rep.masked_model(X_NEW), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ["chain_cnn", "mlp_mixed"])
def test_graph_engine_equals_chain_engine_on_chains(arch):
    model = build(arch)
    for layer, n in list(prunable_layers(model).items())[:-1]:
        keep = list(range(0, n, 2))
        try: a = remove_units(model, layer, keep, engine="chain")
        except NotImplementedError: continue           # a module the chain walker has no rule for (the LayerNorm)
        b = remove_units(model, layer, keep, engine="graph", input_shape=SHAPE)
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), layer


def test_what_graph_models_prune():
    "Which groups each family prunes: units that Linear/Conv2d layers read in blocks (submodular); units only convs write (PSAP)."
    from prunebook.submodular import pruning_pairs
    from prunebook.psap import prunable_convs, conv_groups
    res = build("resnet_projection")
    # a residual stream is one group: its writers (stem and each block's last conv, the projection) go together, and
    # every layer that reads it (each block's first conv, the projection, the head) is refitted
    assert [(p.layer, p.writers, p.readers) for p in pruning_pairs(res, SHAPE)] == [
        ("stem.0", ("l1.c2",), (("l1.c1", 9), ("l2.c1", 9), ("l2.short.0", 1))), ("l1.c1", (), (("l1.c2", 9),)),
        ("l2.c1", (), (("l2.c2", 9),)), ("l2.c2", ("l2.short.0",), (("fc", 1),))]
    assert [p.layer for p in pruning_pairs(res, SHAPE, coupled=False)] == ["l1.c1", "l2.c1"]   # the streams keep their width
    # PSAP prunes each residual stream as one unit (all its writers together) and the inner convs
    assert [(g.root, g.writers) for g in conv_groups(res, SHAPE)] == [
        ("stem.0", ("stem.0", "l1.c2")), ("l1.c1", ("l1.c1",)), ("l2.c1", ("l2.c1",)), ("l2.c2", ("l2.c2", "l2.short.0"))]
    assert [n for n, _ in prunable_convs(res, SHAPE, coupled=False)] == ["l1.c1", "l2.c1"]
    mob = build("mobilenetv2_inverted")                  # the stream of two inverted residuals; expand and depthwise together
    assert [(g.root, g.writers) for g in conv_groups(mob, SHAPE)] == [
        ("stem.0", ("stem.0", "blocks.0.project", "blocks.1.project")), ("blocks.0.expand", ("blocks.0.expand", "blocks.0.dw")),
        ("blocks.1.expand", ("blocks.1.expand", "blocks.1.dw")), ("head.0", ("head.0",))]
    mixed = build("mlp_mixed")            # the group read through the LayerNorm: its reader is refitted after the removal
    assert [(p.layer, p.through) for p in pruning_pairs(mixed, SHAPE)] == [("1", None), ("4", None), ("6", "7"), ("9", None)]
    vit = build("transformer")
    assert [p.layer for p in pruning_pairs(vit, SHAPE)] == ["encoder.layers.0.linear1"]   # the feed-forward hidden units


class Hardcoded(torch.nn.Module):
    "A forward pass that fixes the width of conv `c2`'s output (x.view with constant sizes)."
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.c1, self.c2 = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.fc, self.out = nn.Linear(8 * 16, 10), nn.Linear(10, 10)
    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.c2(torch.relu(self.c1(x)))), 2)
        return self.out(torch.relu(self.fc(x.view(x.size(0), 8 * 16))))


@pytest.mark.parametrize("method", ["magnitude", "submodular", "fpgm"])
def test_a_hardcoded_width_stays_whole_and_says_so(method):
    torch.manual_seed(0)
    model = Hardcoded().eval()
    data, opts, _ = CASES[method]
    with pytest.warns(UserWarning, match="c2 stay whole"):
        small, rep = prunebook.prune(model, method, data, latency=None, input_shape=SHAPE, **opts)
    assert small.c2.out_channels == 8 and small.c1.out_channels < 8
    assert small(X_NEW).shape == (16, 10)


class InplaceResidualMLP(torch.nn.Module):
    "An MLP with an in-place residual sum around two layers: fc2 can merge (read by fc3 through a ReLU), fc1 and fc3 cannot."
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.fc1, self.fc2, self.fc3, self.out = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 10)
    def forward(self, x):
        h = torch.relu(self.fc1(x.view(-1, 64))); r = h
        h = self.fc3(torch.relu(self.fc2(h))); h += r
        return self.out(torch.relu(h))


class TwoHeads(torch.nn.Module):
    "A hidden layer read by two heads (not mergeable: a merge must rewrite one reader) after one that is (tanh)."
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.fc0, self.fc1, self.a, self.b = nn.Linear(64, 64), nn.Linear(64, 32), nn.Linear(32, 10), nn.Linear(32, 10)
    def forward(self, x):
        h = torch.relu(self.fc1(torch.tanh(self.fc0(x.flatten(1)))))
        return self.a(h) + self.b(h)


def _paoding_models():
    nn = torch.nn
    return dict(
        tanh_chain=(nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 10)), ["1", "3"]),
        batchnorm1d=(nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16), nn.SiLU(),
                                   nn.Linear(16, 10)), ["1", "4"]),
        gelu_dropout=(nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Dropout(0.2), nn.GELU(), nn.Linear(32, 10)), ["1"]),
        dilated_conv=(nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2), nn.LeakyReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ELU(),
                                    nn.Flatten(), nn.Linear(4, 32), nn.Softplus(), nn.Linear(32, 10)), ["5"]),
        inplace_residual=(InplaceResidualMLP(), ["fc2"]), two_heads=(TwoHeads(), ["fc0"]))


@pytest.mark.parametrize("name", list(_paoding_models()))
def test_paoding_on_graphs(name):
    "Paoding merges in every layer that another Linear reads through one activation; cutting the merged units changes nothing."
    torch.manual_seed(0)
    model, layers = _paoding_models()[name]
    model.train()                                              # passed in train mode: the caller's mode is kept
    opts = dict(latency=None, input_shape=SHAPE, target=0.5, step=1 / 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small, rep = prunebook.prune(model, "paoding", **opts)
        merged, _ = prunebook.prune(model, "paoding", physical=False, **opts)
    assert model.training and all(m.training for m in model.modules())
    units = prunable_layers(model)
    assert {n: len(k) for n, k in rep.kept.items()} == {n: units[n] // 2 for n in layers}
    with torch.no_grad(): torch.testing.assert_close(small.eval()(X_NEW), merged.eval()(X_NEW), atol=1e-5, rtol=1e-5)
    assert rep.params_after == count_params(small) < count_params(model)
