"""Bad arguments to the one-call API `prunebook.prune`: every one is refused before any work with a one-line
TypeError/ValueError whose message names the argument, and leaves the caller's model (weights, buffers, requires_grad
flags, train/eval mode) and torch's global RNG state as they were. Legal but unusual inputs (float64 data for a float32
model, a float64 model, integer labels of another width) work, with the same guarantees."""
import math, os, warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

torch.set_num_threads(1)

from prunebook import prune
from prunebook.api import check_inputs
from prunebook.models import mlp, lenet5, vgg_small, resnet_cifar

N = 64
NAN, INF = float("nan"), float("inf")


# ---- small models (fresh on every call) ----
def MLP():                 # Flatten, 16-64-64-4: two hidden layers of 64, so Paoding's default step 1/64 is one neuron
    torch.manual_seed(0); return mlp((16, 64, 64, 4), input_shape=(16,))
def MLP_EVAL(): return MLP().eval()
def MLP_FROZEN():
    m = MLP(); m[1].weight.requires_grad_(False); return m
def FLAT(): return nn.Sequential(nn.Flatten(), nn.Linear(4, 2))          # no hidden layer: nothing to prune
def LAYERNORM(): return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))
def BARE_LINEAR(): return nn.Linear(4, 2)
def REUSED():              # one Linear at two places of the chain
    lin = nn.Linear(8, 8); return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), lin, nn.ReLU(), lin, nn.ReLU(), nn.Linear(8, 2))
def TIED():                # two Linears sharing one weight tensor
    a, b = nn.Linear(8, 8), nn.Linear(8, 8); b.weight = a.weight
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), a, nn.ReLU(), b, nn.ReLU(), nn.Linear(8, 2))
def VGG():                 # conv 8 + BN + ReLU, pool, Linear 16, Linear 10; 1x8x8 inputs
    torch.manual_seed(0); return vgg_small(cfg=(8, "M"), hidden=16)
def VGG_EVAL(): return VGG().eval()
def VGG_FROZEN():
    m = VGG(); m[5].weight.requires_grad_(False); return m   # the hidden Linear
def LENET():               # 1x12x12 inputs, 3x3 kernels
    torch.manual_seed(0); return lenet5(kernel_size=3, input_size=12)
def RESNET():
    torch.manual_seed(0); return resnet_cifar(8, width=0.25, input_size=8)
class Noisy(nn.Module):     # draws from the global RNG even in eval mode: the one-sample check must not move it
    def forward(self, x): return x + 0 * torch.randn_like(x)
def NOISY():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), Noisy(), nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
def WRONG_INPUT_SHAPE():
    m = MLP(); m.input_shape = (3,); return m


# ---- tiny data (fresh on every call; a private generator, so building it does not move the global RNG) ----
def _g(): return torch.Generator().manual_seed(1)
def X(*shape): return lambda: torch.rand(N, *shape, generator=_g())
def Y(c=10, n=N): return torch.randint(0, c, (n,), generator=_g())
def DS(shape=(1, 8, 8), c=10, labels=None, inputs=None):
    def make():
        x = torch.rand(N, *shape, generator=_g()) if inputs is None else inputs()
        return TensorDataset(x, Y(c) if labels is None else labels(Y(c)))
    return make
def with_nan(make, value=NAN):
    def f():
        x = make(); x.view(-1)[5] = value; return x
    return f
def mismatched_labels():
    ds = DS()(); ds.tensors = (ds.tensors[0], ds.tensors[1][:10]); return ds   # TensorDataset itself refuses to build this


MLP_X, VGG_DS, LENET_DS = X(16), DS(), DS((1, 12, 12))

