"""Planning one sequence: which photos, how the target's shape and size change, where its box centre goes, and the
draws of every attribute effect, from one random stream in a fixed order.

The order of the phases (and of the draws inside them) is part of the output: the same config gives the same
sequences only as long as every draw happens in the same order.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..sources.images import premultiply, pyramid_resize
from ..sources.records import SourceSplit
from .camera import camera_path, prepare_photo, usable_backgrounds
from .compose import box_area, box_of_placed, feather_edge, mask_box, scaled, xywh
from .draws import pick, smooth
from .effects import EFFECTS, V_CAP
from .state import SPLIT_ID, Context, Retry, SequencePlan

PHOTO_ORDER_TAG = 77          # third word of the SeedSequence of a split's photo order (shared by its sequences)
SHAPE_DRAWS = ("IPR", "OPR", "DEF")            # effects drawn before the target's size is measured
LOOK_DRAWS = ("IV", "MB", "BC", "OCC")         # effects drawn once the boxes are known
TRAIN_STRETCH = 0.25          # 40 % of train sequences stretch the target anisotropically by exp(+-0.25)
EDGE_FEATHER = ((3, 3), 0.7)  # Gaussian blur of the native cutout: feathers the mask edge (and colours with it)
FRAME_FEATHER = (0.4, 1.2)    # then the rendered patch's edge fades over 2 sigma px, sigma drawn per sequence
FEATHER_TAG = 88              # fifth word of the SeedSequence of that draw (kept out of the main stream)
MEASURE_SIDE = 64.0           # the shape plan is measured on a copy at most this many pixels large
MIN_SIDE_AREA = 9.0           # box area bound: shortest side >= 3 px
MAX_BOX_SIDE = 0.45           # a box side is at most this fraction of the frame side
WORK_HEADROOM = 1.1           # the target is transformed at 1.1 x its largest final scale, then downscaled
AREA_TOLERANCE = 0.08         # |log(measured / planned area)| above this re-renders the patch once, corrected
START_BAND = (0.25, 0.75)     # first box centre, fraction of the allowed region (OV: on its side; +-0.3 along it)
SPEED = (0.1, 0.8)            # base speed, x the speed cap; modulated by +-60 % and a heading wander of 0.3 rad
SPEED_WANDER, HEADING_WANDER = 0.6, 0.3
TRAIN_JUMP_RATE = 0.1         # fraction of frames where a train_fast sequence jumps


def plan_sequence(ctx: Context, pool: SourceSplit, split: str, index: int, planned: frozenset, train: bool,
                  attempt: int) -> SequencePlan:
    """Everything needed to render sequence ``index`` of ``split`` with attributes ``planned`` (attempt ``attempt``
    uses the seed ``[seed, split id, index, attempt]``). Raises `Retry` when the draw cannot realise the plan."""
    seed_key = [ctx.cfg.seed, SPLIT_ID[split], index, attempt]
    rng = np.random.default_rng(np.random.SeedSequence(seed_key))
    s = SequencePlan(ctx=ctx, pool=pool, split=split, index=index, attempt=attempt, planned=planned, train=train,
                     seed_key=seed_key)
    _choose_scene(rng, s)
    for code in SHAPE_DRAWS:
        EFFECTS[code].draw(rng, s)
    s.aniso = np.exp(TRAIN_STRETCH * smooth(rng, s.T, 3)) if train and rng.random() < 0.4 else np.ones(s.T)
    native = cv2.GaussianBlur(premultiply(s.target.rgba), *EDGE_FEATHER)
    bw, bh = _measure_shape(s, native)
    EFFECTS["SV"].draw(rng, s)
    area_plan = _draw_first_area(rng, s, bw, bh) * s.area_ratio
    _render_target_patches(s, native, area_plan, bw * bh)
    _feather_patches(s)
    EFFECTS["OV"].draw(rng, s)
    EFFECTS["FM"].draw(rng, s)
    _place_target(s, _trajectory(rng, s))
    _measure_boxes(s)
    for code in LOOK_DRAWS:
        EFFECTS[code].draw(rng, s)
    return s


def _choose_scene(rng: np.random.Generator, s: SequencePlan) -> None:
    """Background photo, target cutout and camera path. A split's photos are cycled in a seeded order so that its
    sequences use different ones; a retry draws other photos."""
    cfg, W, H = s.ctx.cfg, s.W, s.H
    usable = usable_backgrounds(s.pool.backgrounds, W, H, f"background photo of the {s.split} split")
    order_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLIT_ID[s.split], PHOTO_ORDER_TAG]))
    bg_order = [usable[j] for j in order_rng.permutation(len(usable))]
    objs = [s.pool.objects[j] for j in order_rng.permutation(len(s.pool.objects))]
    if s.on("LR"):
        objs = [o for o in objs if EFFECTS["LR"].keeps(o)] or objs
    if s.attempt == 0:
        s.background, s.target = bg_order[s.index % len(bg_order)], objs[s.index % len(objs)]
    else:
        s.background, s.target = pick(rng, bg_order), pick(rng, objs)
    s.photo = prepare_photo(rng, s.background, W, H)
    s.camera = camera_path(rng, s.photo, W, H, s.T)


def _measure_shape(s: SequencePlan, native: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box width and height per frame of the planned shape at native scale (measured on a small copy)."""
    nh, nw = native.shape[:2]
    lscale = min(1.0, MEASURE_SIDE / max(nh, nw))
    low = scaled(native, lscale) if lscale < 1 else native
    meas = []
    for t in range(s.T):
        p, _ = s.shape_at(low, t)
        b = mask_box(p[..., 3])
        if b is None:
            raise Retry("empty mask")
        meas.append(((b[2] - b[0] + 1) / lscale, (b[3] - b[1] + 1) / lscale))
    return np.array([x[0] for x in meas]), np.array([x[1] for x in meas])


