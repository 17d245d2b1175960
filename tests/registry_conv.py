"""Registry cases for transposed convolution, grouped/depthwise convolution, resampling (interpolate, adaptive
average pooling) and group norm: gradchecked in float64 and compared with PyTorch by tests/test_ops.py."""

from __future__ import annotations

import descend.nn.functional as F
from tests.op_registry import TF, N, P, case

# ---- transposed convolution --------------------------------------------------------------------------------

case("conv_transpose1d", F.conv_transpose1d, lambda x, w, b: TF().conv_transpose1d(x, w, b), N(2, 3, 5),
     N(3, 4, 3), N(4), atol=1e-4)
case("conv_transpose1d[stride pad output_padding]",
     lambda x, w: F.conv_transpose1d(x, w, stride=3, padding=1, output_padding=2),
     lambda x, w: TF().conv_transpose1d(x, w, stride=3, padding=1, output_padding=2), N(2, 2, 4, layout="t"),
     N(2, 3, 4), atol=1e-4)
case("conv_transpose1d[groups dilation]",
     lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, groups=2, dilation=3, output_padding=2),
     lambda x, w, b: TF().conv_transpose1d(x, w, b, stride=2, groups=2, dilation=3, output_padding=2),
     N(1, 4, 5), N(4, 3, 2), N(6), atol=1e-4)
case("conv_transpose1d[channels-last unbatched]", lambda x, w: F.conv_transpose1d(x.permute(1, 0), w, padding=1),
     lambda x, w: TF().conv_transpose1d(x.permute(1, 0), w, padding=1), N(6, 3), N(3, 2, 3), atol=1e-4)
case("conv_transpose2d", F.conv_transpose2d, lambda x, w, b: TF().conv_transpose2d(x, w, b), N(2, 3, 4, 3),
     N(3, 2, 3, 3), N(2), atol=1e-4)
# DCGAN's upsampling step: kernel 4, stride 2, padding 1 doubles the size.
case("conv_transpose2d[dcgan k4 s2 p1]", lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
     lambda x, w: TF().conv_transpose2d(x, w, stride=2, padding=1), N(2, 4, 3, 3, layout="s"), N(4, 3, 4, 4),
     atol=1e-4)
# 8 output channels: one GEMM per kernel offset (below 8, one GEMM for all offsets).
case("conv_transpose2d[dcgan k4 s2 p1 8 channels channels-last]",
     lambda x, w: F.conv_transpose2d(x.permute(0, 3, 1, 2), w, stride=2, padding=1),
     lambda x, w: TF().conv_transpose2d(x.permute(0, 3, 1, 2), w, stride=2, padding=1), N(2, 3, 3, 6),
     N(6, 8, 4, 4, scale=0.5), atol=1e-4)
case("conv_transpose2d[asymmetric output_padding dilation]",
     lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 2), output_padding=(1, 1),
                                        dilation=(1, 2)),
     lambda x, w, b: TF().conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 2), output_padding=(1, 1),
                                           dilation=(1, 2)),
     N(1, 2, 4, 5, layout="t"), N(2, 3, 3, 2), N(3), atol=1e-4)
case("conv_transpose2d[groups]", lambda x, w: F.conv_transpose2d(x, w, stride=2, groups=3, output_padding=1),
     lambda x, w: TF().conv_transpose2d(x, w, stride=2, groups=3, output_padding=1), N(2, 6, 3, 3),
     N(6, 2, 2, 3), atol=1e-4)
case("conv_transpose2d[depthwise channels-last]",
     lambda x, w, b: F.conv_transpose2d(x.permute(0, 3, 1, 2), w, b, stride=2, padding=1, groups=4),
     lambda x, w, b: TF().conv_transpose2d(x.permute(0, 3, 1, 2), w, b, stride=2, padding=1, groups=4),
     N(2, 3, 4, 4), N(4, 1, 3, 3), N(4), atol=1e-4)
case("conv_transpose2d[1x1 input unbatched]", lambda x, w: F.conv_transpose2d(x, w),
     lambda x, w: TF().conv_transpose2d(x, w), N(5, 1, 1), N(5, 3, 4, 4), atol=1e-4)

# ---- grouped and depthwise convolution ------------------------------------------------------------------------

case("conv1d[depthwise multiplier]", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2, groups=3),
     lambda x, w, b: TF().conv1d(x, w, b, stride=2, padding=2, groups=3), N(2, 3, 9), N(6, 1, 5), N(6),
     atol=1e-4)
case("conv1d[groups dilation strided]", lambda x, w: F.conv1d(x, w, dilation=2, groups=2),
     lambda x, w: TF().conv1d(x, w, dilation=2, groups=2), N(2, 4, 8, layout="s"), N(4, 2, 3), atol=1e-4)
case("conv2d[depthwise stride]", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=5),
     lambda x, w, b: TF().conv2d(x, w, b, stride=2, padding=1, groups=5), N(2, 5, 6, 5), N(5, 1, 3, 3), N(5),
     atol=1e-4)
