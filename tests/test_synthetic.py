"""Generated OTB-style benchmark: attributes produced on purpose, determinism, split hygiene, file format."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from automatch_lib.data.sequence import OTB_ATTRIBUTES, read_boxes, read_image
from automatch_lib.data.sources import collect, debian
from automatch_lib.data.synthetic.analysis import attribute_table, box_stats
from automatch_lib.data.synthetic.config import SyntheticConfig
from automatch_lib.data.synthetic.effects import EFFECTS
from automatch_lib.data.synthetic.generate import generate_benchmark
from automatch_lib.data.synthetic.verify import thresholds, verify_arrays, verify_attributes
from automatch_lib.errors import ConfigError, DataError
from automatch_lib.validation import build

W, H, T = 160, 120, 20
DEBIAN_CACHE = Path(__file__).resolve().parents[1] / "data" / "cache" / "debian"


def small_config(seed: int = 0) -> SyntheticConfig:
    return SyntheticConfig(seed=seed, frame_size=(W, H), seq_len=T, n_sequences={"train": 2, "val": 2, "test": 12},
                           n_stills=6, use_debian=False, jpeg_quality=85)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "bench"
    manifest = generate_benchmark(out, small_config(0), progress=False)
    return out, manifest


def seq_dirs(root: Path, split: str) -> list[Path]:
    return sorted(p for p in (root / split).iterdir() if p.is_dir())


def flags_of(seq: Path) -> set[str]:
    txt = (seq / "attrs.txt").read_text().strip()
    return {a.strip() for a in txt.split(",") if a.strip()}


def otb_geometry(seq: Path):
    """SV/FM/LR recomputed here from the ground-truth file with OTB's formulas (independent of the library)."""
    b = np.loadtxt(seq / "groundtruth_rect.txt", delimiter=",", ndmin=2)
    s = math.hypot(W, H) / math.hypot(640, 480)
    area = b[:, 2] * b[:, 3]
    ratio = area / area[0]
    c = b[:, :2] + b[:, 2:] / 2
    motion = np.linalg.norm(np.diff(c, axis=0), axis=1)
    return b, {"SV": bool(np.any((ratio > 2) | (ratio < 0.5))), "FM": bool(np.any(motion > 20 * s)),
               "LR": bool(np.any(area < 400 * s * s))}


def test_flagged_attributes_hold_and_unflagged_do_not(bench):
    root, _ = bench
    for seq in seq_dirs(root, "test") + seq_dirs(root, "val"):
        flags = flags_of(seq)
        assert flags, f"{seq.name}: every val/test sequence carries at least one attribute"
        measured = verify_attributes(seq)
        for a in flags:
            assert measured[a], f"{seq.name}: flagged {a} does not hold ({measured})"
        # the generator enforces exact agreement for val/test
        assert {a for a, v in measured.items() if v} == flags, seq.name
        b, geo = otb_geometry(seq)
        for a in ("SV", "FM", "LR"):
            assert geo[a] == (a in flags), f"{seq.name}: {a} recomputed from the ground truth = {geo[a]}"
        # OV from the ground truth alone: 1-based boxes touching the border; unflagged -> strictly inside
        touches = (b[:, 0] <= 1) | (b[:, 1] <= 1) | (b[:, 0] + b[:, 2] - 1 >= W) | (b[:, 1] + b[:, 3] - 1 >= H)
        if "OV" in flags:
            assert touches.any(), f"{seq.name}: OV flagged but the box never reaches the border"
        else:
            assert not touches.any(), f"{seq.name}: OV not flagged but the box touches the border"


def test_every_attribute_appears_in_test_split(bench):
    root, manifest = bench
    seen = set().union(*(flags_of(s) for s in seq_dirs(root, "test")))
    assert seen == set(OTB_ATTRIBUTES)
    assert all(manifest["attribute_counts"]["test"][a] >= 1 for a in OTB_ATTRIBUTES)


