"""Small models of the kinds users bring: MLPs with mixed activations and a LayerNorm, a CNN chain, a LeNet with its own
forward, a features/pool/classifier module, ResNets with 1x1-projection shortcuts and with bottlenecks, depthwise-separable
convs, MobileNetV2 inverted residuals, a Conv1d net, a Transformer encoder classifier, two concatenated branches and a
tiny ViT. All take (1, 8, 8) inputs and give 10 logits."""
import torch, torch.nn as nn, torch.nn.functional as F

class LeNetModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 3), nn.Conv2d(6, 16, 3)
        self.fc1, self.fc2, self.fc3 = nn.Linear(16, 32), nn.Linear(32, 24), nn.Linear(24, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2); x = F.relu(self.conv2(x))
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))

class FeaturesClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Dropout(0.1), nn.ReLU(), nn.Linear(32, 10))
    def forward(self, x): return self.classifier(self.pool(self.features(x)))

class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.short = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(self, x): return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.short(x))

class ResNetProj(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.l1, self.l2 = Basic(8, 8, 1), Basic(8, 16, 2)
        self.fc = nn.Linear(16, 10)
    def forward(self, x): return self.fc(F.adaptive_avg_pool2d(self.l2(self.l1(self.stem(x))), 1).flatten(1))

class Bottleneck(nn.Module):
    def __init__(self, cin, mid, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid)
        self.c2, self.b2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False), nn.BatchNorm2d(mid)
        self.c3, self.b3 = nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(self, x):
        y = F.relu(self.b1(self.c1(x))); y = F.relu(self.b2(self.c2(y))); y = self.b3(self.c3(y))
        return F.relu(y + (x if self.down is None else self.down(x)))

class ResNetBottleneck(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layers = nn.Sequential(Bottleneck(16, 8, 32, 1), Bottleneck(32, 8, 32, 1), Bottleneck(32, 16, 64, 2))
        self.fc = nn.Linear(64, 10)
    def forward(self, x): return self.fc(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1))

class DepthwiseSeparable(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.dw, self.pw = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)
    def forward(self, x):
        x = F.relu(self.stem(x)); x = F.relu(self.bn(self.pw(F.relu(self.dw(x)))))
        return self.fc(x.mean((2, 3)))

class InvertedResidual(nn.Module):
    def __init__(self, c, t=4):
        super().__init__()
        h = c * t
        self.expand, self.b1 = nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h)
        self.dw, self.b2 = nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h)
        self.project, self.b3 = nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c)
    def forward(self, x):
        y = F.relu6(self.b1(self.expand(x))); y = F.relu6(self.b2(self.dw(y)))
        return x + self.b3(self.project(y))

class MobileNetV2ish(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.blocks = nn.Sequential(InvertedResidual(8), InvertedResidual(8))
        self.head = nn.Sequential(nn.Conv2d(8, 32, 1), nn.ReLU6())
        self.fc = nn.Linear(32, 10)
    def forward(self, x): return self.fc(self.head(self.blocks(self.stem(x))).mean((2, 3)))

class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(1, 8, 5), nn.Conv1d(8, 8, 5)
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 10)
    def forward(self, x):
        x = F.relu(self.c2(F.relu(self.c1(x.flatten(2)))))
        return self.fc2(F.relu(self.fc1(x.mean(2))))

class TransformerClassifier(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 2, dim_feedforward=32, dropout=0.0, batch_first=True), 1,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d, 10)
    def forward(self, x):
        x = x.view(x.shape[0], 8, 8)             # the 8 rows of an 8x8 image as tokens
        return self.head(self.encoder(self.embed(x)).mean(1))

class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(1, 4, 5, padding=2)
        self.mix = nn.Conv2d(10, 12, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(16, 10)
    def forward(self, x):
        y = torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], 1)
        return self.fc2(F.relu(self.fc1(F.relu(self.mix(y)).mean((2, 3)))))

class TinyViT(nn.Module):
    def __init__(self, d=16, patch=4):
        super().__init__()
        self.patch = nn.Conv2d(1, d, patch, patch)
        self.pos = nn.Parameter(torch.zeros(1, 4, d))
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 2, dim_feedforward=32, dropout=0.0, batch_first=True,
                                                                        norm_first=True), 2, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, 10)
    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.encoder(t)).mean(1))

def mlp_mixed():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.GELU(), nn.Dropout(0.1), nn.Linear(48, 32), nn.Tanh(),
                         nn.Linear(32, 32), nn.LayerNorm(32), nn.LeakyReLU(), nn.Linear(32, 24), nn.ReLU(), nn.Linear(24, 10))

def chain_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(16 * 16, 32), nn.ReLU(), nn.Linear(32, 10))

ARCHS = dict(mlp_mixed=mlp_mixed, chain_cnn=chain_cnn, lenet_module=LeNetModule, features_classifier=FeaturesClassifier,
             resnet_projection=ResNetProj, resnet_bottleneck=ResNetBottleneck, depthwise_separable=DepthwiseSeparable,
             mobilenetv2_inverted=MobileNetV2ish, conv1d=Conv1dNet, transformer=TransformerClassifier, two_branch=TwoBranch, tiny_vit=TinyViT)

class SqueezeExcite(nn.Module):
    "A conv whose channels are rescaled by a squeeze-and-excitation gate (global pool, bottleneck MLP, sigmoid)."
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.se1, self.se2 = nn.Linear(16, 4), nn.Linear(4, 16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)
    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        g = torch.sigmoid(self.se2(F.relu(self.se1(x.mean((2, 3))))))
        x = F.relu(self.conv2(x * g[:, :, None, None]))
        return self.fc(x.mean((2, 3)))

class DenseBlockNet(nn.Module):
    "A DenseNet-style block: each conv reads the concatenation of the stem and every earlier conv's output."
    def __init__(self, growth=4):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.c1 = nn.Conv2d(8, growth, 3, padding=1)
        self.c2 = nn.Conv2d(8 + growth, growth, 3, padding=1)
        self.trans = nn.Conv2d(8 + 2 * growth, 12, 1)
        self.fc = nn.Linear(12, 10)
    def forward(self, x):
        s = F.relu(self.stem(x))
        a = F.relu(self.c1(s)); s = torch.cat([s, a], 1)
        b = F.relu(self.c2(s)); s = torch.cat([s, b], 1)
        return self.fc(F.relu(self.trans(s)).mean((2, 3)))

ARCHS.update(squeeze_excite=SqueezeExcite, dense_block=DenseBlockNet)
