"""ResNet, ResNeXt and Wide ResNet (torchvision's: the stride of a Bottleneck
is on its 3x3 convolution, "ResNet v1.5")."""
from functools import partial

from ... import nn
from ._api import Weights, WeightsEnum, _load_weights, _ovewrite_named_param, \
    handle_legacy_interface, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._presets import ImageClassification

__all__ = ["ResNet", "BasicBlock", "Bottleneck",
           "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights",
           "ResNet152_Weights", "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights",
           "ResNeXt101_64X4D_Weights", "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights",
           "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
           "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding (= dilation, so stride 1 keeps the size), no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        # conv1 and downsample both downsample the input when stride != 1
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, groups and dilation), 1x1 expand
    by ``expansion`` = 4, and a shortcut (ResNet-50 and deeper, ResNeXt, Wide ResNet)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """A 7x7/2 stem, a 3x3/2 max pool, four stages of ``block`` x ``layers[i]``
    (64, 128, 256, 512 planes; stride 2 from the second stage on, or dilation
    where ``replace_stride_with_dilation`` says so), global average pool and fc.

    Input (N, 3, H, W); output (N, num_classes). ``zero_init_residual`` zeroes
    the last norm weight of each block, so every block starts as the identity.
    ``norm_layer(num_channels)`` replaces BatchNorm2d."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        # the last norm of each residual branch at zero: each block starts as the identity,
        # which improves the model by 0.2~0.3% (https://arxiv.org/abs/1706.02677)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def _forward_impl(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.fc(x)

    def forward(self, x):
        return self._forward_impl(x)


def _resnet(block, layers, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = ResNet(block, layers, **kwargs)
    return model if weights is None else _load_weights(model, weights, progress)


_COMMON_META = {"min_size": (1, 1), "categories": _IMAGENET_CATEGORIES}
_URL = "https://download.pytorch.org/models/"
_RECIPE_V1 = "https://github.com/pytorch/vision/tree/main/references/classification#resnet"
_RECIPE_RESNEXT = "https://github.com/pytorch/vision/tree/main/references/classification#resnext"
_RECIPE_NEW = "https://github.com/pytorch/vision/issues/3995#new-recipe"
_RECIPE_WIDE = "https://github.com/pytorch/vision/pull/912#issue-445437439"
_DOCS_V1 = ("These weights reproduce closely the results of the paper using a simple training "
            "recipe.")
_DOCS_V2 = ("These weights improve upon the results of the original paper by using "
            "TorchVision's `new training recipe "
            "<https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-"
            "latest-primitives/>`_.")


def _imagenet(file, num_params, recipe, acc1, acc5, ops, file_size, docs, resize_size=256):
    """ImageNet-1K weights: V1 files are evaluated after resizing to 256, V2 files to 232."""
    sizes = {"crop_size": 224} if resize_size == 256 else {"crop_size": 224,
                                                           "resize_size": resize_size}
    return Weights(
        url=_URL + file,
        transforms=partial(ImageClassification, **sizes),
        meta={**_COMMON_META, "num_params": num_params, "recipe": recipe,
              "_metrics": {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}},
              "_ops": ops, "_file_size": file_size, "_docs": docs})


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet18-f37072fd.pth", 11689512, _RECIPE_V1, 69.758, 89.078,
                              1.814, 44.661, _DOCS_V1)
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet34-b627a593.pth", 21797672, _RECIPE_V1, 73.314, 91.420,
                              3.664, 83.275, _DOCS_V1)
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet50-0676ba61.pth", 25557032, _RECIPE_V1, 76.130, 92.862,
                              4.089, 97.781, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("resnet50-11ad3fa6.pth", 25557032,
                              "https://github.com/pytorch/vision/issues/3995"
                              "#issuecomment-1013906621", 80.858, 95.434, 4.089, 97.79, _DOCS_V2,
                              resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet101-63fe2227.pth", 44549160, _RECIPE_V1, 77.374, 93.546,
                              7.801, 170.511, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("resnet101-cd907fc2.pth", 44549160, _RECIPE_NEW, 81.886, 95.780,
                              7.801, 170.53, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet152-394f9c45.pth", 60192808, _RECIPE_V1, 78.312, 94.046,
                              11.514, 230.434, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("resnet152-f82ba261.pth", 60192808, _RECIPE_NEW, 82.284, 96.002,
                              11.514, 230.474, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnext50_32x4d-7cdf4587.pth", 25028904, _RECIPE_RESNEXT, 77.618,
                              93.698, 4.23, 95.789, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("resnext50_32x4d-1a0047aa.pth", 25028904, _RECIPE_NEW, 81.198,
                              95.340, 4.23, 95.833, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_32X8D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnext101_32x8d-8ba56ff5.pth", 88791336, _RECIPE_RESNEXT, 79.312,
                              94.526, 16.414, 339.586, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("resnext101_32x8d-110c445d.pth", 88791336,
                              _RECIPE_NEW + "-with-fixres", 82.834, 96.228, 16.414, 339.673,
                              _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_64X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnext101_64x4d-173b62eb.pth", 83455272,
                              "https://github.com/pytorch/vision/pull/5935", 83.246, 96.454,
                              15.46, 319.318,
                              "These weights were trained from scratch by using TorchVision's "
                              "`new training recipe <https://pytorch.org/blog/how-to-train-state-"
                              "of-the-art-models-using-torchvision-latest-primitives/>`_.",
                              resize_size=232)
    DEFAULT = IMAGENET1K_V1


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("wide_resnet50_2-95faca4d.pth", 68883240, _RECIPE_WIDE, 78.468,
                              94.086, 11.398, 131.82, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("wide_resnet50_2-9ba9bcbe.pth", 68883240,
                              _RECIPE_NEW + "-with-fixres", 81.602, 95.758, 11.398, 263.124,
                              _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet101_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("wide_resnet101_2-32ee1156.pth", 126886696, _RECIPE_WIDE, 78.848,
                              94.284, 22.753, 242.896, _DOCS_V1)
    IMAGENET1K_V2 = _imagenet("wide_resnet101_2-d733dc28.pth", 126886696, _RECIPE_NEW, 82.510,
                              96.020, 22.753, 484.747, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


def _builder(name, block, layers, enum, doc, **fixed):
    """A registered builder ``name(*, weights=None, progress=True, **kwargs)``;
    ``fixed`` are the ResNet arguments that define the variant (groups,
    width_per_group): a caller may repeat them, not change them."""
    @register_model(name)
    @handle_legacy_interface(enum, enum.IMAGENET1K_V1)
    def builder(*, weights=None, progress=True, **kwargs):
        weights = enum.verify(weights)
        for key, value in fixed.items():
            _ovewrite_named_param(kwargs, key, value)
        return _resnet(block, layers, weights, progress, **kwargs)
    builder.__name__ = builder.__qualname__ = name
    builder.__module__ = __name__
    builder.__doc__ = (f"{doc}; ``weights`` a ``{enum.__name__}`` (or its name) loads them, "
                       f"``kwargs`` go to ``ResNet`` (num_classes, zero_init_residual, "
                       f"replace_stride_with_dilation, norm_layer, ...).")
    return builder


resnet18 = _builder("resnet18", BasicBlock, [2, 2, 2, 2], ResNet18_Weights, "ResNet-18")
resnet34 = _builder("resnet34", BasicBlock, [3, 4, 6, 3], ResNet34_Weights, "ResNet-34")
resnet50 = _builder("resnet50", Bottleneck, [3, 4, 6, 3], ResNet50_Weights, "ResNet-50")
resnet101 = _builder("resnet101", Bottleneck, [3, 4, 23, 3], ResNet101_Weights, "ResNet-101")
resnet152 = _builder("resnet152", Bottleneck, [3, 8, 36, 3], ResNet152_Weights, "ResNet-152")
resnext50_32x4d = _builder("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], ResNeXt50_32X4D_Weights,
                           "ResNeXt-50 32x4d", groups=32, width_per_group=4)
resnext101_32x8d = _builder("resnext101_32x8d", Bottleneck, [3, 4, 23, 3],
                            ResNeXt101_32X8D_Weights, "ResNeXt-101 32x8d", groups=32,
                            width_per_group=8)
resnext101_64x4d = _builder("resnext101_64x4d", Bottleneck, [3, 4, 23, 3],
                            ResNeXt101_64X4D_Weights, "ResNeXt-101 64x4d", groups=64,
                            width_per_group=4)
wide_resnet50_2 = _builder("wide_resnet50_2", Bottleneck, [3, 4, 6, 3], Wide_ResNet50_2_Weights,
                           "Wide ResNet-50-2 (bottlenecks twice as wide)", width_per_group=128)
wide_resnet101_2 = _builder("wide_resnet101_2", Bottleneck, [3, 4, 23, 3],
                            Wide_ResNet101_2_Weights,
                            "Wide ResNet-101-2 (bottlenecks twice as wide)", width_per_group=128)
