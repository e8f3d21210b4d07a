"""Benchmark loaders: tiny fixtures in each native layout (written into tmp_path), the real sequences in
../shared/realdata when present, and bad input (every error names the file, and the line where there is one)."""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from automatch_lib.data.benchmarks import (ALIASES, KNOWN_ATTRIBUTES, LOADERS, benchmark_name, list_images,
                                          load_benchmark)
from automatch_lib.data.sequence import OTB_ATTRIBUTES
from automatch_lib.errors import DataError

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"

_IMG = np.zeros((24, 32, 3), np.uint8)
_IMG[6:18, 8:24] = (40, 160, 250)
JPEG = cv2.imencode(".jpg", _IMG)[1].tobytes()
PNG = cv2.imencode(".png", _IMG)[1].tobytes()


def frames(folder: Path, numbers, fmt="{:04d}.jpg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / fmt.format(n)).write_bytes(PNG if fmt.endswith(".png") else JPEG)
    return folder


def gt(path: Path, rows, sep=",", newline=True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(sep.join(str(v) for v in r) for r in rows)
    path.write_text(text + ("\n" if newline else ""))
    return path


def boxes(n, x0=1):
    return [[x0 + i, 2 + i, 10, 8] for i in range(n)]


def otb_seq(root: Path, name: str, n_img: int, n_rows: int, sep=",", first=1, fmt="{:04d}.jpg", x0=1) -> Path:
    frames(root / name / "img", range(first, first + n_img), fmt)
    gt(root / name / "groundtruth_rect.txt", boxes(n_rows, x0), sep)
    return root / name


# ---------------------------------------------------------------------------------------------------------- OTB

@pytest.fixture
def otb(tmp_path):
    root = tmp_path / "OTB100"
    otb_seq(root, "Comma", 5, 5, ",")
    (root / "Comma" / "attrs.txt").write_text("IV, SV, OCC\n")
    otb_seq(root, "Tabbed", 4, 4, "\t")
    (root / "Tabbed" / "attrs.txt").write_text("DEF\nlr\n")
    otb_seq(root, "Spaced", 3, 3, " ")
    (root / "Spaced" / "groundtruth_rect.txt").write_text("1 2 10 8\n2,  3 ,10\t8\n3\t4 10 8")  # mixed, no final \n
    otb_seq(root, "David", 310, 6, x0=300)          # official range starts at image 300; folder holds more
    otb_seq(root, "BlurCar3", 4, 4, first=3)          # files start at 0003
    otb_seq(root, "Board", 4, 4, fmt="{:05d}.jpg")
    otb_seq(root, "Tiger1", 8, 8, x0=1)
    otb_seq(root, "KiteSurf", 3, 3, fmt="{:04d}.png")
    frames(root / "Jogging" / "img", range(1, 5))
    gt(root / "Jogging" / "groundtruth_rect.1.txt", boxes(4, 100))
    gt(root / "Jogging" / "groundtruth_rect.2.txt", boxes(4, 200), "\t")
    frames(root / "Human4" / "img", range(1, 4))
    (root / "Human4" / "groundtruth_rect.1.txt").write_text("\n")
    gt(root / "Human4" / "groundtruth_rect.2.txt", boxes(3, 7))
    (root / "anno").mkdir()
    (root / "anno" / "readme.md").write_text("not a sequence")
    (root / "tb_list.txt").write_text("Board\nJogging.2\nHuman4")
    return root


def test_otb_layout_and_quirks(otb):
    seqs = load_benchmark("otb", otb)
    by = {s.name: s for s in seqs}
    assert [s.name for s in seqs] == sorted(by)
    assert set(by) == {"Comma", "Tabbed", "Spaced", "David", "BlurCar3", "Board", "Tiger1", "KiteSurf",
                       "Jogging-1", "Jogging-2", "Human4"}
    assert all(s.origin == 1 for s in seqs)
    assert by["Comma"].attributes == ("IV", "SV", "OCC") and by["Tabbed"].attributes == ("DEF", "LR")
    assert by["Spaced"].attributes == ()
    np.testing.assert_array_equal(by["Tabbed"].boxes, boxes(4))
    np.testing.assert_array_equal(by["Spaced"].boxes, boxes(3))
    david = by["David"]
    assert len(david) == 6 and david.frames[0].name == "0300.jpg" and david.frames[-1].name == "0305.jpg"
    assert david.boxes[0, 0] == 300 and david.meta["start_frame"] == 300
    assert [f.name for f in by["BlurCar3"].frames] == ["0003.jpg", "0004.jpg", "0005.jpg", "0006.jpg"]
    assert by["Board"].frames[0].name == "00001.jpg" and len(by["Board"]) == 4
    tiger = by["Tiger1"]
    assert len(tiger) == 3 and tiger.meta["init_omit"] == 5 and tiger.frames[0].name == "0006.jpg"
    np.testing.assert_array_equal(tiger.boxes, boxes(8)[5:])
    assert by["KiteSurf"].frames[0].suffix == ".png" and by["KiteSurf"].image(0).shape == (24, 32, 3)
    assert by["Jogging-1"].boxes[0, 0] == 100 and by["Jogging-2"].boxes[0, 0] == 200
    assert by["Jogging-1"].frames == by["Jogging-2"].frames
    assert by["Human4"].boxes[0, 0] == 7 and by["Human4"].meta["groundtruth"].endswith("groundtruth_rect.2.txt")
    assert by["Comma"].init_box().tolist() == [0, 1, 10, 8]  # 1-based file -> 0-based init box


def test_otb_selection_aliases_and_list_file(otb):
    assert [s.name for s in load_benchmark("OTB100", otb, sequences=["Jogging"])] == ["Jogging-1", "Jogging-2"]
    assert [s.name for s in load_benchmark("otb2015", otb, sequences=["Jogging_1", "board"])] == ["Board",
                                                                                                  "Jogging-1"]
    assert [s.name for s in load_benchmark("otb", otb, split="tb_list.txt")] == ["Board", "Human4", "Jogging-2"]
    with pytest.raises(DataError, match=r"'Nope'.*available"):
        load_benchmark("otb", otb, sequences=["Comma", "Nope"])
    (otb / "bad_list.txt").write_text("Board\nGhost\n")
    with pytest.raises(DataError) as e:
        load_benchmark("otb", otb, split="bad_list.txt")
    assert "bad_list.txt" in str(e.value) and "Ghost" in str(e.value)
    with pytest.raises(DataError, match="no such list file"):
        load_benchmark("otb", otb, split="missing.txt")


def test_otb_missing_frame_in_numbering(tmp_path):
    seq = otb_seq(tmp_path, "Gap", 10, 10)
    (seq / "img" / "0005.jpg").unlink()
    with pytest.raises(DataError, match=re.escape(f"missing frame {seq / 'img' / '0005.jpg'}")):
        load_benchmark("otb", tmp_path)


def test_otb_row_count_mismatch(tmp_path):
    seq = otb_seq(tmp_path, "Long", 3, 5)
    with pytest.raises(DataError) as e:
        load_benchmark("otb", tmp_path)
    msg = str(e.value)
    assert str(seq / "groundtruth_rect.txt") in msg and "5 ground-truth rows" in msg and "3 frames" in msg
    # fewer rows than frames is only accepted for the known special-range sequences
    seq = otb_seq(tmp_path / "b", "Short", 5, 3)
    with pytest.raises(DataError, match=r"3 ground-truth rows but 5 frames"):
        load_benchmark("otb", tmp_path / "b")


def test_otb_bad_gt_rows(tmp_path):
    seq = otb_seq(tmp_path, "Three", 3, 3)
    (seq / "groundtruth_rect.txt").write_text("1,2,3,4\n1,2,3\n1,2,3,4\n")
    with pytest.raises(DataError, match=re.escape(f"{seq / 'groundtruth_rect.txt'}:2: expected 4 numbers, found 3")):
        load_benchmark("otb", tmp_path)
    (seq / "groundtruth_rect.txt").write_text("1,2,3,4\n1,2,3,4\nNaN,NaN,NaN,NaN\n")
    with pytest.raises(DataError, match=re.escape(f"{seq / 'groundtruth_rect.txt'}:3: NaN")):
        load_benchmark("otb", tmp_path)


def test_otb_bad_folders(tmp_path):
    (tmp_path / "a" / "Empty" / "img").mkdir(parents=True)
    gt(tmp_path / "a" / "Empty" / "groundtruth_rect.txt", boxes(2))
    with pytest.raises(DataError, match=r"empty sequence folder.*Empty"):
        load_benchmark("otb", tmp_path / "a")
    frames(tmp_path / "b" / "NoGT" / "img", range(1, 3))
    with pytest.raises(DataError, match=r"without groundtruth_rect.txt.*NoGT"):
        load_benchmark("otb", tmp_path / "b")
    gt(tmp_path / "c" / "NoImg" / "groundtruth_rect.txt", boxes(2))
    with pytest.raises(DataError, match=r"without an img/ folder.*NoImg"):
        load_benchmark("otb", tmp_path / "c")
    seq = otb_seq(tmp_path / "d", "Attr", 2, 2)
    (seq / "attrs.txt").write_text("IV, XYZ\n")
    with pytest.raises(DataError, match=re.escape(f"{seq / 'attrs.txt'}:1: unknown attribute code 'XYZ'")):
        load_benchmark("otb", tmp_path / "d")


def test_truncated_jpeg_fails_lazily_naming_file(tmp_path):
    seq_dir = otb_seq(tmp_path, "Cut", 3, 3)
    bad = seq_dir / "img" / "0002.jpg"
    bad.write_bytes(JPEG[: len(JPEG) // 2])
    (seq,) = load_benchmark("otb", tmp_path)
    assert seq.image(0).shape == (24, 32, 3)
    with pytest.raises(DataError, match=re.escape(str(bad))):
        seq.image(1)


def test_unknown_benchmark_and_missing_root(tmp_path):
    with pytest.raises(DataError) as e:
        load_benchmark("otb50x", tmp_path)
    assert all(name in str(e.value) for name in LOADERS)
    with pytest.raises(DataError, match="benchmark root not found"):
        load_benchmark("otb", tmp_path / "nowhere")
    frames(tmp_path / "vot_like" / "color", range(1, 3), "{:08d}.jpg")
    with pytest.raises(DataError, match=r"no sequences found"):  # an OTB root holding no OTB sequence
        load_benchmark("otb", tmp_path)


# ---------------------------------------------------------------------------------------------------------- DTB70

def test_dtb70(tmp_path):
    otb_seq(tmp_path, "Surf", 3, 3, fmt="{:05d}.jpg")
    (seq,) = load_benchmark("dtb70", tmp_path)
    assert seq.name == "Surf" and seq.origin == 1 and seq.frames[0].name == "00001.jpg" and len(seq) == 3


# ---------------------------------------------------------------------------------------------------------- LaSOT

def lasot_seq(root, name, n, occ=None, oov=None):
    folder = root / name.rsplit("-", 1)[0] / name
    frames(folder / "img", range(1, n + 1), "{:08d}.jpg")
    gt(folder / "groundtruth.txt", boxes(n))
    (folder / "full_occlusion.txt").write_text(",".join(map(str, occ or [0] * n)))
    (folder / "out_of_view.txt").write_text(",".join(map(str, oov or [0] * n)) + "\n")
    (folder / "nlp.txt").write_text("white airplane flying in the sky\n")
    return folder


def test_lasot(tmp_path):
    folder = lasot_seq(tmp_path, "airplane-1", 6, occ=[0, 0, 1, 0, 0, 0], oov=[0, 0, 0, 0, 1, 0])
    lasot_seq(tmp_path, "airplane-2", 3)
    lasot_seq(tmp_path, "bear-4", 2)
    (tmp_path / "testing_set.txt").write_text("airplane-2\nbear-4")  # no trailing newline, like the toolkit's
    seqs = load_benchmark("lasot", tmp_path)
    assert [s.name for s in seqs] == ["airplane-1", "airplane-2", "bear-4"]
    a1 = seqs[0]
    assert a1.origin == 1 and a1.frames[0].name == "00000001.jpg"
    assert a1.valid.tolist() == [True, True, False, True, False, True]
    assert a1.meta["language"] == "white airplane flying in the sky" and a1.meta["class"] == "airplane"
    assert [s.name for s in load_benchmark("lasot", tmp_path, split="test")] == ["airplane-2", "bear-4"]
    assert [s.name for s in load_benchmark("lasot", tmp_path, split="train")] == ["airplane-1"]
    (folder / "out_of_view.txt").write_text("0,0,0,0,0")
    with pytest.raises(DataError, match=re.escape(f"{folder / 'out_of_view.txt'}: 5 labels for 6")):
        load_benchmark("lasot", tmp_path, sequences=["airplane-1"])


# ---------------------------------------------------------------------------------------------------------- GOT-10k

META_INFO = """[METAINFO]
url: https://youtu.be/xyz
begin: 00:00:01
end: 00:00:05
anno_fps: 10Hz
object_class: ichneumon
motion_class: walking
major_class: viverrine
root_class: animal
motion_adverb: slowly
resolution: (1920, 1080)
"""


def test_got10k(tmp_path):
    val = tmp_path / "val"
    seq = val / "GOT-10k_Val_000001"
    frames(seq, range(1, 6), "{:08d}.jpg")
    gt(seq / "groundtruth.txt", [[1.5, 2.25, 10.0, 8.0]] * 5)
    (seq / "cover.label").write_text("1\n0\n8\n3\n5\n")
    (seq / "absence.label").write_text("0\n1\n0\n0\n1\n")
    (seq / "cut_by_image.label").write_text("0\n0\n1\n0\n0\n")
    (seq / "meta_info.ini").write_text(META_INFO)
    (val / "list.txt").write_text("GOT-10k_Val_000001\n")
    test = tmp_path / "test" / "GOT-10k_Test_000001"
    frames(test, range(1, 5), "{:08d}.jpg")
    gt(test / "groundtruth.txt", [[3, 4, 5, 6]])
    (tmp_path / "test" / "list.txt").write_text("GOT-10k_Test_000001")

    (s,) = load_benchmark("got-10k", tmp_path, split="val")
    assert s.origin == 0 and len(s) == 5 and s.boxes[0].tolist() == [1.5, 2.25, 10.0, 8.0]
    assert s.meta["cover"].tolist() == [1, 0, 8, 3, 5]
    assert s.valid.tolist() == [True, False, True, True, False]
    assert s.meta["cut_by_image"].tolist() == [False, False, True, False, False]
    assert s.meta["resolution"] == (1920, 1080) and s.meta["object_class"] == "ichneumon"
    assert s.meta["motion_class"] == "walking" and s.meta["url"] == "https://youtu.be/xyz"
    (t,) = load_benchmark("got10k", tmp_path, split="test")
    assert len(t) == 4 and t.boxes.shape == (1, 4)
    (val / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    with pytest.raises(DataError, match=r"list.txt.*GOT-10k_Val_000002"):
        load_benchmark("got10k", tmp_path, split="val")
    with pytest.raises(DataError, match="split"):
        load_benchmark("got10k", tmp_path)
    (val / "list.txt").write_text("GOT-10k_Val_000001\n")
    (seq / "cover.label").write_text("1\n0\n9\n3\n5\n")
    with pytest.raises(DataError, match=re.escape(f"{seq / 'cover.label'}:3")):
        load_benchmark("got10k", tmp_path, split="val")


# ---------------------------------------------------------------------------------------------------------- TrackingNet

def test_trackingnet_numeric_order_and_splits(tmp_path):
    frames(tmp_path / "TRAIN_3" / "frames" / "seqA", range(12), "{}.jpg")
    gt(tmp_path / "TRAIN_3" / "anno" / "seqA.txt", boxes(12))
    frames(tmp_path / "TEST" / "frames" / "seqT", range(5), "{}.jpg")
    gt(tmp_path / "TEST" / "anno" / "seqT.txt", boxes(1))
    (a,) = load_benchmark("trackingnet", tmp_path, split="train")
    assert [f.name for f in a.frames] == [f"{i}.jpg" for i in range(12)]  # 10.jpg after 9.jpg
    assert a.origin == 0 and a.meta["chunk"] == "TRAIN_3"
    assert [s.name for s in load_benchmark("trackingnet", tmp_path, split="TRAIN_3")] == ["seqA"]
    (t,) = load_benchmark("trackingnet", tmp_path, split="test")
    assert len(t) == 5 and t.boxes.shape == (1, 4)
    assert [s.name for s in load_benchmark("trackingnet", tmp_path)] == ["seqA", "seqT"]
    with pytest.raises(DataError, match="TRAIN_5"):
        load_benchmark("trackingnet", tmp_path, split="TRAIN_5")
    assert [p.name for p in list_images(tmp_path / "TRAIN_3" / "frames" / "seqA")][9:] == ["9.jpg", "10.jpg",
                                                                                            "11.jpg"]


# ---------------------------------------------------------------------------------------------------------- TNL2K

def test_tnl2k(tmp_path):
    seq = tmp_path / "Fish_video_1"
    frames(seq / "imgs", range(1, 4), "{:05d}.png")
    gt(seq / "groundtruth.txt", [[1, 2, 10, 8], [0, 0, 0, 0], [3, 4, 10, 8]])
    (seq / "language.txt").write_text("the fish on the left\n")
    (s,) = load_benchmark("tnl2k", tmp_path)
    assert s.name == "Fish_video_1" and s.origin == 0 and s.frames[0].name == "00001.png"
    assert s.valid.tolist() == [True, False, True] and s.meta["language"] == "the fish on the left"


# ---------------------------------------------------------------------------------------------------------- VOT

def test_vot_polygons_nan_and_old_layout(tmp_path):
    frames(tmp_path / "rot" / "color", range(1, 4), "{:08d}.jpg")
    # a square rotated by 45 degrees around (50, 50): its axis-aligned box is 40,40,20,20
    (tmp_path / "rot" / "groundtruth.txt").write_text("50,40,60,50,50,60,40,50\nnan,nan,nan,nan,nan,nan,nan,nan\n"
                                                      "41,42,60.5,42,60.5,50,41,50\n")
    frames(tmp_path / "old", range(1, 3), "{:08d}.jpg")
    gt(tmp_path / "old" / "groundtruth.txt", [[5, 6, 7, 8], [5, 6, 7, 8]])
    (tmp_path / "list.txt").write_text("rot\nold\n")
    rot, old = sorted(load_benchmark("vot", tmp_path), key=lambda s: s.name != "rot")
    np.testing.assert_allclose(rot.boxes[0], [40, 40, 20, 20])
    np.testing.assert_allclose(rot.boxes[2], [41, 42, 19.5, 8])
    assert rot.valid.tolist() == [True, False, True] and rot.meta["polygons"].shape == (3, 8)
    assert rot.origin == 0 and old.boxes.tolist() == [[5, 6, 7, 8]] * 2 and old.frames[0].parent.name == "old"
    (tmp_path / "list.txt").write_text("rot\nghost\n")
    with pytest.raises(DataError, match=r"list.txt.*ghost"):
        load_benchmark("vot", tmp_path)


# ---------------------------------------------------------------------------------------------------------- UAV123

def test_uav123_subsequences_and_nan(tmp_path):
    data, anno = tmp_path / "data_seq" / "UAV123", tmp_path / "anno" / "UAV123"
    frames(data / "bird1", [1, 2, 3, 4, 775, 776, 777], "{:06d}.jpg")
    gt(anno / "bird1_1.txt", boxes(4))
    gt(anno / "bird1_2.txt", boxes(3))
    frames(data / "car1_s", range(1, 4), "{:06d}.jpg")
    (anno / "car1_s.txt").write_text("1,2,3,4\nNaN,NaN,NaN,NaN\n1,2,3,4\n")
    seqs = {s.name: s for s in load_benchmark("uav", tmp_path)}
    assert set(seqs) == {"bird1_1", "bird1_2", "car1_s"}
    assert [f.name for f in seqs["bird1_1"].frames] == [f"00000{i}.jpg" for i in range(1, 5)]
    assert [f.name for f in seqs["bird1_2"].frames] == ["000775.jpg", "000776.jpg", "000777.jpg"]
    assert seqs["car1_s"].valid.tolist() == [True, False, True] and seqs["car1_s"].origin == 1


# ---------------------------------------------------------------------------------------------------------- real data

def _real(sub):
    path = REALDATA / sub
    if not path.is_dir():
        pytest.skip(f"real sequences not present at {path}")
    return path


def _first_row(path: Path):
    return [float(v) for v in re.split(r"[,\s]+", path.read_text().splitlines()[0].strip())]


def test_real_otb():
    root = _real("OTB")
    seqs = {s.name: s for s in load_benchmark("otb", root)}
    expected = {"Crossing": 120, "Girl": 500, "Deer": 71, "Bird2": 99, "MotorRolling": 164, "Dudek": 20}
    assert {n: len(s) for n, s in seqs.items()} == expected
    for name, s in seqs.items():
        assert len(s.boxes) == len(s.frames) and s.origin == 1
        assert s.boxes[0].tolist() == _first_row(root / name / "groundtruth_rect.txt")
    assert "\t" in (root / "Crossing" / "groundtruth_rect.txt").read_text()
    assert seqs["Crossing"].boxes[0].tolist() == [205, 151, 17, 50]
    img = seqs["Dudek"].image(0)
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8 and img.shape[:2] == (480, 720)


def test_real_vot_bag():
    root = _real("VOT")
    (bag,) = load_benchmark("vot", root, sequences=["bag"])
    assert len(bag) == 196 and bag.frames[0].name == "00000001.jpg"
    xs = [334.02, 438.19, 396.39, 292.23]
    ys = [128.36, 188.78, 260.83, 200.41]  # row 1 of groundtruth.txt, by hand
    np.testing.assert_allclose(bag.boxes[0], [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
    np.testing.assert_allclose(bag.boxes[0], [292.23, 128.36, 145.96, 132.47], atol=1e-9)


def test_real_dtb70():
    root = _real("DTB70")
    (surf,) = load_benchmark("dtb70", root)
    assert surf.name == "Surfing06" and len(surf) == 106 and surf.frames[0].name == "00001.jpg"
    assert surf.boxes[1].tolist() == [722.5, 308, 41, 60]


# ---------------------------------------------------------------------------------------------------------- registry

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_benchmark_names() -> set[str]:
    """Every backticked name in the first column of the README's "name (`--benchmark`)" table."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| name (`--benchmark`)"))
    names: set[str] = set()
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        names.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def test_registry_resolves_every_readme_name():
    documented = _readme_benchmark_names()
    assert documented, "README benchmark table not found"
    for name in documented:
        assert benchmark_name(name) in LOADERS
        assert benchmark_name(name.upper()) == benchmark_name(name)
    assert set(LOADERS) <= documented  # every loader is documented
    assert all(target in LOADERS for target in ALIASES.values())
    assert not set(ALIASES) & set(LOADERS)


def test_attribute_codes_extend_otb_from_sequence_module():
    assert KNOWN_ATTRIBUTES[:len(OTB_ATTRIBUTES)] == OTB_ATTRIBUTES
    assert len(set(KNOWN_ATTRIBUTES)) == len(KNOWN_ATTRIBUTES)


def test_got10k_bad_cover_message_is_plain(tmp_path):
    seq = tmp_path / "val" / "GOT-10k_Val_000001"
    frames(seq, range(1, 4), "{:08d}.jpg")
    gt(seq / "groundtruth.txt", [[1, 2, 10, 8]] * 3)
    (seq / "cover.label").write_text("1\n12\n3\n")
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\n")
    with pytest.raises(DataError) as e:
        load_benchmark("got10k", tmp_path, split="val")
    assert str(e.value) == f"{seq / 'cover.label'}:2: cover must be 0..8, found 12"
