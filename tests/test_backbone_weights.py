"""Pretrained backbone files: torchvision's and the official code's ResNet-50 naming, strict errors naming the keys,
the RGB order ImageNet weights expect, and per-operator options from the configuration (PG-Net's 7x7 template)."""
from __future__ import annotations

import pytest
import torch

from automatch_lib.model.backbone import Normalize, ResNet50Dilated, load_pretrained

from conftest import torchvision_resnet50_state

def test_torchvision_resnet50_loads_with_every_key_matched(tmp_path):
    state = torchvision_resnet50_state()
    torch.save(state, tmp_path / "resnet50.pth")
    net = ResNet50Dilated(color="rgb")
    report = load_pretrained(net, tmp_path / "resnet50.pth")
    own = net.state_dict()
    unused = sorted(k for k in state if k.startswith(("layer4.", "fc.")))
    assert report["naming"] == "torchvision" and report["dropped"] == unused
    assert report["loaded"] == len(own) == len(state) - len(unused)       # every backbone key came from the file
    pairs = {"conv1.weight": "stem.0.weight", "bn1.running_var": "stem.1.running_var",
             "layer1.0.conv1.weight": "layer1.0.body.0.weight", "layer1.2.bn1.bias": "layer1.2.body.1.bias",
             "layer2.3.conv2.weight": "layer2.3.body.3.weight",
             "layer3.5.bn2.running_mean": "layer3.5.body.4.running_mean",
             "layer3.0.conv3.weight": "layer3.0.body.6.weight", "layer2.1.bn3.weight": "layer2.1.body.7.weight",
             "layer2.0.downsample.0.weight": "layer2.0.shortcut.0.weight",
             "layer3.0.downsample.1.num_batches_tracked": "layer3.0.shortcut.1.num_batches_tracked"}
    for theirs, ours in pairs.items():
        assert torch.equal(own[ours], state[theirs]), (theirs, ours)
    # the official code keeps the same names under 'features.features.' (and DDP files under 'module.')
    torch.save({"state_dict": {f"features.features.{k}": v for k, v in state.items()}}, tmp_path / "official.pth")
    assert load_pretrained(ResNet50Dilated(color="rgb"), tmp_path / "official.pth")["loaded"] == len(own)


def test_a_wrong_key_or_shape_fails_naming_it(tmp_path):
    state = torchvision_resnet50_state()
    state["layer1.0.conv9.weight"] = state.pop("layer1.0.conv1.weight")
    torch.save(state, tmp_path / "renamed.pth")
    net = ResNet50Dilated(color="rgb")
    before = net.state_dict()["stem.0.weight"].clone()
    with pytest.raises(ValueError) as err:
        load_pretrained(net, tmp_path / "renamed.pth")
    msg = str(err.value)
    assert "renamed.pth" in msg and "layer1.0.conv9.weight" in msg and "layer1.0.body.0.weight" in msg, msg
    assert torch.equal(net.state_dict()["stem.0.weight"], before)        # nothing loaded from a file that does not fit
    # the official SOTS backbone's strided shortcuts are 3x3 convolutions: the shape error names them
    state = torchvision_resnet50_state()
    state["layer2.0.downsample.0.weight"] = torch.randn(512, 256, 3, 3)
    torch.save(state, tmp_path / "official_shapes.pth")
    with pytest.raises(ValueError, match=r"layer2\.0\.shortcut\.0\.weight \(512, 256, 3, 3\) vs \(512, 256, 1, 1\)"):
        load_pretrained(ResNet50Dilated(color="rgb"), tmp_path / "official_shapes.pth")


def test_imagenet_weights_into_a_bgr_backbone_fail_loudly(tmp_path):
    torch.save(torchvision_resnet50_state(), tmp_path / "resnet50.pth")
    with pytest.raises(ValueError, match="model.color: rgb"):
        load_pretrained(ResNet50Dilated(), tmp_path / "resnet50.pth")


def test_rgb_normalisation_is_imagenet_statistics_in_rgb_order():
    bgr = torch.rand(2, 3, 5, 4) * 255
    out = Normalize("rgb")(bgr)
    rgb = bgr.flip(1) / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(out, (rgb - mean) / std)
    torch.testing.assert_close(Normalize("bgr")(bgr), out.flip(1))
    with pytest.raises(ValueError, match="'yuv'"):
        Normalize("yuv")


def test_operator_options_set_the_pg_corr_template_from_the_configuration():
    from automatch_lib.config import parse_params
    from automatch_lib.errors import ConfigError
    from automatch_lib.experiments.training import make_model

    p = parse_params({"model": {"channels": 8, "operator_options": {"pg_corr": {"template_cells": 7}}}})
    model = make_model(p, ["pg_corr"], ["dw_xcorr"])
    op = model.match_cls.ops[0]
    assert op.template_cells == 7 and op.fuse[0][0].in_channels == 49
    x, z = torch.rand(1, 8, 12, 12), torch.rand(1, 8, 6, 6)
    assert op(x, z, torch.tensor([[1.0, 1.0, 5.0, 5.0]])).shape == (1, 8, 12, 12)
    # the options travel with the checkpoint's config
    assert model.config["operator_options"] == {"pg_corr": {"template_cells": 7}}
    bad = parse_params({"model": {"operator_options": {"pg_corr": {"cells": 7}}}})
    with pytest.raises(ConfigError, match=r"model\.operator_options\.pg_corr\.cells"):
        make_model(bad, ["pg_corr"], ["pg_corr"])
    with pytest.raises(ConfigError, match="unknown matching operator 'pgcorr'"):
        make_model(parse_params({"model": {"operator_options": {"pgcorr": {}}}}), ["film"], ["film"])
    with pytest.raises(ConfigError, match="operator_options"):
        parse_params({"model": {"operator_options": {"pg_corr": 7}}})
