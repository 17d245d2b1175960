"""Layers, losses, initialisers and the Module base class, with PyTorch's names and defaults."""

import importlib.util

from descend.nn import init
from descend.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from descend.nn.layers import (AvgPool1d, AvgPool2d, Conv1d, Conv2d, Dropout, Embedding, Flatten, Identity,
                               Linear, MaxPool1d, MaxPool2d)
from descend.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from descend.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from descend.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from descend.nn.penalty import l1_penalty, l2_penalty
from descend.nn.rnn import GRU, LSTM, LSTMCell
from descend.nn.layers import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, ConvTranspose1d, ConvTranspose2d, Unflatten,
                               Upsample, UpsamplingBilinear2d, UpsamplingNearest2d)
from descend.nn.normalization import GroupNorm
from descend.nn.transformer import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
                                    TransformerEncoder, TransformerEncoderLayer)

# Owned by other helpers' files that may land later: nn must import without them meanwhile.
if importlib.util.find_spec("descend.nn.functional") is not None:
    from descend.nn import functional  # noqa: F401
if importlib.util.find_spec("descend.nn.utils") is not None:
    from descend.nn import utils  # noqa: F401

__all__ = [
    "init", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "Identity", "Linear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "Flatten", "Dropout", "Embedding", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GRU",
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax",
    "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "NLLLoss", "L1Loss",
    "l1_penalty", "l2_penalty",
]
__all__ += ["LSTM", "LSTMCell", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
            "TransformerDecoderLayer", "TransformerDecoder", "Transformer"]
__all__ += ["ConvTranspose1d", "ConvTranspose2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Upsample",
            "UpsamplingNearest2d", "UpsamplingBilinear2d", "Unflatten", "GroupNorm"]
from descend.nn.activation import (CELU, ELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish,  # noqa: E402
                                   Hardtanh, LogSigmoid, Mish, PReLU, ReLU6, SiLU, Softmin, Softplus,
                                   Softshrink, Softsign, Tanhshrink, Threshold)
from descend.nn.dropout import AlphaDropout, Dropout1d, Dropout2d, FeatureAlphaDropout  # noqa: E402
from descend.nn.loss import (BCELoss, CosineEmbeddingLoss, GaussianNLLLoss, HuberLoss, KLDivLoss,  # noqa: E402
                             MarginRankingLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss,
                             TripletMarginLoss)
from descend.nn.module import ParameterDict, ParameterList  # noqa: E402
from descend.nn.rnn_cells import RNN, GRUCell, RNNCell  # noqa: E402

__all__ += ["ELU", "SELU", "CELU", "SiLU", "Softplus", "Hardtanh", "PReLU", "ReLU6", "Hardswish",
            "Hardsigmoid", "Mish", "Softmin", "Softsign", "Tanhshrink", "LogSigmoid", "Softshrink",
            "Hardshrink", "Threshold", "GLU", "Dropout1d", "Dropout2d", "AlphaDropout", "FeatureAlphaDropout",
            "RNN", "RNNCell", "GRUCell",
            "ParameterList", "ParameterDict", "BCELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
            "CosineEmbeddingLoss", "MarginRankingLoss", "SoftMarginLoss", "PoissonNLLLoss",
            "GaussianNLLLoss", "TripletMarginLoss"]
# SyncBatchNorm's all-reduce is installed by descend.distributed.init() (nn never imports distributed).
from descend.nn.sync_batchnorm import SyncBatchNorm  # noqa: E402

__all__ += ["SyncBatchNorm"]
from descend.nn.layers_extra import (AdaptiveMaxPool1d, AdaptiveMaxPool2d, Bilinear,  # noqa: E402
                                     ConstantPad1d, ConstantPad2d, EmbeddingBag, Fold,
                                     HingeEmbeddingLoss, InstanceNorm1d, InstanceNorm2d, MultiMarginLoss,
                                     PixelShuffle, PixelUnshuffle, ReflectionPad1d, ReflectionPad2d,
                                     ReplicationPad1d, ReplicationPad2d, Unfold, ZeroPad1d, ZeroPad2d)

__all__ += ["AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Bilinear", "EmbeddingBag", "InstanceNorm1d",
            "InstanceNorm2d", "PixelShuffle", "PixelUnshuffle", "ZeroPad1d", "ZeroPad2d", "ConstantPad1d",
            "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
            "HingeEmbeddingLoss", "MultiMarginLoss", "Unfold", "Fold"]
from descend.nn.layers_more import (ChannelShuffle, CTCLoss, CircularPad1d, CircularPad2d, CosineSimilarity,  # noqa: E402
                                    LocalResponseNorm, LPPool1d, LPPool2d, MaxUnpool1d, MaxUnpool2d,
                                    MultiLabelMarginLoss, MultiLabelSoftMarginLoss, PairwiseDistance, RReLU,
                                    LazyLinear, RMSNorm, Softmax2d, TripletMarginWithDistanceLoss)

__all__ += ["CTCLoss", "LazyLinear", "RMSNorm", "Softmax2d", "CosineSimilarity", "PairwiseDistance", "RReLU", "LPPool1d", "LPPool2d", "MaxUnpool1d",
            "MaxUnpool2d", "LocalResponseNorm", "ChannelShuffle", "CircularPad1d", "CircularPad2d",
            "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "TripletMarginWithDistanceLoss"]