case("conv2d[depthwise channels-last]", lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w, padding=1, groups=4),
     lambda x, w: TF().conv2d(x.permute(0, 3, 1, 2), w, padding=1, groups=4), N(2, 4, 5, 4), N(8, 1, 3, 3),
     atol=1e-4)
case("conv2d[groups 32 channels]", lambda x, w: F.conv2d(x, w, padding=1, groups=2),
     lambda x, w: TF().conv2d(x, w, padding=1, groups=2), N(1, 32, 3, 3, scale=0.5), N(4, 16, 3, 3, scale=0.5),
     atol=1e-4)

# ---- resampling ----------------------------------------------------------------------------------------------

case("interpolate", lambda x: F.interpolate(x, scale_factor=2), lambda x: TF().interpolate(x, scale_factor=2),
     N(2, 3, 3, 4))
case("unfold", lambda x: F.unfold(x, 3, padding=1), lambda x: TF().unfold(x, 3, padding=1), N(2, 2, 4, 5))
case("unfold[dilation stride unbatched]", lambda x: F.unfold(x, (2, 3), dilation=(2, 1), stride=(1, 2)),
     lambda x: TF().unfold(x, (2, 3), dilation=(2, 1), stride=(1, 2)), N(2, 5, 7, layout="t"))
case("fold", lambda x: F.fold(x, (4, 5), 3, padding=1), lambda x: TF().fold(x, (4, 5), 3, padding=1), N(2, 18, 20))
case("fold[stride overlap]", lambda x: F.fold(x, (5, 5), 3, stride=2), lambda x: TF().fold(x, (5, 5), 3, stride=2),
     N(1, 9, 4, layout="t"))
case("interpolate[channels-last]", lambda x: F.interpolate(x.permute(0, 3, 1, 2), scale_factor=2),
     lambda x: TF().interpolate(x.permute(0, 3, 1, 2), scale_factor=2), N(2, 3, 4, 5))
case("interpolate[bilinear channels-last]",
     lambda x: F.interpolate(x.permute(0, 3, 1, 2), size=(5, 7), mode="bilinear", align_corners=False),
     lambda x: TF().interpolate(x.permute(0, 3, 1, 2), size=(5, 7), mode="bilinear", align_corners=False),
     N(2, 3, 4, 5), atol=1e-4)
case("interpolate[nearest size]", lambda x: F.interpolate(x, size=(5, 3)),
     lambda x: TF().interpolate(x, size=(5, 3)), N(1, 2, 3, 4, layout="t"))
case("interpolate[nearest-exact 1d]", lambda x: F.interpolate(x, size=7, mode="nearest-exact"),
     lambda x: TF().interpolate(x, size=7, mode="nearest-exact"), N(2, 2, 5))
case("interpolate[nearest 1d fractional scale]", lambda x: F.interpolate(x, scale_factor=1.7),
     lambda x: TF().interpolate(x, scale_factor=1.7), N(2, 3, 5))
case("interpolate[linear]", lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"),
     lambda x: TF().interpolate(x, scale_factor=2.5, mode="linear"), N(2, 3, 4, layout="s"))
case("interpolate[linear align_corners]", lambda x: F.interpolate(x, size=9, mode="linear", align_corners=True),
     lambda x: TF().interpolate(x, size=9, mode="linear", align_corners=True), N(2, 2, 4))
case("interpolate[bilinear]", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
     lambda x: TF().interpolate(x, scale_factor=2, mode="bilinear"), N(2, 3, 3, 4))
case("interpolate[bilinear align_corners size]",
     lambda x: F.interpolate(x, size=(7, 3), mode="bilinear", align_corners=True),
     lambda x: TF().interpolate(x, size=(7, 3), mode="bilinear", align_corners=True), N(1, 2, 4, 5, layout="t"))
case("interpolate[bilinear downsample]", lambda x: F.interpolate(x, size=(3, 2), mode="bilinear"),
     lambda x: TF().interpolate(x, size=(3, 2), mode="bilinear"), N(2, 2, 7, 5))
# A dim whose size a fractional scale factor leaves unchanged is copied ('nearest' and 'bilinear', as PyTorch).
case("interpolate[nearest unchanged dim]", lambda x: F.interpolate(x, scale_factor=(1.09, 1.36)),
     lambda x: TF().interpolate(x, scale_factor=(1.09, 1.36)), N(2, 2, 4, 6))
case("interpolate[bilinear unchanged dim]", lambda x: F.interpolate(x, scale_factor=(0.67, 1.08), mode="bilinear"),
     lambda x: TF().interpolate(x, scale_factor=(0.67, 1.08), mode="bilinear"), N(2, 2, 6, 2))
case("interpolate[nearest-exact unchanged size]", lambda x: F.interpolate(x, scale_factor=1.14, mode="nearest-exact"),
     lambda x: TF().interpolate(x, scale_factor=1.14, mode="nearest-exact"), N(2, 2, 7))
case("interpolate[area]", lambda x: F.interpolate(x, size=(3, 4), mode="area"),
     lambda x: TF().interpolate(x, size=(3, 4), mode="area"), N(2, 2, 7, 6))
