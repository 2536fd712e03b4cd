"""torchvision.models' classification networks: AlexNet, VGG, ResNet / ResNeXt /
Wide ResNet, with torchvision's module names (so state_dict keys match),
initialisation, and weights API.

    from tinygrad_kr.vision import models
    weights = models.ResNet18_Weights.DEFAULT
    model = models.resnet18(weights=weights).eval()
    batch = weights.transforms()(img).unsqueeze(0)
    label = weights.meta["categories"][model(batch).argmax().item()]

Pretrained weights are torchvision's own files, read with
``tinygrad_kr.load`` from torch.hub's cache (``tinygrad_kr.hub``): a file
PyTorch already downloaded is reused, a missing one is downloaded there.
"""
from ._api import Weights, WeightsEnum, get_model, get_model_builder, get_model_weights, \
    get_weight, list_models
from . import alexnet as _alexnet_module, resnet as _resnet_module, vgg as _vgg_module
# as in torchvision, the name `alexnet` then means the builder, not its module
from .alexnet import *  # noqa: E402,F401,F403
from .resnet import *  # noqa: E402,F401,F403
from .vgg import *  # noqa: E402,F401,F403

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models", *_alexnet_module.__all__, *_resnet_module.__all__,
           *_vgg_module.__all__]
