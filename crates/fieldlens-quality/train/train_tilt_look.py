#!/usr/bin/env python3
"""Fit the tilt look (models/tilt_look.lin, src/looks.rs): how much a vehicle scene looks rolled.

    python3 crates/fieldlens-quality/train/train_tilt_look.py [--set DIR] [--out FILE]
        [--halves DIR] [--features-bin PATH]

Needs Python 3 with numpy, opencv-python and scikit-learn, and the dev set in
../shared/data/quality-dev (see its README).

Why: the line rule (src/tilt.rs) reads the roll off the long straight lines, and a car's body
lines converge in perspective, so on car photos it can read half the roll or a perspective
diagonal instead. The object detector's scene features (src/objects.rs) describe how the whole
scene sits in the frame; a linear read-out of them tells a rolled vehicle scene from a level
one.

Training photos are made here, not taken from the set's `tilted` photos: every Car-Parts photo
of the set without a capture defect or tilt (clean, mildly blurred, badly framed) is turned four
times - twice by 0-5 degrees (level) and twice by 15-35 degrees (rolled), either way, seeded -
each cropped to the largest centred rectangle without empty corners and zoomed in at random by
1.0-1.45 (so that the zoom which a roll needs tells nothing), JPEG quality 90; the photo itself
counts as level too. Rolls between 5 and 15 degrees are left out: the default limit is 10, and
the look is taught the two sides of it, not the line. The features come from the crate itself
(examples/training_features.rs), so fitting and checking see the same numbers.

Model: logistic regression with an L2 penalty (C = 0.01), classes weighted to balance, inputs
standardised and folded into the weights (file `linear <n> <bias>` and n weights), as
train_screen_look.py.

Before writing, it prints, for each bar the look must reach (MIN_TILT_LOOK in src/engine.rs),
with each half of the photos (split by `group`, as scripts/eval-quality does) scored by a model
fitted on the other half:
- on the made photos: the share of level ones called rolled, and of rolled ones found;
- on the set's own photos with a vehicle subject: the `tilted` photos found, and the other
  Car-Parts photos (no capture defect) called rolled.
The bar is chosen on the made photos alone: the least bar at which under 1% of level photos are
called rolled.

--halves DIR also writes DIR/half0.tilt.lin (fitted on half 1, for scoring half 0) and
DIR/half1.tilt.lin, for scripts/eval-quality --crossfit.
"""
import csv
import os
import random
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tilt_rotations import turned  # noqa: E402
from train_car_cells import CAPTURE, features_binary, half_of, training_arguments  # noqa: E402
from train_screen_look import export, features_of, fit, probability  # noqa: E402

SOURCES = {'none', 'none_mild_blur', 'framing'}
LEVEL, ROLLED = (0.0, 5.0), (15.0, 35.0)
BARS = [round(0.5 + 0.05 * i, 2) for i in range(10)]
MAX_FALSE_ALARMS = 0.01


def made_photos(set_dir, sources, scratch):
    """Writes the turned photos; returns (path, rolled, group) for them and the sources."""
    rng = random.Random(11)
    made = []
    for r in sources:
        path = os.path.join(set_dir, 'images', r['file'])
        image = cv2.imread(path)
        made.append((path, False, r['group']))
        for k, band in enumerate((LEVEL, LEVEL, ROLLED, ROLLED)):
            degrees = rng.uniform(*band) * rng.choice([-1, 1])
            name = os.path.join(scratch, f"{r['file'][:-4]}_{k}.jpg")
            cv2.imwrite(name, turned(image, degrees, rng.uniform(1.0, 1.45)), [cv2.IMWRITE_JPEG_QUALITY, 90])
            made.append((name, band is ROLLED, r['group']))
    return made


def main():
    args = training_arguments(__doc__, 'tilt_look.lin').parse_args()

    binary = features_binary(args.features_bin)
    with open(os.path.join(args.set, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    cars = [r for r in rows if r['source_repo'].startswith('dsmlr/')]
    sources = [r for r in cars if r['defect'] in SOURCES]
    with tempfile.TemporaryDirectory() as scratch:
        made = made_photos(args.set, sources, scratch)
        found = features_of(binary, [path for path, _, _ in made])
    x = np.stack([found[path] for path, _, _ in made])
    y = np.array([rolled for _, rolled, _ in made])
    half = np.array([half_of(group) for _, _, group in made])
    print(f'{len(sources)} Car-Parts photos, {len(made)} training photos ({y.sum()} rolled)')

    held_out = np.zeros(len(made))
    models = {k: fit(x[half != k], y[half != k]) for k in (0, 1)}
    for k in (0, 1):
        held_out[half == k] = probability(models[k], x[half == k])

    judged = [r for r in cars if r['defect'] not in CAPTURE]
    paths = [os.path.join(args.set, 'images', r['file']) for r in judged]
    own = features_of(binary, paths)
    own_half = np.array([half_of(r['group']) for r in judged])
    own_look = np.zeros(len(judged))
    for k in (0, 1):
        chosen = own_half == k
        own_look[chosen] = probability(models[k], np.stack([own[p] for p, c in zip(paths, chosen) if c]))
    tilted = np.array([r['defect'] == 'tilted' for r in judged])

    print('bar   made: level called rolled, rolled found | set: tilted found, others called rolled')
    chosen_bar = None
    for bar in BARS:
        false_alarms = (held_out[~y] >= bar).mean()
        if chosen_bar is None and false_alarms < MAX_FALSE_ALARMS:
            chosen_bar = bar
        print(f'{bar:.2f}  {false_alarms:.3f}, {(held_out[y] >= bar).mean():.3f} | '
              f'{(own_look[tilted] >= bar).sum()} of {tilted.sum()}, '
              f'{(own_look[~tilted] >= bar).sum()} of {(~tilted).sum()}')
    print(f'least bar with under {MAX_FALSE_ALARMS:.0%} of level made photos called rolled: {chosen_bar}')

    export(fit(x, y), args.out, f'fitted on {len(made)} photos made from {len(sources)} of the set',
           'tilt look', 'train_tilt_look.py')
    print(f'wrote {args.out}')
    if args.halves:
        os.makedirs(args.halves, exist_ok=True)
        for k in (0, 1):
            export(models[k], os.path.join(args.halves, f'half{k}.tilt.lin'),
                   f'fitted on the other half than {k}', 'tilt look', 'train_tilt_look.py')
        print(f'wrote per-half models to {args.halves}')


if __name__ == '__main__':
    main()
