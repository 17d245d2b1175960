"""Op-registry cases for descend/functional_extra.py: adaptive max pooling (descend/ops/adaptive_max.py),
bilinear, embedding bags, instance norm, pixel shuffle and the hinge-embedding and multi-margin losses.

Loaded by tests/op_registry.py; tests/test_ops.py gradchecks each case in float64 and compares it with
PyTorch. Normal inputs keep window maxima apart, so finite differences see no ties.
"""

from __future__ import annotations

import numpy as np

import descend
import descend.nn.functional as F
from tests.op_registry import TF, N, P, V, away, case


def _torch():
    import torch
    return torch


# ---- adaptive max pooling (one op) ---------------------------------------------------------------------

case("adaptive_max_pool2d", lambda a: F.adaptive_max_pool2d(a, (3, 2)),
     lambda a: TF().adaptive_max_pool2d(a, (3, 2)), N(2, 3, 7, 5))
case("adaptive_max_pool2d[None, overlapping]", lambda a: F.adaptive_max_pool2d(a, (None, 4)),
     lambda a: TF().adaptive_max_pool2d(a, (None, 4)), N(1, 2, 3, 5))
case("adaptive_max_pool2d[unbatched, global]", lambda a: F.adaptive_max_pool2d(a, 1),
     lambda a: TF().adaptive_max_pool2d(a, 1), N(2, 4, 4))
case("adaptive_max_pool1d", lambda a: F.adaptive_max_pool1d(a, 3),
     lambda a: TF().adaptive_max_pool1d(a, 3), N(2, 3, 8))

# ---- composed layers -----------------------------------------------------------------------------------

case("bilinear", F.bilinear, lambda a, b, w, c: TF().bilinear(a, b, w, c), N(2, 4, 3), N(2, 4, 5),
     N(6, 3, 5), N(6))
case("bilinear[no bias]", F.bilinear, lambda a, b, w: TF().bilinear(a, b, w), N(4, 2), N(4, 3), N(2, 2, 3))
case("pixel_shuffle", lambda a: F.pixel_shuffle(a, 2), lambda a: TF().pixel_shuffle(a, 2), N(2, 8, 3, 2))
case("pixel_unshuffle", lambda a: F.pixel_unshuffle(a, 2), lambda a: TF().pixel_unshuffle(a, 2),
     N(1, 2, 4, 6))
case("instance_norm", lambda a, w, b: F.instance_norm(a, weight=w, bias=b),
     lambda a, w, b: TF().instance_norm(a, weight=w, bias=b), N(2, 3, 4, 5), P(3), N(3))
case("instance_norm[1d]", F.instance_norm, lambda a: TF().instance_norm(a), N(3, 2, 6))

_IDX = np.array([1, 2, 4, 5, 4, 3, 2, 9])
_OFF = np.array([0, 2, 2, 5])


def _bag(mode: str, **kw: object) -> tuple:
    return (lambda w: F.embedding_bag(descend.tensor(_IDX), w, descend.tensor(_OFF), mode=mode, **kw),
            lambda w: TF().embedding_bag(_torch().from_numpy(_IDX), w, _torch().from_numpy(_OFF), mode=mode,
                                         **kw))


case("embedding_bag[sum]", *_bag("sum"), N(10, 3))
case("embedding_bag[mean, padding_idx, empty bag]", *_bag("mean", padding_idx=2), N(10, 3))
case("embedding_bag[max]", *_bag("max"), N(10, 3))
case("embedding_bag[per_sample_weights]",
     lambda w, p: F.embedding_bag(descend.tensor(_IDX.reshape(2, 4)), w, mode="sum", per_sample_weights=p),
     lambda w, p: TF().embedding_bag(_torch().from_numpy(_IDX.reshape(2, 4)), w, mode="sum",
                                     per_sample_weights=p), N(10, 3), N(2, 4))

# ---- margin losses -------------------------------------------------------------------------------------

_SIGNS = np.array([[1.0, -1.0, -1.0, 1.0], [-1.0, 1.0, -1.0, -1.0], [1.0, 1.0, -1.0, 1.0]])
case("hinge_embedding_loss",
     lambda a: F.hinge_embedding_loss(a, descend.tensor(_SIGNS), margin=0.7),
     lambda a: TF().hinge_embedding_loss(a, _torch().from_numpy(_SIGNS), margin=0.7),
     away(N(3, 4), points=(0.7,)))
_TARGET = np.array([0, 3, 2])
_W = np.array([0.5, 1.0, 2.0, 0.3, 1.5])
for _p in (1, 2):
    case(f"multi_margin_loss[p={_p}, weight]",
         lambda a, p=_p: F.multi_margin_loss(a, descend.tensor(_TARGET), p=p, weight=descend.tensor(_W),
                                             reduction="none"),
         lambda a, p=_p: TF().multi_margin_loss(a, _torch().from_numpy(_TARGET), p=p,
                                                weight=_torch().from_numpy(_W).to(a.dtype), reduction="none"),
         V([[0.3, -1.2, 0.8, 2.0, -0.4], [1.1, 0.2, -0.9, 0.6, 0.0], [-0.7, 1.4, 0.45, -2.0, 0.9]]))
case("multi_margin_loss[unbatched, margin]",
     lambda a: F.multi_margin_loss(a, descend.tensor(np.array(2)), margin=0.5),
     lambda a: TF().multi_margin_loss(a, _torch().tensor(2), margin=0.5), V([0.35, -1.5, 0.8, -0.2, -0.7]))
