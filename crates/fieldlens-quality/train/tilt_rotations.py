#!/usr/bin/env python3
"""More tilted photos than the dev set's 15, made by its own recipe, to check the tilt rule.

    python3 crates/fieldlens-quality/train/tilt_rotations.py [--set DIR] [--bin PATH] [--crossfit DIR]

Needs Python 3 with numpy and opencv-python, a built `fieldlens` (--bin, default
target/release/fieldlens under CARGO_TARGET_DIR or the repo) and the dev set in
../shared/data/quality-dev. Every clean Car-Parts photo of the set is turned twice by 20-35
degrees either way (seeded), cropped to the largest centred rectangle of its aspect without
empty corners and scaled back to its size, JPEG quality 90 - the README's recipe for the
`tilted` photos. `fieldlens check --json --full` measures them; the script prints how many the
checker calls tilted, why it misses the others (angle measured more than 3 degrees off, too many
level lines, too little line evidence), and the line evidence of the tilted photos against that
of the set's photos without tilt, which is what the evidence gate (`MIN_LINE_EVIDENCE` in
src/tilt.rs) sits between.

The built-in tilt look (src/looks.rs) was fitted on photos turned from these same photos; with
--crossfit DIR each half of the photos (split by `group`) is checked with the learned models
fitted on the other half (DIR/half<k>.gbm, .lin and .tilt.lin, as scripts/eval-quality
--crossfit), which is the honest figure.
"""
import argparse
import collections
import csv
import json
import os
import random
import subprocess
import tempfile

import cv2
import numpy as np

from train_car_cells import CAPTURE, REPO, half_of



def turned(image, degrees, zoom=1.0):
    """The photo turned by `degrees`, cropped to the centred rectangle of its aspect without empty
    corners (or `zoom` times smaller, when that is smaller still) and scaled back to its size."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    rotated = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_CUBIC)
    sin, cos = abs(np.sin(np.radians(degrees))), abs(np.cos(np.radians(degrees)))
    # The largest centred rectangle of the frame's aspect inside the turned frame.
    scale = min(w / (w * cos + h * sin), h / (w * sin + h * cos), 1 / zoom)
    cw, ch = int(w * scale), int(h * scale)
    x, y = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(rotated[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_CUBIC)


def reports(binary, paths, models=None):
    env = dict(os.environ)
    if models:
        env.update(FIELDLENS_CAR_MODEL=models + '.gbm', FIELDLENS_SCREEN_LOOK_MODEL=models + '.lin',
                   FIELDLENS_TILT_LOOK_MODEL=models + '.tilt.lin')
    text = subprocess.run([binary, 'check', '--json', '--full'] + paths, capture_output=True, text=True,
                          env=env).stdout
    return {os.path.basename(j['file']): j for j in map(json.loads, text.splitlines())}


def checked(binary, paths, groups, crossfit):
    """Reports for `paths`; with `crossfit`, each half by the models fitted on the other."""
    if not crossfit:
        return reports(binary, paths)
    out = {}
    for k in (0, 1):
        mine = [p for p, g in zip(paths, groups) if half_of(g) == k]
        out.update(reports(binary, mine, os.path.join(crossfit, f'half{k}')))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--set', default=os.path.join(REPO, '..', 'shared', 'data', 'quality-dev'))
    target = os.environ.get('CARGO_TARGET_DIR', os.path.join(REPO, 'target'))
    parser.add_argument('--bin', default=os.path.join(target, 'release', 'fieldlens'))
    parser.add_argument('--crossfit', help='per-half models (scripts/eval-quality --crossfit)')
    args = parser.parse_args()
    with open(os.path.join(args.set, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    sources = [r for r in rows if r['defect'] == 'none' and r['source_repo'].startswith('dsmlr/')]
    rng = random.Random(7)
    angles, groups = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for r in sources:
            image = cv2.imread(os.path.join(args.set, 'images', r['file']))
            for k in range(2):
                degrees = rng.uniform(20, 35) * rng.choice([-1, 1])
                name = f"{r['file'][:-4]}_{k}.jpg"
                cv2.imwrite(os.path.join(scratch, name), turned(image, degrees), [cv2.IMWRITE_JPEG_QUALITY, 90])
                angles[name] = degrees
                groups[name] = r['group']
        made = checked(args.bin, [os.path.join(scratch, n) for n in angles], list(groups.values()), args.crossfit)
    dev = checked(args.bin, [os.path.join(args.set, 'images', r['file']) for r in rows], [r['group'] for r in rows],
                  args.crossfit)

    why = collections.Counter()
    evidence = []
    for name, report in made.items():
        if any(i['reason'] in CAPTURE for i in report['issues']):
            why['retaken for a capture defect'] += 1
            continue
        m = report['metrics']
        if any(i['reason'] == 'tilted' for i in report['issues']):
            why['called tilted'] += 1
            evidence.append(m['line_evidence'])
        elif abs(abs(m['tilt_degrees']) - abs(angles[name])) > 3:
            why['angle measured more than 3 degrees off'] += 1
        elif m['level_line_share'] >= 0.08:
            why['too many level lines'] += 1
        else:
            why['other (evidence or angle range)'] += 1
    print(f'{len(made)} turned photos:', dict(why))
    upright = [dev[r['file']]['metrics']['line_evidence'] for r in rows
               if r['defect'] not in CAPTURE | {'tilted'} and 'line_evidence' in dev[r['file']]['metrics']]
    tilted = [dev[r['file']]['metrics']['line_evidence'] for r in rows if r['defect'] == 'tilted']
    pct = lambda v: ', '.join(f'{p}%: {np.percentile(v, p):.1f}' for p in (0, 1, 5, 10, 50))
    print('line evidence of the turned photos called tilted:', pct(evidence))
    print('line evidence of the dev set\'s tilted photos:', pct(tilted))
    print('line evidence of the dev set\'s photos without tilt:', pct(upright))


if __name__ == '__main__':
    main()