def test_boxes_valid_and_inside_image(bench):
    root, _ = bench
    for split in ("train", "val", "test"):
        for seq in seq_dirs(root, split):
            b = read_boxes(seq / "groundtruth_rect.txt")
            frames = sorted((seq / "img").glob("*.jpg"))
            assert len(b) == len(frames) == T
            assert frames[0].name == "0001.jpg" and frames[-1].name == f"{T:04d}.jpg"
            assert read_image(frames[0]).shape == (H, W, 3)
            assert np.all(b[:, 2] > 0) and np.all(b[:, 3] > 0), seq
            # 1-based pixels, inside the image
            assert np.all(b[:, 0] >= 1) and np.all(b[:, 1] >= 1), seq
            assert np.all(b[:, 0] + b[:, 2] - 1 <= W) and np.all(b[:, 1] + b[:, 3] - 1 <= H), seq
            assert b[0, 2] >= 2 and b[0, 3] >= 2
            assert np.all(b == np.round(b)), "integer boxes as in OTB"
            log = json.loads((seq / "log.json").read_text())
            assert len(log["frames"]) == T and log["frame_size"] == [W, H]
            # ground truth = logged clipped box, shifted to 1-based
            assert np.array_equal(b, np.array([f["box"] for f in log["frames"]], float) + [1, 1, 0, 0])


def test_stills(bench):
    root, manifest = bench
    stills = sorted((root / "stills").iterdir())
    assert len(stills) == 6 == manifest["counts"]["stills"]
    for s in stills:
        b = read_boxes(s / "groundtruth_rect.txt")
        assert b.shape == (1, 4)
        img = read_image(s / "img" / "0001.jpg")
        x, y, w, h = b[0]
        assert w >= 2 and h >= 2
        assert x >= 1 and y >= 1 and x + w - 1 <= img.shape[1] and y + h - 1 <= img.shape[0]


def test_splits_use_disjoint_source_photos(bench):
    _, manifest = bench
    groups = {s: set(manifest["splits"][s]["source_photos"]) for s in ("train", "val", "test")}
    assert groups["train"] and groups["val"] and groups["test"]
    assert not groups["train"] & groups["val"]
    assert not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    for s in ("train", "val", "test"):
        for q in manifest["splits"][s]["sequences"]:
            assert q["target_group"] in groups[s] and q["background_group"] in groups[s]
    assert all(it["target_group"] in groups["train"] for it in manifest["stills"]["items"])
    assert manifest["sources"]["packages"], "manifest records the source packages and versions"
    assert all(p["version"] for p in manifest["sources"]["packages"])


