"""Real photographs for the generated benchmark: where they come from, how they are fetched, and how they are split.

Two kinds of sources:

* Debian packages, fetched by name with ``apt-get download`` and unpacked with ``dpkg -x`` into a cache folder
  (never installed): ``tuxpaint-stamps-default`` (photographs of real objects cut out with exact alpha masks, so the
  ground-truth box of a composited object is exact), ``lomiri-wallpapers-16.04`` (large sharp photographs) and
  ``opencv-doc`` (the photographs of OpenCV's ``samples/data``) for backgrounds.
* PyPI packages that are always installed with the library: the photographs bundled with scikit-image, scikit-learn
  (``china.jpg``, ``flower.jpg``) and matplotlib (``grace_hopper.jpg``). Objects cut from them are rectangles from
  known object regions (or random regions) with a feathered elliptical or rectangular alpha.

When Debian packages cannot be fetched (no ``apt-get``, no network, no lists) ``collect_sources`` falls back to the
PyPI photographs with a warning: the generated benchmark is then different and so are the numbers measured on it.

Every object and background belongs to a *group* = the source photograph it was taken from. The train/val/test split
is made on groups, so two cutouts from the same photograph never land in different splits.

Modules (this file imports none of them, so that ``split.SPLITS`` can be read without OpenCV):

* ``records``  -- ``Cutout``, ``Background``, ``SourceSplit``, ``SourcePool``
* ``images``   -- image utilities shared with the generator (``pyramid_resize``, ``premultiply``, ``feathered_alpha``)
* ``debian``   -- fetching and caching the Debian packages
* ``extract``  -- cutouts and backgrounds from the unpacked Debian packages
* ``pypi``     -- the photographs bundled with PyPI packages
* ``split``    -- the train/val/test split by source photograph
* ``collect``  -- ``collect_sources``, the entry point
"""