# (id, model factory, method, data factory or None, options, expected exception, the argument the message names, substring)
ROWS = [
    # method
    ("method is a list", MLP, ["paoding"], None, {}, TypeError, "method", "(a str)"),
    ("method is a dict", MLP, {"paoding": 1}, None, {}, TypeError, "method", "'paoding'"),
    ("method is None", MLP, None, None, {}, TypeError, "method", "'submodular'"),
    ("method is an int", MLP, 3, None, {}, TypeError, "method", "(a str)"),
    ("method unknown", MLP, "obd", None, {}, ValueError, "method", "expected one of"),
    # model
    ("model is a str", lambda: "mlp", "paoding", None, {}, TypeError, "model", "nn.Module"),
    ("model is None", lambda: None, "magnitude", None, {}, TypeError, "model", "nn.Module"),
    ("paoding: no hidden layer", FLAT, "paoding", None, {}, ValueError, "model", "hidden Linear"),
    ("magnitude: no hidden layer", FLAT, "magnitude", None, {}, ValueError, "model", "nothing to prune"),
    ("random: no hidden layer", FLAT, "random", None, {}, ValueError, "model", "nothing to prune"),
    ("submodular: no hidden layer", FLAT, "submodular", X(4), {}, ValueError, "model", "nothing to prune"),
    ("magnitude: a bare Linear", BARE_LINEAR, "magnitude", None, {}, ValueError, "model", "nothing to prune"),
    ("magnitude: not a chain, no input shape", LAYERNORM, "magnitude", None, {}, ValueError, "input_shape", "example input shape"),
    ("paoding: a Linear used twice", REUSED, "paoding", None, {}, ValueError, "model", "same tensor"),
    ("magnitude: tied weights", TIED, "magnitude", None, {}, ValueError, "model", "same tensor"),
    ("submodular: tied weights", TIED, "submodular", lambda: torch.rand(16, 4), {}, ValueError, "model", "same tensor"),
    ("paoding: residual net", RESNET, "paoding", None, {}, ValueError, "model", "hidden Linear layer whose only reader"),
    ("psap: no Conv2d", MLP, "psap", DS((16,), 4), {"epochs": 1}, ValueError, "model", "no nn.Conv2d"),
    ("fpgm: no Conv2d", MLP, "fpgm", DS((16,), 4), {"epochs": 1}, ValueError, "model", "no nn.Conv2d"),
    # the kind of data
    ("paoding given data", MLP, "paoding", MLP_X, {}, ValueError, "data", "data-free"),
    ("submodular without data", MLP, "submodular", None, {}, ValueError, "data", "unlabeled inputs"),
    ("submodular given a list", MLP, "submodular", lambda: [1.0, 2.0], {}, TypeError, "data", "unlabeled inputs"),
    ("psap given unlabeled inputs", VGG, "psap", X(1, 8, 8), {"epochs": 1}, TypeError, "data", "labelled training set"),
    # the inputs
    ("submodular uint8 inputs", MLP, "submodular", lambda: (MLP_X() * 255).to(torch.uint8), {}, TypeError, "data", "x.float() / 255"),
    ("submodular int64 inputs", MLP, "submodular", lambda: torch.randint(0, 255, (N, 16), generator=_g()), {}, TypeError, "data", "floating point"),
    ("submodular bool inputs", MLP, "submodular", lambda: MLP_X() > 0.5, {}, TypeError, "data", "floating point"),
    ("psap uint8 inputs", VGG, "psap", DS(inputs=lambda: torch.randint(0, 255, (N, 1, 8, 8), generator=_g()).to(torch.uint8)),
     {"epochs": 1}, TypeError, "data", "x.float() / 255"),
    ("submodular one NaN", MLP, "submodular", with_nan(MLP_X), {}, ValueError, "data", "NaN or infinite"),
    ("submodular one inf", MLP, "submodular", with_nan(MLP_X, INF), {}, ValueError, "data", "NaN or infinite"),
    ("submodular float64 overflows float32", MLP, "submodular", with_nan(lambda: MLP_X().double(), 1e300), {}, ValueError, "data", "NaN or infinite"),
    ("psap NaN inputs", VGG, "psap", DS(inputs=with_nan(X(1, 8, 8))), {"epochs": 1}, ValueError, "data", "NaN or infinite"),
    ("submodular wrong sample shape", MLP, "submodular", X(15), {}, ValueError, "data", "does not fit the model"),
    ("submodular missing batch dim", MLP, "submodular", lambda: torch.rand(16, generator=_g()), {}, ValueError, "data", "does not fit the model"),
    ("psap wrong channels", VGG, "psap", DS((3, 8, 8)), {"epochs": 1}, ValueError, "data", "does not fit the model"),
    ("sfp wrong image size", LENET, "sfp", DS((1, 8, 8)), {"epochs": 1}, ValueError, "data", "does not fit the model"),
    ("submodular empty TensorDataset", MLP, "submodular", lambda: TensorDataset(), {}, ValueError, "data", "no tensors"),
    ("submodular 0 samples", MLP, "submodular", lambda: torch.rand(0, 16), {}, ValueError, "data", "no samples"),
    ("submodular a scalar", MLP, "submodular", lambda: torch.tensor(1.0), {}, ValueError, "data", "no samples"),
    ("psap 0 samples", VGG, "psap", lambda: TensorDataset(torch.rand(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)),
     {"epochs": 1}, ValueError, "data", "no samples"),
    # the labels
    ("psap float labels", VGG, "psap", DS(labels=lambda y: y.float()), {"epochs": 1}, TypeError, "labels", "labels.long()"),
    ("fpgm float labels", LENET, "fpgm", DS((1, 12, 12), labels=lambda y: y.float()), {"epochs": 1}, TypeError, "labels", "integer"),
    ("psap bool labels", VGG, "psap", DS(labels=lambda y: y > 4), {"epochs": 1}, TypeError, "labels", "torch.bool"),
    ("psap labels (N, 1)", VGG, "psap", DS(labels=lambda y: y.view(-1, 1)), {"epochs": 1}, ValueError, "labels", "labels.view(-1)"),
    ("psap one-hot labels", VGG, "psap", DS(labels=lambda y: nn.functional.one_hot(y, 10)), {"epochs": 1}, ValueError, "labels", "argmax"),
    ("psap labels >= C", VGG, "psap", DS(labels=lambda y: y + 10), {"epochs": 1}, ValueError, "labels", "[0, 10)"),
    ("asfp negative labels", VGG, "asfp", DS(labels=lambda y: y - 11), {"epochs": 1}, ValueError, "labels", "[0, 10)"),
    ("sfp labels beyond 10 outputs", LENET, "sfp", DS((1, 12, 12), c=12), {"epochs": 1}, ValueError, "labels", "10 outputs"),
    ("psap fewer labels than inputs", VGG, "psap", mismatched_labels, {"epochs": 1}, ValueError, "labels", "10 labels for 64 inputs"),
    ("submodular actgrad float labels", MLP, "submodular", DS((16,), 4, labels=lambda y: y.float()), {"selection": "actgrad"},
     TypeError, "labels", "integer"),
    # input_shape
    ("input_shape a str", MLP, "paoding", None, {"input_shape": "abc"}, TypeError, "input_shape", "tuple of positive ints"),
    ("input_shape an int", MLP, "magnitude", None, {"input_shape": 16}, TypeError, "input_shape", "tuple of positive ints"),
    ("input_shape floats", MLP, "paoding", None, {"input_shape": (16.0,)}, TypeError, "input_shape", "tuple of positive ints"),
    ("input_shape empty", MLP, "paoding", None, {"input_shape": ()}, TypeError, "input_shape", "tuple of positive ints"),
    ("input_shape zero", MLP, "paoding", None, {"input_shape": (0, 16)}, ValueError, "input_shape", ">= 1"),
    ("input_shape negative", MLP, "random", None, {"input_shape": (-16,)}, ValueError, "input_shape", ">= 1"),
    ("input_shape wrong", MLP, "paoding", None, {"input_shape": (3,)}, ValueError, "input_shape", "does not fit the model"),
    ("input_shape wrong, with latency", MLP, "magnitude", None, {"input_shape": (3,), "latency": (1,)}, ValueError, "input_shape", "does not fit"),
    ("psap input_shape wrong", VGG, "psap", VGG_DS, {"input_shape": (3, 8, 8), "epochs": 1}, ValueError, "input_shape", "does not fit"),
    ("model.input_shape wrong, with latency", WRONG_INPUT_SHAPE, "paoding", None, {"latency": (1,)}, ValueError, "input_shape", "model.input_shape"),
    # options
    ("paoding target nan", MLP, "paoding", None, {"target": NAN}, ValueError, "target", "finite"),
    ("paoding target inf", MLP, "paoding", None, {"target": INF}, ValueError, "target", "finite"),
    ("paoding step nan", MLP, "paoding", None, {"step": NAN}, ValueError, "step", "finite"),
    ("magnitude compression nan", MLP, "magnitude", None, {"compression": NAN}, ValueError, "compression", "finite"),
    ("random compression inf", MLP, "random", None, {"compression": INF}, ValueError, "compression", "finite"),
    ("submodular compression -inf", MLP, "submodular", MLP_X, {"compression": -INF}, ValueError, "compression", "finite"),
    ("psap target nan", VGG, "psap", VGG_DS, {"target": NAN, "epochs": 1}, ValueError, "target", "finite"),
    ("fpgm target inf", VGG, "fpgm", VGG_DS, {"target": INF, "epochs": 1}, ValueError, "target", "finite"),
    ("psap lr nan", VGG, "psap", VGG_DS, {"lr": NAN, "epochs": 1}, ValueError, "lr", "finite"),
    ("magnitude per_layer nan", MLP, "magnitude", None, {"per_layer": {"1": NAN}}, ValueError, "per_layer", "[0, 1]"),
    ("paoding target above 1", MLP, "paoding", None, {"target": 1.5}, ValueError, "target", "(0, 1)"),
    ("magnitude compression below 1", MLP, "magnitude", None, {"compression": 0.5}, ValueError, "compression", ">= 1"),
    ("psap epochs 0", VGG, "psap", VGG_DS, {"epochs": 0}, ValueError, "epochs", ">= 1"),
    ("psap band above 1", VGG, "psap", VGG_DS, {"band": 1.5, "epochs": 1}, ValueError, "band", "[0, 1]"),
    ("psap ema 0", VGG, "psap", VGG_DS, {"ema": 0, "epochs": 1}, ValueError, "ema", "(0, 1]"),
    ("psap settle 0", VGG, "psap", VGG_DS, {"settle": 0, "epochs": 1}, ValueError, "settle", "(0, 1]"),
    ("psap settle True", VGG, "psap", VGG_DS, {"settle": True, "epochs": 1}, ValueError, "settle", "(0, 1]"),
    ("psap budget flops", VGG, "psap", VGG_DS, {"budget": "flops", "epochs": 1}, ValueError, "budget", "'filters' or 'macs'"),
    ("psap sparsity dense", VGG, "psap", VGG_DS, {"sparsity": "dense", "epochs": 1}, ValueError, "sparsity", "expected one of"),
    ("psap coupled 'yes'", VGG, "psap", VGG_DS, {"coupled": "yes", "epochs": 1}, TypeError, "coupled", "True or False"),
    ("magnitude coupled 1", MLP, "magnitude", None, {"coupled": 1}, TypeError, "coupled", "True or False"),
    ("submodular bad variant after the one-sample check", NOISY, "submodular", MLP_X, {"variant": "bogus"}, ValueError, "variant", "expected one of"),
    ("submodular bad input_shape, noisy model", NOISY, "submodular", MLP_X, {"input_shape": (15,)}, ValueError, "input_shape", "does not fit"),
    ("paoding unknown option", MLP, "paoding", None, {"targte": 0.5}, TypeError, "targte", "unknown option"),
    ("paoding latency (0,)", MLP, "paoding", None, {"latency": (0,)}, ValueError, "latency", "positive batch sizes"),
]


