"""FBA Matting network (Forte & Pitié 2020, "F, B, Alpha Matting"), laid out for ``FBA.pth``.

The module tree mirrors the published checkpoint so that its state dict loads with
``strict=True``: a top-level :class:`FBANet` holding ``encoder`` (a ResNet-50 with
weight-standardised convolutions, GroupNorm and output stride 8) and ``decoder`` (pyramid
pooling, three upsampling stages and a plain-convolution head predicting alpha, F and B).

Dimension names used in the docstrings: ``N`` batch, ``H``/``W`` input height/width (both
multiples of 8), ``C`` channels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GROUPS = 32
POOL_SCALES = (1, 2, 3, 6)
ENCODER_IN_CHANNELS = 11  # normalised image 3 + distance channels 6 + two-channel trimap 2
OUTPUT_STRIDE = 8
FUSION_LAMBDA = 0.1

# The network's stages in the order they run; any may run under autocast (see Precision).
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4", "ppm", "conv_up1", "conv_up2",
          "conv_up3", "head")
# The stages whose reduced precision kept alpha within 1/255 of float32 on the pipeline
# benchmark (bench/pipeline.py): the dilated layer4 and the decoder's convolutions at 1/8 to
# 1/2 resolution, about 60 % of the FLOPs. Adding layer3 took bfloat16 to 1.1 levels of 255,
# and every stage to 6: the stem rounds the image itself to bfloat16's 8 significant bits.
REDUCED_PRECISION_STAGES = frozenset({"layer4", "conv_up1", "conv_up2", "conv_up3"})


@dataclass(frozen=True)
class Precision:
    """Which stages run under autocast to ``dtype``; the others, and always the fusion, run in
    float32. The default runs everything in float32."""

    dtype: torch.dtype | None = None
    stages: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.stages) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown FBA stages {sorted(unknown)}; the stages are {STAGES}")

    def run(self, stage: str, function: Callable[..., Tensor], *inputs: Tensor) -> Tensor:
        """``function(*inputs)``, under autocast when ``stage`` is reduced; float32 out."""
        if self.dtype is None or stage not in self.stages:
            return function(*inputs)
        with torch.autocast(device_type=inputs[0].device.type, dtype=self.dtype):
            return function(*inputs).float()


FLOAT32 = Precision()


def standardise_weight(weight: Tensor) -> Tensor:
    """Weight standardisation exactly as the published FBA weights were trained with.

    Args:
        weight: ``(C_out, C_in, kH, kW)`` convolution kernel.

    Returns:
        The kernel with zero mean and (about) unit unbiased standard deviation per output
        channel: ``(w - mean) / (sqrt(var + 1e-12) + 1e-5)``.
    """
    centred = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
    variance = centred.reshape(centred.shape[0], -1).var(dim=1, unbiased=True)
    std = torch.sqrt(variance + 1e-12) + 1e-5
    return centred / std.reshape(-1, 1, 1, 1)


class WSConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose kernel is weight-standardised on every forward.

    After :meth:`fold` the standardised kernel is stored in ``weight`` and the layer runs a
    plain convolution. Loading a state dict into the layer un-folds it again, because state
    dicts on disk hold raw (unstandardised) kernels.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.folded = False
        self._register_load_state_dict_pre_hook(self._unfold_on_load)

    def _unfold_on_load(self, *args, **kwargs) -> None:
        self.folded = False

    @torch.no_grad()
    def fold(self) -> None:
        """Replace ``weight`` by its standardised form once; later forwards skip the work."""
        if not self.folded:
            self.weight.copy_(standardise_weight(self.weight))
            self.folded = True

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W) -> (N, C_out, H', W')``."""
        weight = self.weight if self.folded else standardise_weight(self.weight)
        return self._conv_forward(x, weight, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", folded={self.folded}"


def fold_weight_standardisation(model: nn.Module) -> int:
    """Fold weight standardisation into every :class:`WSConv2d` of ``model``, in place.

    Call it after ``load_state_dict`` (the weights on disk are raw). Already folded layers are
    left alone, so calling it twice is harmless.

    Returns:
        The number of layers folded by this call.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, WSConv2d) and not module.folded:
            module.fold()
            count += 1
    return count


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` that, in a stage running under CPU bfloat16 autocast, normalises its
    bfloat16 input as it is (statistics accumulated in float32 by the kernel) instead of letting
    autocast widen it to float32 and the next convolution narrow it again (two conversions and
    half the memory traffic saved per norm); under ``PRECISION=auto`` alpha stays within 1/255
    of float32 (bench/pipeline.py prints the difference)."""

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, C, H, W)`` in ``x``'s dtype."""
        if x.dtype is torch.bfloat16 and x.device.type == "cpu":
            with torch.autocast(device_type="cpu", enabled=False):
                return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        return super().forward(x)