def _draw_first_area(rng: np.random.Generator, s: SequencePlan, bw: np.ndarray, bh: np.ndarray) -> float:
    """A0, the first frame's box area, drawn log-uniformly where every frame's bounds allow (the area at frame t is
    A0 * area_ratio[t]; ``bw``, ``bh`` = box size of the cutout at native scale)."""
    r, W, H = s.area_ratio, s.W, s.H
    a_nat = bw * bh
    short2 = np.minimum(bw, bh) ** 2
    lo_terms = [MIN_SIDE_AREA * a_nat / (short2 * r)]
    hi_terms = [a_nat / r,  # never upsample the cutout
                (MAX_BOX_SIDE * W) ** 2 * a_nat / (bw ** 2 * r), (MAX_BOX_SIDE * H) ** 2 * a_nat / (bh ** 2 * r)]
    LR = EFFECTS["LR"]
    LR.area_bounds(s, r, a_nat, short2, lo_terms, hi_terms)
    lo = max(float(np.max(x)) for x in lo_terms)
    hi = min(float(np.min(x)) for x in hi_terms)
    if lo > hi:
        raise Retry("no feasible target size")
    plo, phi = LR.area_range(s, lo, hi)
    return float(math.exp(rng.uniform(math.log(plo), math.log(phi))))


def _render_target_patches(s: SequencePlan, native: np.ndarray, area_plan: np.ndarray, a_nat: np.ndarray) -> None:
    """The target patch of every frame at its planned box area (``a_nat`` = box area at native scale). Thin parts
    vanish and boxes are quantised at small sizes, so one correction pass brings the measured box area back to the
    plan."""
    fscale = np.sqrt(area_plan / a_nat)  # final / native scale per frame
    omega = min(1.0, WORK_HEADROOM * float(fscale.max()))
    work = scaled(native, omega) if omega < 0.999 else native
    s.patches, s.deformation = [], np.zeros(s.T)
    for t in range(s.T):
        p, lb, dm = _target_patch(s, work, t, fscale[t] / omega)
        if lb is not None:
            corr = math.sqrt(area_plan[t] / box_area(lb))
            if abs(math.log(corr)) > AREA_TOLERANCE:
                p2, lb2, dm2 = _target_patch(s, work, t, fscale[t] * corr / omega)
                if lb2 is not None:
                    p, lb, dm = p2, lb2, dm2
        if lb is None:
            raise Retry("target vanished")
        s.patches.append((p, lb))
        s.deformation[t] = dm


def _feather_patches(s: SequencePlan) -> None:
    """Soften every rendered patch's outline in frame pixels (`compose.feather_edge`; the native-scale blur above
    is mostly undone by the downscaling), with sigma drawn from its own stream, so the main stream's draws (and
    with them every other property of the sequence) do not change. Boxes are measured again (alpha > 0.5) and give
    the box sizes ``s.dims``."""
    rng = np.random.default_rng(np.random.SeedSequence([*s.seed_key, FEATHER_TAG]))
    s.feather = float(rng.uniform(*FRAME_FEATHER))
    patches = [feather_edge(p, s.feather) for p, _ in s.patches]
    boxes = [mask_box(p[..., 3]) for p in patches]
    if any(b is None for b in boxes):
        raise Retry("target vanished when feathered")
    s.patches = list(zip(patches, boxes))
    s.dims = np.array([[b[2] - b[0] + 1, b[3] - b[1] + 1] for b in boxes], dtype=np.float64)


