"""PG-Net (model.pgnet, model.anchors): anchor layout and coding, IoU assignment, the head's shapes and level
weights, its loss, checkpoints and the tracker registry, the paper profile's three ResNet-50 levels, and the tracker
following a moving target through anchor decoding."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from automatch_lib.config import CropConfig, TrainConfig, load_params
from automatch_lib.errors import ConfigError
from automatch_lib.experiments.training import make_model
from automatch_lib.geometry import grid_centers
from automatch_lib.model.anchors import (RATIOS, anchor_loss, anchor_shapes, assign, box_iou, center_to_corners,
                                         decode, encode, make_anchors)
from automatch_lib.model.backbone import ResNet50Dilated, load_pretrained
from automatch_lib.model.genotype import parse_arch
from automatch_lib.model.network import SiameseNet, load_model, save_checkpoint
from automatch_lib.model.pgnet import PGNet
from automatch_lib.trackers import make_tracker
from conftest import REPO, torchvision_resnet50_state, write_moving_sequence
from test_tracker import OracleNet, assert_follows_moving_target

CROP = CropConfig()            # 48 / 96, context 0.5: anchors of side 24 px


def small_pgnet(**kw) -> PGNet:
    torch.manual_seed(0)
    return PGNet(channels=16, operator_options={"pg_corr": {"template_cells": 4}}, **kw)


# --------------------------------------------------------------------------------------------- anchors

def test_five_anchors_per_cell_centred_on_the_cell_with_the_targets_area_and_the_given_ratios():
    shapes = anchor_shapes(RATIOS, 48, 0.5)
    assert shapes.shape == (5, 2)
    torch.testing.assert_close(shapes.prod(dim=1), torch.full((5,), 24.0 ** 2))       # side 48 / (1 + 2 * 0.5)
    torch.testing.assert_close(shapes[:, 1] / shapes[:, 0], torch.tensor(RATIOS))      # h / w
    assert anchor_shapes(RATIOS, 127, 0.5).prod(dim=1)[0].sqrt() == pytest.approx(63.5)  # ~ SiamRPN++'s 8 x 8
    anchors = make_anchors(shapes, (12, 12), (96, 96), 8)
    assert anchors.shape == (5, 12, 12, 4)
    gx, gy = grid_centers(12, 12, (96, 96), 8)
    for a in range(5):
        torch.testing.assert_close(anchors[a, :, :, 0], gx.expand(12, 12))
        torch.testing.assert_close(anchors[a, :, :, 1], gy[:, None].expand(12, 12))
        assert (anchors[a, :, :, 2:] == shapes[a]).all()
    # the heads' channel layout: (B, 2A, H, W) -> (B, 2, A, H, W), class k of anchor a is channel k * A + a
    net = small_pgnet()
    out = net(torch.rand(1, 3, 48, 48) * 255, torch.rand(1, 3, 96, 96) * 255, torch.tensor([[12.0, 12, 36, 36]]))
    assert out["cls"].shape == (1, 10, 12, 12) and out["reg"].shape == (1, 20, 12, 12)
    out["cls"] = torch.zeros_like(out["cls"])
    out["cls"][0, 5 + 2, 3, 4] = 9.0                                                  # target logit of anchor 2
    score, boxes = net.candidates(out, 96)
    assert score.shape == (1, 5, 12, 12) and boxes.shape == (1, 5, 12, 12, 4)
    assert tuple(int(i) for i in np.unravel_index(int(score.argmax()), score.shape)) == (0, 2, 3, 4)


def test_decode_of_encode_is_the_box_and_an_anchor_encodes_to_zero():
    anchors = make_anchors(anchor_shapes(RATIOS, 48, 0.5), (12, 12), (96, 96), 8)
    boxes = torch.tensor([[10.0, 20.0, 50.0, 44.0], [60.0, 5.0, 70.0, 90.0], [-3.0, 40.0, 30.0, 99.0]])
    for box in boxes:
        deltas = encode(box.expand(5, 12, 12, 4), anchors)
        torch.testing.assert_close(decode(deltas, anchors), box.expand(5, 12, 12, 4), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(encode(center_to_corners(anchors), anchors), torch.zeros(5, 12, 12, 4),
                               rtol=0, atol=1e-5)


def test_a_box_equal_to_an_anchor_makes_it_positive_and_far_anchors_negative():
    anchors = make_anchors(anchor_shapes(RATIOS, 48, 0.5), (12, 12), (96, 96), 8)
    box = center_to_corners(anchors[3, 5, 7])                     # exactly anchor 3 (h / w = 2) at cell (5, 7)
    labels = assign(anchors, box[None], torch.tensor([False]))
    assert labels.shape == (1, 5, 12, 12)
    assert box_iou(anchors, box[None])[0, 3, 5, 7] == pytest.approx(1.0)
    assert labels[0, 3, 5, 7] == 1
    assert (labels[0, :, 0, :] == 0).all() and (labels[0, :, :, 0] == 0).all()     # cells far from the box
    assert set(labels.unique().tolist()) == {-1.0, 0.0, 1.0}                      # IoU in [0.3, 0.6): ignored
    assert (assign(anchors, box[None], torch.tensor([True])) == 0).all()           # a different-object pair
    # a box no anchor overlaps by 0.6 still gets its best anchor as a positive (every pair trains regression)
    tiny = torch.tensor([[40.0, 40.0, 46.0, 46.0]])
    assert box_iou(anchors, tiny).max() < 0.6 and (assign(anchors, tiny, torch.tensor([False])) == 1).sum() == 1
    # ... but no anchor that does not overlap it at all (a box outside the crop): nothing to regress towards
    outside = torch.tensor([[300.0, 300.0, 320.0, 330.0]])
    assert box_iou(anchors, outside).max() == 0 and not (assign(anchors, outside, torch.tensor([False])) == 1).any()


def test_anchor_loss_is_low_for_the_right_answer_and_regresses_only_positives():
    anchors = make_anchors(anchor_shapes(RATIOS, 48, 0.5), (12, 12), (96, 96), 8)
    boxes = torch.tensor([[30.0, 28.0, 58.0, 70.0]])
    labels = assign(anchors, boxes, torch.tensor([False]))
    right_cls = torch.zeros(1, 2, 5, 12, 12)
    right_cls[:, 1][labels == 1] = 8.0
    right_cls[:, 0][labels == 0] = 8.0
    right_reg = encode(boxes.view(1, 1, 1, 1, 4), anchors[None]).permute(0, 4, 1, 2, 3).reshape(1, 20, 12, 12)
    good, stats = anchor_loss(right_cls.view(1, 10, 12, 12), right_reg, anchors, boxes, torch.tensor([False]))
    bad, _ = anchor_loss(-right_cls.view(1, 10, 12, 12), torch.zeros(1, 20, 12, 12), anchors, boxes,
                         torch.tensor([False]))
    assert stats["loss/reg"] == pytest.approx(0.0, abs=1e-6) and stats["loss/cls"] < 1e-3 and float(bad) > 5
    neg, neg_stats = anchor_loss(torch.zeros(1, 10, 12, 12), torch.randn(1, 20, 12, 12), anchors, boxes,
                                 torch.tensor([True]))
    assert neg_stats["loss/reg"] == 0.0 and neg_stats["loss/cls"] == pytest.approx(0.5 * np.log(2), rel=1e-5)


# --------------------------------------------------------------------------------------------- network

@pytest.mark.parametrize("sizes", [(48, 96), (32, 64), (64, 144)])
def test_head_shapes_follow_the_crops_and_every_level_gets_gradient(sizes):
    e, s = sizes
    net = small_pgnet(exemplar_size=e)
    out = net(torch.rand(2, 3, e, e) * 255, torch.rand(2, 3, s, s) * 255, torch.tensor([[e / 4, e / 4, 3 * e / 4,
                                                                                          3 * e / 4]] * 2))
    H = -(-s // 8)
    assert out["cls"].shape == (2, 10, H, H) and out["reg"].shape == (2, 20, H, H)
    loss, _ = net.loss(out, torch.tensor([[s / 3, s / 3, s / 2, 2 * s / 3]] * 2), torch.tensor([False, True]), s,
                       TrainConfig())
    loss.backward()
    assert net.levels == ("mid", "inner", "deep") and len(net.corr) == len(net.cls_heads) == 3
    for module in (*net.adjust_x, *net.corr, *net.cls_heads, *net.reg_heads):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert net.cls_level.grad is not None and net.reg_level.grad is not None
    torch.testing.assert_close(torch.softmax(net.cls_level, 0).sum(), torch.tensor(1.0))


def test_the_level_weights_are_a_softmax_that_picks_a_level():
    """With one level's weight far above the others, the output is that level's head (then the enhance conv)."""
    net = small_pgnet().eval()
    z, x, box = torch.rand(1, 3, 48, 48) * 255, torch.rand(1, 3, 96, 96) * 255, torch.tensor([[12.0, 12, 36, 36]])
    with torch.no_grad():
        net.cls_level.copy_(torch.tensor([0.0, 50.0, 0.0]))
        out = net(z, x, box)
        state = net.template(z, box)
        level = net.features(x)[1]
        alone = net.cls_enhance(net.cls_heads[1](net.corr[1](net.adjust_x[1](level), state["z"][1], state["box"])))
    torch.testing.assert_close(out["cls"], alone)


def test_pg_corr_template_cells_come_from_the_configuration():
    net = PGNet(channels=8, operator_options={"pg_corr": {"template_cells": 7}})
    assert all(c.template_cells == 7 for c in net.corr)
    p = load_params(REPO / "params.yaml")
    assert make_model(p, ["pg_corr"], ["pg_corr"], network="pgnet").corr[0].template_cells == \
        p.model.operator_options["pg_corr"]["template_cells"]


def test_training_steps_lower_the_loss_on_a_fixed_batch():
    net = small_pgnet()
    g = torch.Generator().manual_seed(1)
    z, x = torch.rand(4, 3, 48, 48, generator=g) * 255, torch.rand(4, 3, 96, 96, generator=g) * 255
    tbox = torch.tensor([[12.0, 12, 36, 36]] * 4)
    sbox = torch.tensor([[30.0, 30, 54, 54], [20, 40, 40, 80], [50, 20, 90, 50], [36, 36, 60, 60]])
    negative = torch.tensor([False, False, False, True])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, _ = net.loss(net(z, x, tbox), sbox, negative, 96, TrainConfig())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_resnet50_pyramid_is_layer2_3_4_at_stride_8_and_loads_layer4_from_torchvision_names(tmp_path):
    net = ResNet50Dilated(color="rgb", layer4=True)
    assert net.pyramid == ("mid", "deep", "layer4") and net.channels["layer4"] == 2048
    state = torchvision_resnet50_state()
    torch.save(state, tmp_path / "resnet50.pth")
    report = load_pretrained(net, tmp_path / "resnet50.pth")
    assert report["dropped"] == sorted(k for k in state if k.startswith("fc."))       # layer4 is used now
    assert torch.equal(net.state_dict()["layer4.2.body.3.weight"], state["layer4.2.conv2.weight"])
    dilations = [m.dilation[0] for m in net.layer4.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] == 3]
    assert dilations == [2, 4, 4]                                                     # supplementary Table 1
    with torch.no_grad():
        maps = net.eval().maps(torch.rand(1, 3, 64, 64) * 255)
    assert {k: tuple(v.shape[1:]) for k, v in maps.items()} == {
        "mid": (512, 8, 8), "deep": (1024, 8, 8), "layer4": (2048, 8, 8)}


# --------------------------------------------------------------------------------------------- checkpoints, tracker

def test_checkpoint_rebuilds_pgnet_and_the_registry_tells_families_apart(tmp_path):
    net = small_pgnet(ratios=(0.5, 1.0, 2.0))
    save_checkpoint(tmp_path / "pg.pt", net, crop=dataclasses.asdict(CROP))
    model, ckpt = load_model(tmp_path / "pg.pt")
    assert isinstance(model, PGNet) and ckpt["network"] == "pgnet" and model.shapes.shape == (3, 2)
    for k, v in net.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    for kind in ("siamese", "pgnet"):
        assert isinstance(make_tracker(kind, tmp_path / "pg.pt").model, PGNet)
    save_checkpoint(tmp_path / "ocean.pt", SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8),
                    crop=dataclasses.asdict(CROP))
    with pytest.raises(ConfigError, match="'siamese' checkpoint, not PG-Net's"):
        make_tracker("pgnet", tmp_path / "ocean.pt")
    assert parse_arch("pgnet", load_params(REPO / "params.yaml")).network == "pgnet"
    from automatch_lib.model.genotype import Genotype
    with pytest.raises(ConfigError, match="PG-Net matches with pg_corr in both branches"):
        Genotype(("film",), ("pg_corr",), network="pgnet")
    with pytest.raises(ConfigError, match="unknown network family 'rpn'"):
        Genotype(("film",), ("film",), network="rpn")


def test_pgnet_on_resnet50_refuses_the_shared_layer3_backbone_and_says_what_to_do(tmp_path):
    """The pretrain stage's shared ResNet-50 (AutoMatch's) stops at layer3; PG-Net reads layer4 as well."""
    p = load_params(REPO / "params.yaml")
    p.model.backbone, p.model.color = "resnet50_dilated", "rgb"
    shared = make_model(p, ["film"], ["film"]).backbone
    torch.save({"state_dict": shared.state_dict()}, tmp_path / "backbone.pt")
    with pytest.raises(ConfigError, match=r"missing \['layer4.*train it end to end .*model.pretrained"):
        make_model(p, ["pg_corr"], ["pg_corr"], network="pgnet", backbone=tmp_path / "backbone.pt")


class AnchorOracle(torch.nn.Module):
    """The anchor-free oracle of test_tracker, answered through PG-Net's anchors: each cell's oracle box is encoded
    against every anchor of the cell (deltas) and every anchor gets the cell's score. The tracker then finds the
    target only if PGNet.candidates decodes anchors and layout consistently with the assignment's encoding."""

    stride = 8

    def __init__(self):
        super().__init__()
        self.oracle = OracleNet()
        self.net = small_pgnet()

    def template(self, template, box):
        return self.oracle.template(template, box)

    def track(self, search, state):
        out = self.oracle.track(search, state)
        S = search.shape[-1]
        boxes = self.oracle.candidates(out, S)[1][:, 0]                        # (1, H, W, 4) crop pixels
        H, W = boxes.shape[1:3]
        anchors = self.net.anchors((H, W), S)
        deltas = encode(boxes[:, None].expand(1, 5, H, W, 4), anchors[None])   # (1, A, H, W, 4)
        logit = out["cls"][:, 0][:, None].expand(1, 5, H, W)
        cls = torch.stack([torch.zeros_like(logit), logit], dim=1).reshape(1, 10, H, W)
        return {"cls": cls, "reg": deltas.permute(0, 4, 1, 2, 3).reshape(1, 20, H, W)}

    def candidates(self, out, search_size):
        return self.net.candidates(out, search_size)


