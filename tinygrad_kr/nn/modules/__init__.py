"""The layers: Module, containers, and PyTorch's standard layers and losses."""
from .activation import (CELU, ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax,
                         Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Softsign, Tanh)
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, ParameterList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .distance import CosineSimilarity, PairwiseDistance
from .dropout import Dropout, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Identity, Linear
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyConv2d, LazyLinear
from .layernorm import GroupNorm, LayerNorm
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d)
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .sparse import Embedding

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "Identity",
           "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "Dropout", "Dropout2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax", "Flatten", "Unflatten", "MSELoss", "L1Loss", "SmoothL1Loss",
           "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
           "AdaptiveMaxPool2d", "ELU", "SELU", "CELU", "GELU", "SiLU", "Softplus", "Hardtanh",
           "ReLU6", "Mish", "LogSigmoid", "Softsign", "KLDivLoss", "CosineSimilarity",
           "PairwiseDistance", "LazyLinear", "LazyConv2d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU"]
__all__ += ["Embedding", "LayerNorm", "GroupNorm", "MultiheadAttention"]
__all__ += ["Conv1d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "AvgPool1d", "Upsample",
            "UpsamplingNearest2d", "UpsamplingBilinear2d", "AdaptiveAvgPool1d",
            "AdaptiveMaxPool1d"]
