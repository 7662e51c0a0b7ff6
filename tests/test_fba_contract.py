"""FBA Matting network contract: checkpoint layout, loading, shapes, folding, fusion, forcing."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from background_replacement.fba import (
    REDUCED_PRECISION_STAGES,
    STAGES,
    FBACheckpointError,
    FBANet,
    Precision,
    WSConv2d,
    build_fba,
    crop_to,
    fold_weight_standardisation,
    load_fba,
    network_inputs,
    predict_fba,
)
from background_replacement.fba.network import fba_fusion, standardise_weight

H, W = 45, 61  # deliberately not multiples of 8


@pytest.fixture(scope="module")
def model() -> FBANet:
    torch.manual_seed(0)
    return build_fba().eval()


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    trimap = np.full((H, W), 128, dtype=np.uint8)
    trimap[:, :15] = 0
    trimap[:, 45:] = 255
    return image, trimap


def _tensors(image: np.ndarray, trimap: np.ndarray) -> list[torch.Tensor]:
    return [torch.from_numpy(a) for a in network_inputs(image, trimap)]


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


# --- checkpoint layout -------------------------------------------------------------------


def test_state_dict_has_197_tensors(model: FBANet) -> None:
    state = model.state_dict()
    assert len(state) == 197
    assert all(key.startswith(("encoder.", "decoder.")) for key in state)


def test_parameter_counts(model: FBANet) -> None:
    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    assert count(model) == 34_693_031
    assert count(model.encoder) == 23_533_120
    assert count(model.decoder) == 11_159_911
    assert sum(t.numel() for t in model.state_dict().values()) == 34_693_031


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        ("encoder.conv1.weight", (64, 11, 7, 7)),
        ("encoder.bn1.weight", (64,)),
        ("encoder.layer1.0.downsample.0.weight", (256, 64, 1, 1)),
        ("encoder.layer1.0.downsample.1.bias", (256,)),
        ("encoder.layer3.5.conv2.weight", (256, 256, 3, 3)),
        ("encoder.layer4.2.bn3.weight", (2048,)),
        ("decoder.ppm.0.1.weight", (256, 2048, 1, 1)),
        ("decoder.ppm.3.1.bias", (256,)),
        ("decoder.ppm.3.2.weight", (256,)),
        ("decoder.conv_up1.0.weight", (256, 3072, 3, 3)),
        ("decoder.conv_up1.3.weight", (256, 256, 3, 3)),
        ("decoder.conv_up2.0.weight", (256, 512, 3, 3)),
        ("decoder.conv_up3.0.weight", (64, 320, 3, 3)),
        ("decoder.conv_up4.0.weight", (32, 72, 3, 3)),
        ("decoder.conv_up4.2.weight", (16, 32, 3, 3)),
        ("decoder.conv_up4.4.weight", (7, 16, 1, 1)),
        ("decoder.conv_up4.4.bias", (7,)),
    ],
)
def test_key_shapes(model: FBANet, key: str, shape: tuple[int, ...]) -> None:
    assert tuple(model.state_dict()[key].shape) == shape


def test_encoder_convs_are_standardised_without_bias_and_head_is_plain(model: FBANet) -> None:
    encoder_convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(encoder_convs) == 53
    assert all(isinstance(m, WSConv2d) and m.bias is None for m in encoder_convs)
    assert not any(isinstance(m, WSConv2d) for m in model.decoder.conv_up4.modules())
    norms = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert norms and all(m.num_groups == 32 for m in norms)


def test_encoder_dilation_gives_output_stride_8(model: FBANet) -> None:
    enc = model.encoder
    assert enc.layer2[0].conv2.stride == (2, 2)
    for layer, first, rest in ((enc.layer3, 1, 2), (enc.layer4, 2, 4)):
        assert layer[0].downsample[0].stride == (1, 1)
        assert layer[0].conv2.stride == (1, 1)
        assert layer[0].conv2.dilation == (first, first)
        assert layer[0].conv2.padding == (first, first)
        for block in layer[1:]:
            assert block.conv2.dilation == (rest, rest)
            assert block.conv2.padding == (rest, rest)
    with torch.inference_mode():
        features, indices = enc(torch.zeros(1, 11, 32, 48))
    sizes = [tuple(f.shape[1:]) for f in features]
    assert sizes == [
        (11, 32, 48),
        (64, 16, 24),
        (256, 8, 12),
        (512, 4, 6),
        (1024, 4, 6),
        (2048, 4, 6),
    ]
    assert tuple(indices.shape) == (1, 64, 8, 12)


# --- loading ------------------------------------------------------------------------------


def test_random_state_dict_loads_strictly(
    tmp_path: Path, model: FBANet, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    path = _save(model.state_dict(), tmp_path / "FBA.pth")
    loaded = load_fba(path)
    assert not loaded.training
    ws = [m for m in loaded.modules() if isinstance(m, WSConv2d)]
    assert ws and all(m.folded for m in ws)
    with torch.inference_mode():
        expected = model(*_tensors(*sample))
        got = loaded(*_tensors(*sample))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_missing_key_is_reported_with_file_name(tmp_path: Path, model: FBANet) -> None:
    state = dict(model.state_dict())
    del state["decoder.conv_up4.4.bias"]
    path = _save(state, tmp_path / "missing_key.pth")
    with pytest.raises(FBACheckpointError, match=r"missing_key\.pth") as info:
        load_fba(path)
    assert "decoder.conv_up4.4.bias" in str(info.value)


def test_wrong_shape_is_reported_with_file_name(tmp_path: Path, model: FBANet) -> None:
    state = dict(model.state_dict())
    state["encoder.conv1.weight"] = torch.zeros(64, 3, 7, 7)
    path = _save(state, tmp_path / "wrong_shape.pth")
    with pytest.raises(FBACheckpointError, match=r"wrong_shape\.pth") as info:
        load_fba(path)
    assert "encoder.conv1.weight" in str(info.value)


def test_unexpected_prefix_is_rejected(tmp_path: Path, model: FBANet) -> None:
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = _save(state, tmp_path / "prefixed.pth")
    with pytest.raises(FBACheckpointError, match=r"prefixed\.pth"):
        load_fba(path)


def test_missing_file_and_non_state_dict(tmp_path: Path) -> None:
    with pytest.raises(FBACheckpointError, match=r"absent\.pth"):
        load_fba(tmp_path / "absent.pth")
    path = _save([torch.zeros(3)], tmp_path / "a_list.pth")  # type: ignore[arg-type]
    with pytest.raises(FBACheckpointError, match=r"a_list\.pth"):
        load_fba(path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(FBACheckpointError, match=r"garbage\.pth"):
        load_fba(garbage)


# --- forward --------------------------------------------------------------------------------


def test_raw_forward_on_padded_input(model: FBANet, sample: tuple[np.ndarray, np.ndarray]) -> None:
    tensors = _tensors(*sample)
    assert tuple(tensors[0].shape) == (1, 3, 48, 64)
    with torch.inference_mode():
        out = model(*tensors)
    assert tuple(out.shape) == (1, 7, 48, 64)
    assert out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    cropped = crop_to(out[0].numpy().transpose(1, 2, 0), H, W)
    assert cropped.shape == (H, W, 7)


def test_forward_rejects_bad_sizes(model: FBANet) -> None:
    def inputs(h: int, w: int) -> list[torch.Tensor]:
        return [torch.zeros(1, c, h, w) for c in (3, 2, 3, 6)]

    with torch.inference_mode():
        with pytest.raises(ValueError, match="multiples of 8"):
            model(*inputs(H, W))
        bad = inputs(48, 64)
        bad[3] = torch.zeros(1, 5, 48, 64)
        with pytest.raises(ValueError, match="trimap_transformed"):
            model(*bad)
        bad = inputs(48, 64)
        bad[1] = torch.zeros(1, 2, 48, 56)
        with pytest.raises(ValueError, match="two_chan_trimap"):
            model(*bad)


def test_predict_keeps_size_and_forces_known_regions(
    model: FBANet, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    image, trimap = sample
    alpha, foreground = predict_fba(model, image, trimap)
    assert alpha.shape == (H, W) and alpha.dtype == np.float32
    assert foreground.shape == (H, W, 3) and foreground.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert foreground.min() >= 0.0 and foreground.max() <= 1.0
    assert (alpha[trimap == 0] == 0).all()
    assert (alpha[trimap == 255] == 1).all()
    known_fg = trimap == 255
    np.testing.assert_array_equal(foreground[known_fg], image[known_fg] / np.float32(255))

    # The forcing is real work: the network alone does not produce these exact values.
    with torch.inference_mode():
        raw = model(*_tensors(image, trimap))[0, :, :H, :W].numpy()
    np.testing.assert_allclose(alpha[trimap == 128], raw[0][trimap == 128], atol=1e-5)
    assert not (
        (raw[0][trimap == 0] == 0).all()
        and (raw[0][known_fg] == 1).all()
        and np.array_equal(raw[1:4].transpose(1, 2, 0)[known_fg], foreground[known_fg])
    )


def test_predict_rejects_bad_input(model: FBANet, sample: tuple[np.ndarray, np.ndarray]) -> None:
    image, trimap = sample
    with pytest.raises(ValueError):
        predict_fba(model, image.astype(np.float32), trimap)
    with pytest.raises(ValueError):
        predict_fba(model, image, trimap[:-1])


def test_predict_under_bf16_autocast_returns_float32(
    model: FBANet, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    everything = Precision(torch.bfloat16, frozenset(STAGES))
    alpha, foreground = predict_fba(model, *sample, precision=everything)
    assert alpha.dtype == np.float32 and alpha.shape == (H, W)
    assert foreground.dtype == np.float32 and foreground.shape == (H, W, 3)
    reference, _ = predict_fba(model, *sample)
    assert np.abs(alpha - reference).mean() < 0.1


def test_only_the_reduced_stages_compute_in_bf16(
    model: FBANet, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    """Every convolution of layer4 and conv_up1-3 outputs bf16; every other one float32."""
    dtypes: dict[str, torch.dtype] = {}
    hooks = [module.register_forward_hook(
                 lambda _m, _i, out, name=name: dtypes.__setitem__(name, out.dtype))
             for name, module in model.named_modules() if isinstance(module, torch.nn.Conv2d)]
    try:
        predict_fba(model, *sample, precision=Precision(torch.bfloat16, REDUCED_PRECISION_STAGES))
    finally:
        for hook in hooks:
            hook.remove()
    reduced = ("encoder.layer4.", "decoder.conv_up1.", "decoder.conv_up2.", "decoder.conv_up3.")
    assert len(dtypes) == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    for name, dtype in dtypes.items():
        expected = torch.bfloat16 if name.startswith(reduced) else torch.float32
        assert dtype == expected, name


def test_precision_names_only_real_stages() -> None:
    with pytest.raises(ValueError, match="layer5"):
        Precision(torch.bfloat16, frozenset({"layer4", "layer5"}))


# --- weight standardisation ---------------------------------------------------------------


def test_standardised_weight_statistics() -> None:
    weight = torch.randn(8, 4, 3, 3) * 3 + 2
    std = standardise_weight(weight)
    torch.testing.assert_close(std.mean(dim=(1, 2, 3)), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(std.reshape(8, -1).std(dim=1), torch.ones(8), atol=1e-4, rtol=0)


def test_folded_matches_per_forward(model: FBANet, sample: tuple[np.ndarray, np.ndarray]) -> None:
    folded = copy.deepcopy(model)
    raw_weight = folded.encoder.conv1.weight.detach().clone()
    assert fold_weight_standardisation(folded) == 61  # 53 encoder + 8 decoder
    assert fold_weight_standardisation(folded) == 0  # idempotent
    # Folding really rewrote the weights ...
    assert not torch.allclose(folded.encoder.conv1.weight, raw_weight)
    torch.testing.assert_close(folded.encoder.conv1.weight, standardise_weight(raw_weight))
    # ... and the folded model computes the same function.
    tensors = _tensors(*sample)
    with torch.inference_mode():
        expected = model(*tensors)
        got = folded(*tensors)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_loading_raw_weights_unfolds(model: FBANet) -> None:
    folded = copy.deepcopy(model)
    fold_weight_standardisation(folded)
    folded.load_state_dict(model.state_dict(), strict=True)
    assert not any(m.folded for m in folded.modules() if isinstance(m, WSConv2d))


# --- fusion ---------------------------------------------------------------------------------


def test_fusion_limits_and_sequential_update() -> None:
    torch.manual_seed(1)
    image, fg, bg = (torch.rand(1, 3, 4, 4) for _ in range(3))
    ones = torch.ones(1, 1, 4, 4)

    a, f, b = fba_fusion(ones, image, fg, bg)
    torch.testing.assert_close(f, image)
    torch.testing.assert_close(b, bg)
    torch.testing.assert_close(a, ones)

    a, f, b = fba_fusion(torch.zeros_like(ones), image, fg, bg)
    torch.testing.assert_close(f, fg)
    torch.testing.assert_close(b, image)
    torch.testing.assert_close(a, torch.zeros_like(ones))

    # Half alpha: the background update uses the updated (unclamped) foreground.
    alpha = torch.full_like(ones, 0.5)
    f_new = 0.5 * image + 0.75 * fg - 0.25 * bg
    b_new = 0.5 * image + 0.75 * bg - 0.25 * f_new
    a, f, b = fba_fusion(alpha, image, fg, bg)
    f_new, b_new = f_new.clamp(0, 1), b_new.clamp(0, 1)
    torch.testing.assert_close(f, f_new)
    torch.testing.assert_close(b, b_new)
    diff = f_new - b_new
    a_new = (0.05 + ((image - b_new) * diff).sum(1, keepdim=True)) / (
        (diff * diff).sum(1, keepdim=True) + 0.1
    )
    torch.testing.assert_close(a, a_new.clamp(0, 1))
    assert a.dtype == f.dtype == b.dtype == torch.float32