def test_tracker_follows_a_moving_target_through_anchor_decoding(tmp_path):
    assert_follows_moving_target(AnchorOracle(), tmp_path, speed=3.0)


def test_automatch_train_arch_pgnet_trains_end_to_end_on_images_and_evaluates(tmp_path, capsys):
    """`automatch train --arch pgnet` (no feature cache: the backbone's three levels from images), then `automatch
    evaluate --tracker pgnet` with the checkpoint alone."""
    from automatch_lib.cli import main
    from conftest import profile_params
    data = tmp_path / "data"
    for k in range(2):
        write_moving_sequence(data / "train" / f"S{k}", n=8, seed=k)
    params = profile_params(tmp_path, "smoke")
    assert main(["--quiet", "--params", str(params), "train", "--data", str(data), "--arch", "pgnet",
                 "--out", str(tmp_path / "pg")]) == 0
    model, ckpt = load_model(tmp_path / "pg" / "seed_0.pt")
    assert isinstance(model, PGNet) and ckpt["genotype"] == {"cls": ["pg_corr"], "reg": ["pg_corr"], "network": "pgnet"}
    assert np.isfinite(ckpt["history"]["epochs"][-1]["loss/total"])
    assert main(["--quiet", "evaluate", "--root", str(data / "train"), "--tracker", "pgnet", "--checkpoint",
                 str(tmp_path / "pg" / "seed_0.pt"), "--results", str(tmp_path / "results")]) == 0
    assert "pgnet on otb (2 sequences" in capsys.readouterr().out