def _state(model):
    "Everything of the caller's model that `prune` must leave alone."
    if not isinstance(model, nn.Module): return model
    return ({k: v.clone() for k, v in model.state_dict().items()}, [p.requires_grad for p in model.parameters()],
            [m.training for m in model.modules()])


def _same(a, b):
    if not isinstance(a, tuple): return a is b or a == b
    return (a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0])) and a[1:] == b[1:]


def _call(model, method, data, options):
    options = dict(options); latency = options.pop("latency", None)
    return prune(model, method, data, latency=latency, **options)


def test_table_is_big_enough():
    assert len(ROWS) >= 40 and len({r[0] for r in ROWS}) == len(ROWS)
    assert len({r[2] for r in ROWS if isinstance(r[2], str)}) >= 7            # several methods


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("rid,make_model,method,make_data,options,exc,arg,needle", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(rid, make_model, method, make_data, options, exc, arg, needle):
    model = make_model()
    data = make_data() if make_data is not None else None
    before, rng = _state(model), torch.get_rng_state()
    with pytest.raises(Exception) as info:
        _call(model, method, data, options)
    e = info.value
    msg = str(e)
    assert type(e) is exc, f"{type(e).__name__}: {msg}"
    assert needle in msg, msg
    assert msg.startswith(f"{arg}:") or (msg.startswith("prune(") and arg in msg), msg
    assert "\n" not in msg.strip(), msg
    assert _same(_state(model), before), "the caller's model changed"
    assert torch.equal(torch.get_rng_state(), rng), "the global RNG state changed"


# (id, model factory, method, data factory, options): legal inputs that must work
LEGAL = [
    ("submodular float64 data, float32 model", MLP, "submodular", lambda: MLP_X().double(), {"compression": 2}),
    ("psap float64 data, float32 model", VGG, "psap", DS(inputs=lambda: X(1, 8, 8)().double()), {"epochs": 1}),
    ("submodular float32 data, float64 model", lambda: MLP().double(), "submodular", MLP_X, {"compression": 2}),
    ("paoding float64 model", lambda: MLP().double(), "paoding", None, {"target": 0.5}),
    ("paoding float64 model, latency", lambda: MLP().double(), "paoding", None, {"latency": (1, 4)}),
    ("magnitude float64 model", lambda: MLP().double(), "magnitude", None, {"compression": 2}),
    ("random float64 model", lambda: MLP().double(), "random", None, {"compression": 2}),
    ("submodular float64 model and data", lambda: MLP().double(), "submodular", lambda: MLP_X().double(), {"compression": 2}),
    ("psap float64 model", lambda: VGG().double(), "psap", DS(inputs=lambda: X(1, 8, 8)().double()), {"epochs": 1}),
    ("psap int32 labels", VGG, "psap", DS(labels=lambda y: y.int()), {"epochs": 1}),
    ("fpgm uint8 labels", LENET, "fpgm", DS((1, 12, 12), labels=lambda y: y.to(torch.uint8)), {"epochs": 1}),
    ("psap eval-mode model", VGG_EVAL, "psap", VGG_DS, {"epochs": 1}),
    ("psap at the uniform rule's MACs", VGG, "psap", VGG_DS, {"epochs": 2, "budget": "macs", "target": 0.5}),
    ("sfp frozen hidden Linear", VGG_FROZEN, "sfp", VGG_DS, {"epochs": 1}),
    ("submodular eval-mode model", MLP_EVAL, "submodular", MLP_X, {}),
    ("magnitude frozen layer", MLP_FROZEN, "magnitude", None, {}),
    ("paoding input_shape as a list", MLP, "paoding", None, {"input_shape": [16]}),
    ("submodular noisy model", NOISY, "submodular", MLP_X, {"input_shape": (16,)}),
    ("submodular unlabeled TensorDataset", MLP, "submodular", lambda: TensorDataset(MLP_X()), {}),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("rid,make_model,method,make_data,options", LEGAL, ids=[r[0] for r in LEGAL])
def test_legal_input_works(rid, make_model, method, make_data, options):
    model = make_model()
    data = make_data() if make_data is not None else None
    before, rng = _state(model), torch.get_rng_state()
    dtype = next(model.parameters()).dtype
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)             # a legal run that removes something does not warn
        small, report = _call(model, method, data, options)
    assert torch.equal(torch.get_rng_state(), rng), "the global RNG state changed"
    assert _same(_state(model), before), "the caller's model changed"
    assert report.params_after < report.params_before
    assert next(small.parameters()).dtype == dtype             # computed in the model's dtype
    x = torch.rand(2, *getattr(model, "input_shape", (16,)), generator=_g()).to(dtype)
    assert torch.isfinite(small.eval()(x)).all()


def test_cast_data_gives_the_same_model():
    "float64 data for a float32 model is cast: the same pruned model as with the float32 data."
    a, _ = prune(MLP(), "submodular", MLP_X(), compression=2, latency=None)
    b, _ = prune(MLP(), "submodular", MLP_X().double(), compression=2, latency=None)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_check_inputs_returns_the_same_object_when_nothing_is_cast():
    x = MLP_X()
    assert check_inputs(MLP(), "submodular", x) is x
    ds = VGG_DS()
    assert check_inputs(VGG(), "psap", ds) is ds
    cast = check_inputs(VGG(), "psap", TensorDataset(ds.tensors[0].double(), ds.tensors[1].int()))
    assert cast.tensors[0].dtype == torch.float32 and cast.tensors[1].dtype == torch.long


# (id, model factory, method, data factory, options, the budget option the warning names): legal, but nothing removed
NOTHING = [
    ("magnitude compression 1", MLP, "magnitude", None, {"compression": 1}, "compression"),
    ("random compression 1", MLP, "random", None, {"compression": 1}, "compression"),
    ("submodular compression 1", MLP, "submodular", MLP_X, {"compression": 1}, "compression"),
    ("magnitude per_layer all kept", MLP, "magnitude", None, {"per_layer": {"1": 1.0, "3": 1.0}}, "per_layer"),
]


@pytest.mark.parametrize("rid,make_model,method,make_data,options,budget", NOTHING, ids=[r[0] for r in NOTHING])
def test_nothing_removed_warns(rid, make_model, method, make_data, options, budget):
    model = make_model()
    before, rng = _state(model), torch.get_rng_state()
    with pytest.warns(UserWarning, match=rf"^{budget}: nothing was removed"):
        small, report = _call(model, method, make_data() if make_data else None, options)
    assert report.params_after == report.params_before
    assert _same(_state(model), before) and torch.equal(torch.get_rng_state(), rng)
