"""The photographs bundled with PyPI packages (scikit-image, scikit-learn, matplotlib): backgrounds, and objects cut
from known object regions or random regions with a feathered alpha."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ...errors import DataError
from .images import cap_bgr, cap_rgba, feathered_alpha, read_bgr
from .records import Background, Cutout

# (group, package, file, licence, usable as background, [(object name, (x0, y0, x1, y1))]).
_PYPI_PHOTOS = (
    ("astronaut", "scikit-image", "astronaut.png", "public domain (NASA), via scikit-image", True,
     [("astronaut_head", (150, 15, 305, 170)), ("shuttle_model", (355, 0, 475, 280)),
      ("helmet", (275, 340, 505, 512))]),
    ("chelsea", "scikit-image", "chelsea.png", "CC0 (Stefan van der Walt), via scikit-image", False,
     [("cat_face", (60, 20, 400, 300)), ("cat_eye", (130, 80, 215, 150))]),
    ("coffee", "scikit-image", "coffee.png", "CC0 (Rachel Michetti), via scikit-image", True,
     [("coffee_cup", (75, 15, 480, 390)), ("spoon", (325, 65, 425, 325))]),
    ("rocket", "scikit-image", "rocket.jpg", "public domain (SpaceX), via scikit-image", True,
     [("rocket", (300, 125, 345, 405)), ("launch_tower", (440, 120, 475, 410))]),
    ("motorcycle", "scikit-image", "motorcycle_left.png",
     "Middlebury 2014 stereo data set (Scharstein et al.), as redistributed by scikit-image", True,
     [("motorcycle", (90, 95, 690, 450)), ("headlight", (500, 115, 570, 190))]),
    ("hubble_deep_field", "scikit-image", "hubble_deep_field.jpg", "public domain (NASA), via scikit-image", True,
     []),
    ("grass", "scikit-image", "grass.png", "CC0, via scikit-image", True, []),
    ("gravel", "scikit-image", "gravel.png", "CC0 (cc0textures), via scikit-image", True, []),
    ("brick", "scikit-image", "brick.png", "CC0 (cc0textures), via scikit-image", True, []),
    ("china", "scikit-learn", "china.jpg", "CC BY 2.0 (danielbuechele, Flickr), via scikit-learn", True,
     [("pagoda", (60, 25, 355, 390))]),
    ("flower", "scikit-learn", "flower.jpg", "CC BY 2.0 (vultilion, Flickr), via scikit-learn", False,
     [("dahlia", (165, 80, 450, 360))]),
    ("grace_hopper", "matplotlib", "grace_hopper.jpg", "public domain (US Navy), via matplotlib", True,
     [("hopper_head", (150, 20, 375, 330)), ("medal_ribbons", (320, 485, 455, 530))]),
)
_PYPI_NOT_SCENES = ("hubble_deep_field", "grass", "gravel", "brick")  # textures / sky survey: fallback backgrounds only

# random object regions: width 15-40 % of the photo, aspect exp(+-0.9), height clipped to 12-50 % of the photo
_REGION_WIDTH = (0.15, 0.4)
_REGION_LOG_ASPECT = 0.9
_REGION_HEIGHT = (0.12, 0.5)


def _pypi_file(package: str, name: str) -> tuple[Path, str]:
    """Path and package version of a photograph bundled with a PyPI package.

    The packages are imported here, not at the top of the module: each is optional for the generator (a photo whose
    package is missing is skipped with a warning, see `pypi_sources`), and matplotlib / scikit-learn are slow to
    import for a module that only needs one file path from each.
    """
    if package == "scikit-image":
        import skimage
        import skimage.data
        return Path(skimage.data.__file__).parent / name, skimage.__version__
    if package == "scikit-learn":
        import sklearn
        return Path(sklearn.__file__).parent / "datasets" / "images" / name, sklearn.__version__
    if package == "matplotlib":
        import matplotlib
        import matplotlib.cbook
        return Path(matplotlib.cbook.get_sample_data(name, asfileobj=False)), matplotlib.__version__
    raise ValueError(package)


def _region_cutout(photo: np.ndarray, box: tuple[int, int, int, int], ellipse: bool) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = photo[y0:y1, x0:x1]
    return np.dstack([crop, feathered_alpha(crop.shape[0], crop.shape[1], ellipse)])


def pypi_sources(rng: np.random.Generator, with_objects: bool, max_obj: int | None, max_bg: int | None,
                 n_random: int = 2) -> tuple[list[Cutout], list[Background], list[dict]]:
    """Backgrounds (scene photographs only unless ``with_objects``) and, with ``with_objects``, the known object
    regions plus ``n_random`` random regions per photograph; also the package records for the manifest."""
    objects: list[Cutout] = []
    backgrounds: list[Background] = []
    versions: dict[str, str] = {}
    counts: dict[str, int] = {}
    for group, package, fname, lic, as_bg, regions in _PYPI_PHOTOS:
        if not with_objects and (group in _PYPI_NOT_SCENES or not as_bg):
            continue
        try:
            path, version = _pypi_file(package, fname)
            photo = read_bgr(path, None)
        except (ImportError, DataError, OSError, ValueError) as exc:  # a missing optional photo is not fatal
            warnings.warn(f"PyPI photo {package}:{fname} unavailable ({exc}); skipped", stacklevel=2)
            continue
        versions[package] = version
        counts[package] = counts.get(package, 0) + 1
        src = f"pypi:{package}={version}:{fname}"
        gid = f"pypi:{group}"
        if as_bg:
            backgrounds.append(Background(name=f"pypi_{group}", bgr=cap_bgr(photo, max_bg), source=src, license=lic,
                                          group=gid))
        if not with_objects:
            continue
        H, W = photo.shape[:2]
        for name, box in regions:
            objects.append(Cutout(name=name, rgba=cap_rgba(_region_cutout(photo, box, True), max_obj), source=src,
                                  license=lic, group=gid, category="photo_region"))
        for k in range(n_random):
            w = int(W * rng.uniform(*_REGION_WIDTH))
            h = int(np.clip(w * np.exp(rng.uniform(-_REGION_LOG_ASPECT, _REGION_LOG_ASPECT)),
                            _REGION_HEIGHT[0] * H, _REGION_HEIGHT[1] * H))
            x0, y0 = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
            rgba = _region_cutout(photo, (x0, y0, x0 + w, y0 + h), bool(rng.random() < 0.5))
            objects.append(Cutout(name=f"{group}_region{k + 1}", rgba=cap_rgba(rgba, max_obj),
                                  source=f"{src}@{x0},{y0},{w},{h}", license=lic, group=gid,
                                  category="random_region"))
    packages = [{"kind": "pypi", "package": p, "version": v, "count": counts[p],
                 "role": "objects+backgrounds" if with_objects else "backgrounds"} for p, v in sorted(versions.items())]
    return objects, backgrounds, packages
