"""The layers: Module, containers, and PyTorch's standard layers and losses."""
from .activation import (CELU, ELU, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                         LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, RReLU, SELU,
                         Sigmoid, SiLU, Softmax, Softmax2d, Softmin, Softplus, Softshrink, Softsign,
                         Tanh, Tanhshrink, Threshold)
from .attention import MultiheadAttention
from .channelshuffle import ChannelShuffle
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .distance import CosineSimilarity, PairwiseDistance
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from .flatten import Flatten, Unflatten
from .linear import Bilinear, Identity, Linear
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyConv2d, LazyLinear
from .layernorm import GroupNorm, LayerNorm
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .loss_extra import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss,
                         MarginRankingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                         MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss,
                         TripletMarginWithDistanceLoss)
from .module import Module
from .normalization import (BatchNorm1d, BatchNorm2d, InstanceNorm1d, InstanceNorm2d,
                            LocalResponseNorm, RMSNorm)
from .padding import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, PixelShuffle,
                      PixelUnshuffle, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d,
                      ReplicationPad2d, ZeroPad1d, ZeroPad2d, Unfold, Fold)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AvgPool1d, AvgPool2d, LPPool1d, LPPool2d, MaxPool1d, MaxPool2d, MaxUnpool1d,
                      MaxUnpool2d)
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from .sparse import Embedding, EmbeddingBag
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .crossmaplrn import CrossMapLRN2d
from .loss_ctc import CTCLoss, NLLLoss2d
from .pooling_fractional import FractionalMaxPool2d, FractionalMaxPool3d
from .conv import Conv3d, ConvTranspose3d
from .lazy import (LazyBatchNorm3d, LazyConv1d, LazyConv3d, LazyConvTranspose1d,
                   LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
                   LazyInstanceNorm2d, LazyInstanceNorm3d)
from .normalization import BatchNorm3d, InstanceNorm3d
from .padding import CircularPad3d, ConstantPad3d, ReflectionPad3d, ReplicationPad3d, ZeroPad3d
from .pooling import (AdaptiveAvgPool3d, AdaptiveMaxPool3d, AvgPool3d, LPPool3d, MaxPool3d,
                      MaxUnpool3d)

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "Identity",
           "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "Dropout", "Dropout2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax", "Flatten", "Unflatten", "MSELoss", "L1Loss", "SmoothL1Loss",
           "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
           "AdaptiveMaxPool2d", "ELU", "SELU", "CELU", "GELU", "SiLU", "Softplus", "Hardtanh",
           "ReLU6", "Mish", "LogSigmoid", "Softsign", "KLDivLoss", "CosineSimilarity",
           "PairwiseDistance", "LazyLinear", "LazyConv2d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU",
           "Embedding", "LayerNorm", "GroupNorm", "MultiheadAttention", "Conv1d",
           "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "AvgPool1d", "Upsample",
           "UpsamplingNearest2d", "UpsamplingBilinear2d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d",
           "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer", "Hardsigmoid", "Hardswish", "Hardshrink", "Softshrink",
           "Tanhshrink", "Threshold", "PReLU", "RReLU", "GLU", "Softmin", "Softmax2d",
           "ParameterDict", "Dropout1d", "InstanceNorm1d", "InstanceNorm2d", "RMSNorm",
           "ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d", "PixelShuffle", "PixelUnshuffle", "MarginRankingLoss",
           "HingeEmbeddingLoss", "CosineEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
           "GaussianNLLLoss", "PoissonNLLLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
           "EmbeddingBag", "Unfold", "Fold", "LocalResponseNorm", "AlphaDropout",
           "FeatureAlphaDropout", "Dropout3d", "Bilinear", "ChannelShuffle", "MaxUnpool1d",
           "MaxUnpool2d", "LPPool1d", "LPPool2d"]
__all__ += ["Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
            "AdaptiveMaxPool3d", "MaxUnpool3d", "LPPool3d", "BatchNorm3d", "InstanceNorm3d",
            "ZeroPad3d", "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d", "CircularPad3d",
            "LazyConv1d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
            "LazyConvTranspose3d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
            "LazyInstanceNorm3d"]
__all__ += ["CTCLoss", "NLLLoss2d", "AdaptiveLogSoftmaxWithLoss", "CrossMapLRN2d",
            "FractionalMaxPool2d", "FractionalMaxPool3d"]