def _annotation_bytes(root: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.name in ("groundtruth_rect.txt", "attrs.txt", "log.json"):
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def test_deterministic(bench, tmp_path):
    root, _ = bench
    again = tmp_path / "again"
    generate_benchmark(again, small_config(0), progress=False)
    a, b = _annotation_bytes(root), _annotation_bytes(again)
    assert a.keys() == b.keys() and len(a) > 40
    assert a == b, [k for k in a if a[k] != b.get(k)][:5]
    other = tmp_path / "other"
    generate_benchmark(other, small_config(1), progress=False)
    c = _annotation_bytes(other)
    gt_a = sorted(v for k, v in a.items() if k.endswith("groundtruth_rect.txt"))
    gt_c = sorted(v for k, v in c.items() if k.endswith("groundtruth_rect.txt"))
    assert gt_a != gt_c


def test_regenerating_replaces_and_foreign_folder_is_refused(tmp_path):
    cfg = SyntheticConfig(frame_size=(W, H), seq_len=16, n_sequences={"train": 1, "val": 0, "test": 1}, n_stills=1,
                          use_debian=False)
    out = tmp_path / "b"
    generate_benchmark(out, cfg, progress=False)
    generate_benchmark(out, cfg, progress=False)  # our own output is replaced
    assert len(list((out / "test").iterdir())) == 1
    foreign = tmp_path / "foreign"
    (foreign / "test" / "Basketball").mkdir(parents=True)
    with pytest.raises(DataError, match="refusing"):
        generate_benchmark(foreign, cfg, progress=False)


@pytest.mark.parametrize("field,value", [
    ("seq_len", -1), ("frame_size", "big"), ("frame_size", (10, 10)), ("seed", -3), ("seed", 1.5),
    ("n_sequences", {"test": -1}), ("n_sequences", {"tst": 3}), ("attributes", ("IV", "XX")),
    ("attrs_per_sequence", (3, 1)), ("jpeg_quality", 0), ("use_debian", "yes"), ("n_stills", -5),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        SyntheticConfig(**{field: value})


@pytest.mark.parametrize("values,message", [
    ({"frame_size": [10, 10]}, "data.frame_size = (10, 10)"),
    ({"attributes": ["IV", "XX"]}, "data.attributes = ('IV', 'XX')"),
    ({"attributes": ["IV", "IV"]}, "data.attributes = ('IV', 'IV')"),
    ({"seed": -3}, "data.seed: expected a value >= 0, got -3"),
    ({"n_sequences": {"test": -1}}, "data.n_sequences = {'test': -1}"),
    ({"attrs_per_sequence": [1, 3], "attributes": ["IV", "SV"]}, "data.attrs_per_sequence = (1, 3)"),
    ({"frame_size": [100, 80]}, "data.frame_size = (100, 80): too small for LR"),
    ({"use_debian": "yes"}, "data.use_debian: expected true/false, got 'yes'"),
])
def test_config_errors_name_the_key_and_the_value(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(SyntheticConfig, values)


def test_config_from_params_mapping():
    cfg = build(SyntheticConfig, {"frame_size": [200, 150], "attributes": ["IV", "SV"], "attrs_per_sequence": [1, 2],
                                  "n_sequences": {"test": 5}})
    assert cfg.frame_size == (200, 150) and cfg.attributes == ("IV", "SV") and cfg.attrs_per_sequence == (1, 2)
    assert cfg.n_sequences == {"train": 0, "val": 0, "test": 5}, "missing splits get 0 sequences"
    small_without_lr = build(SyntheticConfig, {"frame_size": [100, 80], "attributes": ["IV", "SV", "OCC"]})
    assert small_without_lr.frame_size == (100, 80)
    with pytest.raises(ConfigError, match="bogus"):
        build(SyntheticConfig, {"bogus": 1})


def test_effect_registry_covers_the_otb_attributes():
    assert tuple(EFFECTS) == OTB_ATTRIBUTES, "one effect per OTB attribute, in OTB's order"
    for code, effect in EFFECTS.items():
        assert effect.code == code and effect.definition and effect.mechanism
    assert SyntheticConfig().attributes == tuple(EFFECTS)


def test_verification_measures_every_registered_attribute(bench):
    root, _ = bench
    seq = seq_dirs(root, "test")[0]
    log = json.loads((seq / "log.json").read_text())
    assert tuple(verify_arrays(read_boxes(seq / "groundtruth_rect.txt"), log)) == tuple(EFFECTS)


def test_manifest_format(bench):
    root, manifest = bench
    text = (root / "manifest.json").read_text()
    assert json.loads(text) == manifest
    assert text == json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    assert not list(root.rglob("*.tmp")), "atomic writes leave no temporary files"


def test_thresholds_scale_with_frame_size():
    th = thresholds((640, 480))
    assert th["fm_px"] == 20 and th["lr_area"] == 400 and th["sv_ratio"] == 2
    th = thresholds((320, 240))
    assert th["fm_px"] == 10 and th["lr_area"] == 100


def test_tables(bench):
    root, _ = bench
    df = attribute_table(root, verify=True)
    assert len(df) == 16 and set(OTB_ATTRIBUTES) <= set(df.columns)
    test = df[df.split == "test"]
    for a in OTB_ATTRIBUTES:
        assert (test[a] == test[f"{a}_verified"]).all()
    bs = box_stats(root)
    assert len(bs) == 16 * T
    assert {"area_ratio", "centre_motion", "motion_over_fm", "area_over_lr"} <= set(bs.columns)


def test_debian_failure_falls_back_to_pypi_with_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="differ"):
        pool = collect.collect_sources(tmp_path / "cache", use_debian=True, seed=0)
    assert not pool.used_debian and pool.warnings
    assert all(p["kind"] == "pypi" for p in pool.packages)
    assert all(o.rgba.ndim == 3 and o.rgba.shape[2] == 4 for o in pool.objects)


@pytest.mark.skipif(not (DEBIAN_CACHE / "tuxpaint-stamps-default.json").is_file(),
                    reason="Debian photo cache not fetched (data/cache/debian)")
def test_debian_sources_have_exact_alpha_cutouts():
    pool = collect.collect_sources(DEBIAN_CACHE, use_debian=True, seed=0)
    assert pool.used_debian
    tux = [o for o in pool.objects if o.source.startswith("debian:tuxpaint-stamps-default=")]
    assert len(tux) >= 100
    for o in tux[:20]:
        a = o.rgba[..., 3]
        assert o.rgba.dtype == np.uint8 and o.rgba.shape[2] == 4
        assert (a == 0).any() and (a == 255).any()
    pk = {p["package"]: p["version"] for p in pool.packages if p["kind"] == "debian"}
    assert "tuxpaint-stamps-default" in pk and all(pk.values())
    groups = [set(pool.splits[s].groups) for s in ("train", "val", "test")]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


def _fake_deb(tmp_path: Path, package: str) -> Path:
    """A tiny .deb laid out like tuxpaint-stamps-default: a stamp, a sound file (pruned) and a copyright file."""
    pkg = tmp_path / "pkg"
    files = {"DEBIAN/control": f"Package: {package}\nVersion: 1:2.0-test\nArchitecture: all\n"
                               "Maintainer: t <t@example.org>\nDescription: test\n",
             "usr/share/tuxpaint/stamps/animals/cat.png": "png",
             "usr/share/tuxpaint/sounds/cat.wav": "wav",
             f"usr/share/doc/{package}/copyright": "c"}
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    deb = tmp_path / f"{package}_2.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(pkg), str(deb)], check=True, capture_output=True)
    return deb


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("apt-get", "dpkg", "dpkg-deb")),
                    reason="needs apt-get, dpkg and dpkg-deb")
def test_debian_package_is_unpacked_pruned_and_cached(tmp_path):
    package = debian.TUXPAINT
    cache = tmp_path / "cache"
    (cache / "debs").mkdir(parents=True)
    shutil.copy(_fake_deb(tmp_path, package), cache / "debs")
    (cache / package / "stale").mkdir(parents=True)  # an older unpacked tree is replaced
    root, version = debian.fetch_debian_package(package, cache)
    assert version == "1:2.0-test" and root == cache / package
    kept = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert kept == [f"usr/share/doc/{package}/copyright", "usr/share/tuxpaint/stamps/animals/cat.png"]
    assert json.loads((cache / f"{package}.json").read_text())["version"] == version
    assert not list((cache / "debs").iterdir()), "the .deb is deleted once unpacked"
    assert sorted(p.name for p in cache.iterdir()) == ["debs", package, f"{package}.json"]
    assert debian.fetch_debian_package(package, cache) == (root, version), "reused from the cache"


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("apt-get", "dpkg", "dpkg-deb")),
                    reason="needs apt-get, dpkg and dpkg-deb")
def test_debian_unpack_failure_leaves_no_partial_tree(tmp_path, monkeypatch):
    package = debian.TUXPAINT
    cache = tmp_path / "cache"
    (cache / "debs").mkdir(parents=True)
    shutil.copy(_fake_deb(tmp_path, package), cache / "debs")
    real_run = debian._run
    monkeypatch.setattr(debian, "_run", lambda cmd, **kw: real_run(["false"]) if cmd[:2] == ["dpkg", "-x"]
                        else real_run(cmd, **kw))
    with pytest.raises(DataError, match="dpkg -x"):
        debian.fetch_debian_package(package, cache)
    assert sorted(p.name for p in cache.iterdir()) == ["debs"]
