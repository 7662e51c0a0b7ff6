"""Mask R-CNN loading path, with random weights saved to a file (real weights cannot be fetched)."""

import logging

import numpy as np
import pytest
import torch

from background_replacement.models import MASKRCNN_COCO
from background_replacement.segmenters import SegmenterUnavailable, load_segmenter
from background_replacement.segmenters.maskrcnn import (
    COCO_CATEGORIES,
    PERSON_LABEL,
    MaskRCNNSegmenter,
    build_maskrcnn,
    load_maskrcnn,
)
from background_replacement.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / MASKRCNN_COCO.filename
    torch.save(build_maskrcnn().state_dict(), path)
    return path


def test_person_is_found_by_name():
    assert PERSON_LABEL == 1


def test_state_dict_matches_torchvision_coco_layout(random_weights):
    state = torch.load(random_weights, map_location="cpu", weights_only=True)
    assert "backbone.body.conv1.weight" in state
    assert "roi_heads.mask_predictor.mask_fcn_logits.weight" in state
    assert state["roi_heads.box_predictor.cls_score.weight"].shape == (91, 1024)
    assert not any(key.endswith("num_batches_tracked") for key in state)  # frozen batch norm


def test_random_weights_load_strictly_and_segment(random_weights):
    settings = Settings.load({"segmenter": "maskrcnn", "maskrcnn_weights": str(random_weights),
                              "maskrcnn_min_size": 128, "maskrcnn_max_size": 160})
    segmenter = load_segmenter(settings)
    assert isinstance(segmenter, MaskRCNNSegmenter)
    assert segmenter.model.rpn.post_nms_top_n() == settings.maskrcnn_proposals == 300
    image = np.random.default_rng(1).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    kept = segmenter.segment(image, score_threshold=0.0)
    assert kept.probability.shape == (70, 90) and kept.probability.dtype == np.float32
    assert kept.probability.min() >= 0.0 and kept.probability.max() <= 1.0
    none = segmenter.segment(image, score_threshold=1.01)
    assert len(none) == 0 and not none.probability.any()
    assert len(kept) >= len(none)
    assert kept.masks.shape == (len(kept), 70, 90) and len(kept.scores) == len(kept)
    if len(kept):  # each person's own mask; the probability is their maximum
        assert np.array_equal(kept.masks.max(axis=0), kept.probability)
    assert none.masks.shape == (0, 70, 90)


def test_loaded_weights_are_the_file(random_weights):
    model = load_maskrcnn(random_weights)
    saved = torch.load(random_weights, map_location="cpu", weights_only=True)
    key = "roi_heads.mask_head.0.0.weight"
    assert torch.equal(model.state_dict()[key], saved[key])
    assert not model.training


def test_missing_file_fails_at_start_up_naming_file_and_command(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(SegmenterUnavailable) as error:
        load_segmenter(Settings.load({"segmenter": "maskrcnn", "maskrcnn_weights": str(missing)}))
    assert str(missing) in str(error.value)
    assert "remove-background-models fetch maskrcnn" in str(error.value)


def test_wrong_file_fails_naming_file(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"backbone.body.conv1.weight": torch.zeros(3)}, wrong)
    with pytest.raises(SegmenterUnavailable) as error:
        load_segmenter(Settings.load({"segmenter": "maskrcnn", "maskrcnn_weights": str(wrong)}))
    assert str(wrong) in str(error.value) and "fetch maskrcnn" in str(error.value)


def test_auto_falls_back_to_the_embedded_model_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    settings = Settings.load({"segmenter": "auto",
                              "maskrcnn_weights": str(tmp_path / "absent.pth")})
    segmenter = load_segmenter(settings)
    assert segmenter.name == "pose"
    assert "maskrcnn unavailable" in caplog.text and "trying pose" in caplog.text


def test_people_only_path_equals_torchvisions_forward(random_weights):
    """The mask head run on kept people alone gives torchvision's masks for those people."""
    model = load_maskrcnn(random_weights, min_size=128, max_size=160)
    model.roi_heads.score_thresh = 0.0  # random weights: let every box through
    predictor = model.roi_heads.box_predictor
    with torch.no_grad():  # boxes = proposals, each one a person and a bird alike
        predictor.bbox_pred.weight.zero_()
        predictor.bbox_pred.bias.zero_()
        predictor.cls_score.weight.zero_()
        predictor.cls_score.bias.zero_()
        predictor.cls_score.bias[[PERSON_LABEL, COCO_CATEGORIES.index("bird")]] = 3.0
    segmenter = MaskRCNNSegmenter(model, torch.device("cpu"))
    image = np.random.default_rng(2).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
    with torch.inference_mode():
        reference = model([tensor])[0]
        keep = reference["labels"] == PERSON_LABEL
        expected = reference["masks"][keep, 0]
        masks, scores = segmenter._people(tensor, 0.0)
    count = masks.shape[0]
    assert count == int(keep.sum()) > 0 and count < len(reference["labels"])
    assert torch.allclose(masks, expected, atol=1e-5)
    assert torch.allclose(scores, reference["scores"][keep])


def test_folding_the_frozen_batch_norms_keeps_the_features():
    """The segmenter folds the body's norms into its convolutions: with norms that do something
    (random statistics, as trained weights have), the FPN features stay the same."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    from background_replacement.segmenters.maskrcnn import fold_frozen_batch_norm

    torch.manual_seed(0)
    model = build_maskrcnn(min_size=128, max_size=128).eval()
    for name, buffer in model.backbone.body.named_buffers():
        if name.endswith(("running_var", "weight")):
            buffer.uniform_(0.5, 1.5)
        elif name.endswith(("running_mean", "bias")):
            buffer.normal_(0.0, 0.1)
    image = torch.rand(1, 3, 128, 128)
    with torch.inference_mode():
        before = model.backbone(image)
        fold_frozen_batch_norm(model)
        after = model.backbone(image)
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in model.backbone.body.modules())
    for key in before:
        scale = float(before[key].abs().max())
        assert float((after[key] - before[key]).abs().max()) <= 1e-4 * scale, key