def _norm(channels: int) -> GroupNorm:
    return GroupNorm(GROUPS, channels)


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3, 1x1) with the stride and dilation on the 3x3 conv."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = WSConv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = _norm(planes)
        self.conv2 = WSConv2d(
            planes,
            planes,
            kernel_size=3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
        )
        self.bn2 = _norm(planes)
        self.conv3 = WSConv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = _norm(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W) -> (N, 4*planes, H/stride, W/stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class FBAEncoder(nn.Module):
    """Dilated ResNet-50 (GroupNorm, weight standardisation), output stride 8.

    layer3 and layer4 keep the resolution of layer2: their first 3x3 conv uses dilation
    ``d/2`` and the others dilation ``d``, with ``d = 2`` for layer3 and ``d = 4`` for layer4.
    """

    def __init__(self, in_channels: int = ENCODER_IN_CHANNELS) -> None:
        super().__init__()
        self.conv1 = WSConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = _norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, return_indices=True)
        self._channels = 64
        self.layer1 = self._make_layer(64, blocks=3, stride=1, dilate=1)
        self.layer2 = self._make_layer(128, blocks=4, stride=2, dilate=1)
        self.layer3 = self._make_layer(256, blocks=6, stride=1, dilate=2)
        self.layer4 = self._make_layer(512, blocks=3, stride=1, dilate=4)

    def _make_layer(self, planes: int, blocks: int, stride: int, dilate: int) -> nn.Sequential:
        out_channels = planes * Bottleneck.expansion
        downsample = None
        if stride != 1 or self._channels != out_channels:
            downsample = nn.Sequential(
                WSConv2d(self._channels, out_channels, kernel_size=1, stride=stride, bias=False),
                _norm(out_channels),
            )
        # In a dilated layer the block that would have been strided gets half the dilation.
        first_dilation = max(dilate // 2, 1)
        layers = [Bottleneck(self._channels, planes, stride, first_dilation, downsample)]
        self._channels = out_channels
        layers += [Bottleneck(out_channels, planes, 1, dilate) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _stem(self, x: Tensor) -> Tensor:
        return self.relu(self.bn1(self.conv1(x)))

    def forward(self, x: Tensor, precision: Precision = FLOAT32) -> tuple[list[Tensor], Tensor]:
        """Run the encoder and keep the intermediate feature maps.

        Args:
            x: ``(N, 11, H, W)`` encoder input.
            precision: the stages to run under autocast.

        Returns:
            ``([x, stem (N,64,H/2,W/2), layer1 (N,256,H/4,W/4), layer2 (N,512,H/8,W/8),
            layer3 (N,1024,H/8,W/8), layer4 (N,2048,H/8,W/8)], maxpool indices)``.
        """
        features = [x]
        x = precision.run("stem", self._stem, x)
        features.append(x)
        x, indices = self.maxpool(x)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = precision.run(name, getattr(self, name), x)
            features.append(x)
        return features, indices


def fba_fusion(alpha: Tensor, image: Tensor, fg: Tensor, bg: Tensor) -> tuple[Tensor, ...]:
    """Refine alpha, F and B jointly from the compositing equation, in float32.

    Matches the published inference code, including one detail: the background update uses
    the already updated (not yet clamped) foreground.

    Args:
        alpha: ``(N, 1, H, W)`` in [0, 1].
        image: ``(N, 3, H, W)`` RGB in [0, 1].
        fg: ``(N, 3, H, W)`` foreground estimate in [0, 1].
        bg: ``(N, 3, H, W)`` background estimate in [0, 1].

    Returns:
        ``(alpha, fg, bg)`` with the same shapes, all clamped to [0, 1].
    """
    alpha, image, fg, bg = (t.float() for t in (alpha, image, fg, bg))
    cross = alpha * (1 - alpha)
    fg = alpha * image + (1 - alpha**2) * fg - cross * bg
    bg = (1 - alpha) * image + (2 * alpha - alpha**2) * bg - cross * fg
    fg = fg.clamp(0, 1)
    bg = bg.clamp(0, 1)
    diff = fg - bg
    numerator = alpha * FUSION_LAMBDA + ((image - bg) * diff).sum(dim=1, keepdim=True)
    denominator = (diff * diff).sum(dim=1, keepdim=True) + FUSION_LAMBDA
    alpha = (numerator / denominator).clamp(0, 1)
    return alpha, fg, bg


def _ws_block(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    return [
        WSConv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=True),
        _norm(out_channels),
        nn.LeakyReLU(),
    ]


def _upsample2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class FBADecoder(nn.Module):
    """Pyramid pooling on layer4, then three x2 upsampling stages with skip connections."""

    def __init__(self) -> None:
        super().__init__()
        self.ppm = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), *_ws_block(2048, 256, 1))
            for scale in POOL_SCALES
        )
        ppm_channels = 2048 + len(POOL_SCALES) * 256
        self.conv_up1 = nn.Sequential(*_ws_block(ppm_channels, 256, 3), *_ws_block(256, 256, 3))
        self.conv_up2 = nn.Sequential(*_ws_block(256 + 256, 256, 3))
        self.conv_up3 = nn.Sequential(*_ws_block(256 + 64, 64, 3))
        self.conv_up4 = nn.Sequential(
            nn.Conv2d(64 + 3 + 3 + 2, 32, kernel_size=3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(32, 16, kernel_size=3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(16, 7, kernel_size=1),
        )

    def forward(self, features: list[Tensor], image: Tensor, two_chan_trimap: Tensor,
                precision: Precision = FLOAT32) -> Tensor:
        """Decode encoder features into fused alpha, F and B.

        Args:
            features: the encoder's feature list (see :meth:`FBAEncoder.forward`).
            image: ``(N, 3, H, W)`` RGB in [0, 1].
            two_chan_trimap: ``(N, 2, H, W)`` known background / known foreground masks.
            precision: the stages to run under autocast; the fusion is always float32.

        Returns:
            ``(N, 7, H, W)`` float32: alpha (1), foreground (3), background (3), in [0, 1].
        """
        encoder_input, stem, layer1, _, _, conv5 = features
        size = conv5.shape[-2:]
        pyramid = [conv5]
        for branch in self.ppm:
            pooled = precision.run("ppm", branch, conv5)
            pyramid.append(F.interpolate(pooled, size, mode="bilinear", align_corners=False))
        x = precision.run("conv_up1", self.conv_up1, torch.cat(pyramid, dim=1))
        x = precision.run("conv_up2", self.conv_up2, torch.cat([_upsample2(x), layer1], dim=1))
        x = precision.run("conv_up3", self.conv_up3, torch.cat([_upsample2(x), stem], dim=1))
        x = _upsample2(x)
        # The head sees the features, the normalised image, the raw image and the trimap.
        extras = [encoder_input[:, :3], image, two_chan_trimap]
        out = precision.run("head", self.conv_up4,
                            torch.cat([x, *(t.to(x.dtype) for t in extras)], dim=1))

        device_type = out.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            out = out.float()
            alpha = out[:, 0:1].clamp(0, 1)
            fg = torch.sigmoid(out[:, 1:4])
            bg = torch.sigmoid(out[:, 4:7])
            alpha, fg, bg = fba_fusion(alpha, image.float(), fg, bg)
            return torch.cat([alpha, fg, bg], dim=1)


class FBANet(nn.Module):
    """FBA Matting: predicts alpha, foreground and background from an image and a trimap."""

    def __init__(self, in_channels: int = ENCODER_IN_CHANNELS) -> None:
        super().__init__()
        self.encoder = FBAEncoder(in_channels)
        self.decoder = FBADecoder()

    def forward(
        self,
        image: Tensor,
        two_chan_trimap: Tensor,
        image_n: Tensor,
        trimap_transformed: Tensor,
        precision: Precision = FLOAT32,
    ) -> Tensor:
        """Predict the matte.

        Args:
            image: ``(N, 3, H, W)`` RGB in [0, 1]; ``H`` and ``W`` multiples of 8.
            two_chan_trimap: ``(N, 2, H, W)``: channel 0 known background, 1 known foreground.
            image_n: ``(N, 3, H, W)`` ImageNet-normalised image.
            trimap_transformed: ``(N, 6, H, W)`` Gaussian-of-distance trimap channels.
            precision: the stages to run under autocast (default: none, all float32).

        Returns:
            ``(N, 7, H, W)`` float32: alpha, foreground RGB, background RGB, all in [0, 1].

        Raises:
            ValueError: if shapes disagree or the sides are not multiples of 8.
        """
        _check_inputs(image, two_chan_trimap, image_n, trimap_transformed)
        encoder_input = torch.cat([image_n, trimap_transformed, two_chan_trimap], dim=1)
        features, _indices = self.encoder(encoder_input, precision)
        return self.decoder(features, image, two_chan_trimap, precision)


def _check_inputs(
    image: Tensor, two_chan_trimap: Tensor, image_n: Tensor, trimap_transformed: Tensor
) -> None:
    named = {
        "image": (image, 3),
        "two_chan_trimap": (two_chan_trimap, 2),
        "image_n": (image_n, 3),
        "trimap_transformed": (trimap_transformed, 6),
    }
    for name, (tensor, channels) in named.items():
        if not isinstance(tensor, Tensor) or tensor.ndim != 4 or tensor.shape[1] != channels:
            shape = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
            raise ValueError(f"{name} must be a (N, {channels}, H, W) tensor, got {shape}")
    n, _, h, w = image.shape
    for name, (tensor, _) in named.items():
        if (tensor.shape[0], *tensor.shape[2:]) != (n, h, w):
            raise ValueError(
                f"{name} has batch/size {(tensor.shape[0], *tensor.shape[2:])}, "
                f"image has {(n, h, w)}"
            )
    if h == 0 or w == 0 or h % OUTPUT_STRIDE or w % OUTPUT_STRIDE:
        raise ValueError(
            f"height and width must be positive multiples of {OUTPUT_STRIDE}, got {h}x{w}; "
            "pad the inputs first"
        )
