"""Generated tracking benchmark in OTB layout, with OTB's eleven attributes produced on purpose.

Each sequence composites a real photographed object (an exact alpha-masked cutout, see ``data.sources``) over a real
scene photograph that the camera pans and zooms over. Every OTB attribute is produced by a mechanism that meets the
TB-100 definition (thresholds in pixels scaled by ``otb_scale`` = frame diagonal / 800, the diagonal of 640x480); the
mechanisms are the entries of ``effects.EFFECTS``, one per attribute.

The unflagged geometric attributes are enforced, not hoped for: without SV the area ratio is planned inside
[0.82, 1.22] (the rendered box is re-measured and rescaled to the plan); without FM the centre speed is capped at
0.5 x the FM threshold; without LR the area is planned above 1.6 x the LR threshold; without OV the box is clamped
inside the frame with a margin of 2 % of the frame. Every val/test sequence is then re-checked with the same code as
``verify_attributes`` plus a clearance rule (SV/FM/LR clear of their thresholds by 15-60 %, so a one-pixel
re-annotation cannot flip a flag) and regenerated with the next attempt seed until the flags it carries are exactly
the ones measured. Train sequences carry the flags measured on them.

Ground truth = tight box of the target's alpha > 0.5 (before blur, ignoring occluders as OTB annotators do),
clipped to the image like OTB annotates partly out-of-view targets, written 1-based as integers.

Modules (this file imports none of them: the root ``config.py`` imports ``config`` alone):

* ``config``    -- ``SyntheticConfig``, the ``data`` section of params.yaml
* ``generate``  -- ``generate_benchmark``: attempts, self-check and files
* ``plan``      -- one sequence's plan: photos, shape, size, trajectory, boxes
* ``effects``   -- ``EFFECTS``: what each OTB attribute draws and renders
* ``render``    -- frames, per-frame log and still images
* ``verify``    -- ``verify_attributes``, the thresholds and the clear-margin rule
* ``analysis``  -- ``attribute_table`` and ``box_stats`` for the data notebook
* ``state``, ``compose``, ``camera``, ``draws`` -- shared records, compositing, the scene camera, random curves
"""