def _target_patch(s: SequencePlan, work: np.ndarray, t: int, q: float):
    """(patch, its inclusive box or None, realised deformation) of frame ``t``: ``work`` transformed as planned,
    then scaled by ``q`` (never up)."""
    p, dm = s.shape_at(work, t)
    q = min(1.0, q)
    if q < 0.999:
        ph, pw = p.shape[:2]
        p = pyramid_resize(p, (max(1, int(round(pw * q))), max(1, int(round(ph * q)))))
    return p, mask_box(p[..., 3]), dm


def _trajectory(rng: np.random.Generator, s: SequencePlan) -> list[np.ndarray]:
    """Box centre per frame: a smooth random walk capped at half the FM threshold per frame, bouncing off the
    allowed region, with FM bursts and (OV) pressing against the side the target leaves by."""
    T, fm_thr = s.T, s.th["fm_px"]
    v_cap = V_CAP * fm_thr
    FM, OV = EFFECTS["FM"], EFFECTS["OV"]
    x0r, y0r, x1r, y1r = s.centre_region(0)
    if s.on("OV"):  # start against the side it will leave by
        nv = s.push[0]
        ux = 0.5 + 0.5 * nv[0] + (rng.uniform(-0.3, 0.3) if nv[0] == 0 else 0.0)
        uy = 0.5 + 0.5 * nv[1] + (rng.uniform(-0.3, 0.3) if nv[1] == 0 else 0.0)
    else:
        ux, uy = rng.uniform(*START_BAND), rng.uniform(*START_BAND)
    c = np.array([x0r + ux * max(0.0, x1r - x0r), y0r + uy * max(0.0, y1r - y0r)])
    heading = rng.uniform(0, 2 * math.pi)
    sp0 = rng.uniform(*SPEED) * v_cap
    spn = smooth(rng, T, 5)
    centres = [c.copy()]
    burst_speed = rng.uniform(*FM.BURST_SPEED) * fm_thr
    for t in range(1, T):
        heading += rng.normal(0, HEADING_WANDER)
        sp = float(np.clip(sp0 * (1 + SPEED_WANDER * spn[t]), 0, v_cap))
        v = sp * np.array([math.cos(heading), math.sin(heading)])
        region = s.centre_region(t)
        rx0, ry0, rx1, ry1 = region
        if t in s.bursts:
            v, heading = FM.burst(c, region, burst_speed)
        elif s.train_fast and rng.random() < TRAIN_JUMP_RATE:
            v = FM.jump(rng, v, fm_thr)
        if np.any(s.push[t]) and t not in s.bursts:
            v = OV.press(v, s.push[t], v_cap)
        c = c + v
        if not rx0 <= c[0] <= rx1:
            heading = math.pi - heading
        if not ry0 <= c[1] <= ry1:
            heading = -heading
        c = np.array([np.clip(c[0], rx0, max(rx0, rx1)), np.clip(c[1], ry0, max(ry0, ry1))])
        centres.append(c.copy())
    return centres


def _place_target(s: SequencePlan, centres: list[np.ndarray]) -> None:
    """Integer top-left of each patch: box centred on the trajectory, clamped to the allowed region in pixels."""
    W, H, e = s.W, s.H, s.overflow
    s.place = []
    for t in range(s.T):
        p, lb = s.patches[t]
        w, h = s.dims[t]
        bx = int(round(centres[t][0] - w / 2))
        by = int(round(centres[t][1] - h / 2))
        bx = int(np.clip(bx, math.ceil(-e[t, 0]), max(math.ceil(-e[t, 0]), math.floor(W + e[t, 2] - w))))
        by = int(np.clip(by, math.ceil(-e[t, 1]), max(math.ceil(-e[t, 1]), math.floor(H + e[t, 3] - h))))
        s.place.append((bx - lb[0], by - lb[1]))


def _measure_boxes(s: SequencePlan) -> None:
    """Ground truth = tight box of the placed target's alpha > 0.5, clipped to the frame (and the unclipped box)."""
    s.unclipped, s.boxes = [], []
    for t in range(s.T):
        p, _ = s.patches[t]
        un, cl = box_of_placed(p[..., 3], *s.place[t], s.W, s.H)
        if cl is None:
            raise Retry("target fully out of view")
        s.unclipped.append(un)
        s.boxes.append(cl)
    s.gt = np.array([xywh(b) for b in s.boxes], dtype=np.float64)
    s.gcx, s.gcy = s.gt[:, 0] + s.gt[:, 2] / 2, s.gt[:, 1] + s.gt[:, 3] / 2