case("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 3), lambda x: TF().adaptive_avg_pool1d(x, 3),
     N(2, 3, 7))
case("adaptive_avg_pool1d[upsample]", lambda x: F.adaptive_avg_pool1d(x, 6),
     lambda x: TF().adaptive_avg_pool1d(x, 6), N(2, 4, layout="t"))
case("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1), lambda x: TF().adaptive_avg_pool2d(x, 1),
     N(2, 3, 4, 5))
case("adaptive_avg_pool2d[uneven]", lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
     lambda x: TF().adaptive_avg_pool2d(x, (3, 4)), N(2, 2, 7, 5, layout="s"))
case("adaptive_avg_pool2d[None channels-last]", lambda x: F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), (None, 2)),
     lambda x: TF().adaptive_avg_pool2d(x.permute(0, 3, 1, 2), (None, 2)), N(2, 5, 5, 3))

# ---- group norm ------------------------------------------------------------------------------------------------

case("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), lambda x, w, b: TF().group_norm(x, 2, w, b),
     N(3, 4, 3, 2, scale=2), P(4), N(4), atol=1e-4)
case("group_norm[no affine 1d]", lambda x: F.group_norm(x, 3), lambda x: TF().group_norm(x, 3),
     N(2, 6, 5, layout="t"), atol=1e-4)
case("group_norm[instance groups eps]", lambda x, w, b: F.group_norm(x, 4, w, b, eps=1e-3),
     lambda x, w, b: TF().group_norm(x, 4, w, b, eps=1e-3), N(2, 4, 3, 3, layout="s"), P(4), N(4), atol=1e-4)
case("group_norm[one group 2d input]", lambda x, w, b: F.group_norm(x, 1, w, b),
     lambda x, w, b: TF().group_norm(x, 1, w, b), N(4, 6), N(6), N(6), atol=1e-4)
case("group_norm[channels-last]", lambda x: F.group_norm(x.permute(0, 3, 1, 2), 2),
     lambda x: TF().group_norm(x.permute(0, 3, 1, 2), 2), N(2, 3, 3, 4), atol=1e-4)
case("group_norm[channels-last affine]", lambda x, w, b: F.group_norm(x.permute(0, 3, 1, 2), 3, w, b),
     lambda x, w, b: TF().group_norm(x.permute(0, 3, 1, 2), 3, w, b), N(2, 3, 4, 6, scale=2), P(6), N(6),
     atol=1e-4)
case("group_norm[channels-last 1d]", lambda x, w, b: F.group_norm(x.permute(0, 2, 1), 2, w, b, eps=1e-3),
     lambda x, w, b: TF().group_norm(x.permute(0, 2, 1), 2, w, b, eps=1e-3), N(3, 5, 4), P(4), N(4), atol=1e-4)

# ---- 2-D stride-1 convolutions on channels-last input: width-only im2col with shifted kernel rows ----------

# ResNet's 3x3, padding 1 layer on a conv's channels-last output: forward, weight and input gradient all take
# the strip path (the input gradient is the flipped-kernel convolution, lowered the same way).
case("conv2d[strip resnet 3x3 channels-last]", lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w, padding=1),
     lambda x, w: TF().conv2d(x.permute(0, 3, 1, 2), w, padding=1), N(2, 5, 4, 16, scale=0.5),
     N(8, 16, 3, 3, scale=0.3), atol=1e-4)
# 16 NCHW channels take the rows layout too; unequal padding and a dilated kernel height shift by 2 rows.
case("conv2d[strip dilated asymmetric 16 channels]",
     lambda x, w, b: F.conv2d(x, w, b, padding=(2, 1), dilation=(2, 1)),
     lambda x, w, b: TF().conv2d(x, w, b, padding=(2, 1), dilation=(2, 1)), N(2, 16, 5, 4, scale=0.5),
     N(3, 16, 3, 2, scale=0.3), N(3), atol=1e-4)
# Padding wider than the kernel: the input gradient is not a convolution, so col2im runs after a strip forward.
case("conv2d[strip wide padding channels-last]", lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w, padding=2),
     lambda x, w: TF().conv2d(x.permute(0, 3, 1, 2), w, padding=2), N(2, 3, 4, 5), N(4, 5, 2, 1), atol=1e-4)
# A kernel as tall as its input (DCGAN's last discriminator layer): the full im2col, not the strip.
case("conv2d[kernel the input's size channels-last]", lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w),
     lambda x, w: TF().conv2d(x.permute(0, 3, 1, 2), w), N(2, 4, 4, 16, scale=0.5), N(3, 16, 4, 4, scale=0.3),
     atol=1e-4)
case("conv2d[strip one-row kernel]", lambda x, w: F.conv2d(x, w, padding=(0, 1)),
     lambda x, w: TF().conv2d(x, w, padding=(0, 1)), N(2, 16, 4, 5, scale=0.5), N(3, 16, 1, 3, scale=0.3),
     atol=1e-4)
