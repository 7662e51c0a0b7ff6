"""Mask R-CNN person segmenter: torchvision ``maskrcnn_resnet50_fpn`` with its COCO weights."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torchvision.models import resnet50
from torchvision.models.detection import MaskRCNN, MaskRCNN_ResNet50_FPN_Weights
from torchvision.models.detection._utils import overwrite_eps
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.roi_heads import maskrcnn_inference
from torchvision.ops.misc import FrozenBatchNorm2d

from background_replacement.backends import (
    MASKRCNN_MAX_SIZE,
    MASKRCNN_MIN_SIZE,
    MASKRCNN_PROPOSALS,
)
from background_replacement.device import select_device
from background_replacement.models import MASKRCNN_COCO, candidate_paths
from background_replacement.people import People
from background_replacement.segmenters.base import SegmenterUnavailable

log = logging.getLogger(__name__)

COCO_CATEGORIES: list[str] = MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
PERSON_LABEL = COCO_CATEGORIES.index("person")
NUM_CLASSES = len(COCO_CATEGORIES)  # 91, background and the "N/A" gaps included


def build_maskrcnn(*, min_size: int = MASKRCNN_MIN_SIZE, max_size: int = MASKRCNN_MAX_SIZE,
                   proposals: int = MASKRCNN_PROPOSALS) -> MaskRCNN:
    """Mask R-CNN v1 exactly as torchvision builds it for its COCO weights, randomly initialised.

    ResNet-50 with ``FrozenBatchNorm2d``, FPN on layers 2–4 (three trainable layers, as for a
    trained model), 91 classes. ``min_size``/``max_size`` set the size the detector sees;
    ``proposals`` how many region proposals the box head scores at inference (the defaults are
    the settings'; torchvision's are 800, 1333 and 1000).
    """
    backbone = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(backbone, 3)
    return MaskRCNN(backbone, num_classes=NUM_CLASSES, min_size=min_size, max_size=max_size,
                    rpn_post_nms_top_n_test=proposals)


def find_weights(configured: str = "") -> Path:
    """The COCO weights file: ``configured`` if set, else models/ then the torch hub cache."""
    candidates = candidate_paths(MASKRCNN_COCO, configured)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise SegmenterUnavailable(
        f"Mask R-CNN weights not found (looked at {looked}). "
        f"Download them with: {MASKRCNN_COCO.fetch_command}")


def load_maskrcnn(path: Path, *, min_size: int = MASKRCNN_MIN_SIZE,
                  max_size: int = MASKRCNN_MAX_SIZE,
                  proposals: int = MASKRCNN_PROPOSALS) -> MaskRCNN:
    """Build Mask R-CNN, load ``path`` strictly on the CPU, set eps as torchvision does, eval."""
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        model = build_maskrcnn(min_size=min_size, max_size=max_size, proposals=proposals)
    try:
        # Mapped, not read: the tensors are assigned to the model, never copied.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        model.load_state_dict(state, strict=True, assign=True)
    except Exception as exc:
        raise SegmenterUnavailable(
            f"{path} is not a usable Mask R-CNN COCO state dict ({str(exc).splitlines()[0]}). "
            f"Download the published file with: {MASKRCNN_COCO.fetch_command}") from exc
    overwrite_eps(model, 0.0)
    return model.eval()


def _fold_pair(parent: torch.nn.Module, conv_name: str, norm_name: str) -> None:
    """Replace ``parent.conv_name`` (no bias) followed by ``parent.norm_name``
    (``FrozenBatchNorm2d``) by one convolution with the norm's scale and shift in its weights."""
    conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
    scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
    fused = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                            conv.padding, conv.dilation, conv.groups, bias=True)
    fused.weight = torch.nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1),
                                      requires_grad=False)
    fused.bias = torch.nn.Parameter(norm.bias - norm.running_mean * scale, requires_grad=False)
    setattr(parent, conv_name, fused)
    setattr(parent, norm_name, torch.nn.Identity())


