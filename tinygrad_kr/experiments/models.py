"""The networks the course trains, written as its PyTorch code writes them."""
import tinygrad_kr.nn as nn


class SLP(nn.Module):
    """Single-layer perceptron 784 -> 10 (the course's week-6 lab)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(in_features=784, out_features=10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        return self.fc1(x)


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Module):
    """784 -> hidden... -> 10 with an activation after every hidden Linear.

    ``batch_norm`` puts BatchNorm1d between each hidden Linear and its
    activation, ``dropout`` a Dropout after each activation.
    """

    def __init__(self, hidden=(100, 100, 100, 100), activation="relu", batch_norm=False,
                 dropout=0.0, in_features=784, num_classes=10):
        super().__init__()
        layers, width = [nn.Flatten()], in_features
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def linears(self):
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, x):
        return self.net(x)

    def hidden_activations(self, x):
        """The output of each hidden layer's activation (for the histograms)."""
        outputs = []
        for m in self.net:
            x = m(x)
            if isinstance(m, tuple(ACTIVATIONS.values())):
                outputs.append(x)
        return outputs


class LeNet5(nn.Module):
    """conv5x5(6) -> ReLU -> maxpool2 -> conv5x5(16) -> ReLU -> maxpool2 -> 120 -> 84 -> classes.

    ``padding=2`` on the first convolution keeps a 28x28 digit 28x28, as
    LeNet-5 saw its 32x32 inputs; the input size is an argument, as in the
    course report, so other image sizes work.
    """

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2))
        side = (image_size // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the input, then ReLU.

    The input passes through a 1x1 conv-BN where the width changes.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut = None
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class SmallResNet(nn.Module):
    """A ResNet-like model small enough for a CPU: stem, three residual blocks, global average pool.

    28x28 -> stem conv(16) + pool -> 14x14 -> block(16) -> pool -> 7x7 ->
    block(16->32) -> block(32) -> average -> Linear(32, classes).
    """

    def __init__(self, in_channels=1, num_classes=10, width=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(ResidualBlock(width, width), nn.MaxPool2d(2),
                                    ResidualBlock(width, 2 * width),
                                    ResidualBlock(2 * width, 2 * width))
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))