@torch.no_grad()
def fold_frozen_batch_norm(model: MaskRCNN) -> MaskRCNN:
    """Fold every ``FrozenBatchNorm2d`` of the ResNet body into the convolution before it, in
    place: the same function up to float rounding, without a multiply and an add over a whole
    feature map after each convolution. Call it after loading."""
    body = model.backbone.body
    _fold_pair(body, "conv1", "bn1")
    for name in ("layer1", "layer2", "layer3", "layer4"):
        for block in getattr(body, name):
            for index in (1, 2, 3):
                _fold_pair(block, f"conv{index}", f"bn{index}")
            if block.downsample is not None:
                _fold_pair(block.downsample, "0", "1")
    return model


class MaskRCNNSegmenter:
    """People from Mask R-CNN: the per-pixel maximum of every kept person's mask probability."""

    name = "maskrcnn"  # its key in background_replacement.backends

    def __init__(self, model: MaskRCNN, device: torch.device):
        model = fold_frozen_batch_norm(model)
        if device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)  # oneDNN's layout: ~8 % faster
        self.model = model.to(device)
        self.device = device

    @classmethod
    def from_settings(cls, settings) -> MaskRCNNSegmenter:
        """Load the weights the settings point at onto their device; raises
        ``SegmenterUnavailable``."""
        path = find_weights(settings.maskrcnn_weights)
        log.info("loading Mask R-CNN weights from %s", path)
        model = load_maskrcnn(path, min_size=settings.maskrcnn_min_size,
                              max_size=settings.maskrcnn_max_size,
                              proposals=settings.maskrcnn_proposals)
        return cls(model, select_device(settings.device))

    def _people(self, image: torch.Tensor,
                score_threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask R-CNN's own stages, with the mask head run only on the people kept.

        torchvision's forward predicts a mask for every detection of every class (up to 100);
        here the boxes are filtered to person ≥ ``score_threshold`` first. Returns the kept
        people's mask probabilities pasted at the input's size (people × H × W).
        """
        model, heads = self.model, self.model.roi_heads
        size = image.shape[-2:]
        images, _ = model.transform([image])
        features = model.backbone(images.tensors)
        proposals, _ = model.rpn(images, features)
        box_features = heads.box_head(heads.box_roi_pool(features, proposals, images.image_sizes))
        class_logits, box_regression = heads.box_predictor(box_features)
        boxes, scores, labels = heads.postprocess_detections(class_logits, box_regression,
                                                             proposals, images.image_sizes)
        keep = (labels[0] == PERSON_LABEL) & (scores[0] >= score_threshold)
        people = boxes[0][keep]
        if people.shape[0] == 0:
            return torch.zeros((0, *size)), scores[0][keep]
        mask_features = heads.mask_roi_pool(features, [people], images.image_sizes)
        mask_logits = heads.mask_predictor(heads.mask_head(mask_features))
        probabilities = maskrcnn_inference(mask_logits, [labels[0][keep]])[0]
        detections = model.transform.postprocess([{"boxes": people, "masks": probabilities}],
                                                 images.image_sizes, [tuple(size)])
        return detections[0]["masks"][:, 0], scores[0][keep]

    def segment(self, image_rgb: np.ndarray, *, score_threshold: float) -> People:
        """The pixelwise maximum of the masks of the people with score ≥ threshold; each
        person's own mask comes to the CPU only when asked for."""
        height, width = image_rgb.shape[:2]
        with torch.inference_mode():
            tensor = torch.from_numpy(image_rgb).to(self.device).permute(2, 0, 1)
            masks, scores = self._people(tensor.float().div_(255.0), score_threshold)
            scores = tuple(float(score) for score in scores.cpu())
            if not scores:
                return People.none(height, width)
            probability = masks.amax(dim=0).float().cpu().numpy()
        return People(np.ascontiguousarray(probability), scores,
                      lambda: np.ascontiguousarray(masks.float().cpu().numpy()))
