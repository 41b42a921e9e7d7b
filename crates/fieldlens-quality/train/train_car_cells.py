#!/usr/bin/env python3
"""Train the car-likeness cell model (models/car_cells.gbm) from the labelled dev set.

    python3 crates/fieldlens-quality/train/train_car_cells.py [--set DIR] [--out FILE]
        [--halves DIR] [--features-bin PATH]

Needs Python 3 with numpy, opencv-python and scikit-learn, and the dev set in
../shared/data/quality-dev (see its README). Cell features are computed by the crate itself
(examples/training_features.rs, built here unless --features-bin is given), so training and
checking always see the same numbers.

Training data: every photo with an annotated car box (cells inside the box are positives,
outside negatives; cells straddling the box edge are left out), every photo without a car that
is labelled clean (all cells negative), and for each clean photo four random crops scaled back
to full size - two that cut the car on one or more sides (30-70% of its box visible) and two
that keep it whole - so that the model sees cars running off the frame and cannot learn that
cars never touch it. Crops are drawn with a fixed seed; the same inputs give the same model.

--halves DIR also trains one model per half of the set split by `group` (a stable hash of the
group name; every variant of a source photo stays in one half) and writes DIR/half0.gbm
(trained on half 1, for scoring half 0), DIR/half1.gbm and DIR/half0.txt / half1.txt (the
files of each half), for scripts/eval-quality --crossfit.
"""
import argparse
import csv
import hashlib
import os
import random
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
# Defects that make the checker retake a photo before judging its content (tilt, framing,
# recapture).
CAPTURE = {'blur', 'underexposed', 'overexposed', 'glare', 'noise', 'low_resolution'}
FEATURES = 49
CLEAN = ('none', 'none_mild_blur')


def half_of(group):
    """The group's half (0 or 1): a stable hash, so every variant of a photo stays together."""
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % 2


def car_box(row):
    return tuple(map(float, row['car_bbox'].split(';'))) if row['car_bbox'] else None


def working_copy(path, side=512):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return image


def crop(image, box, rng, cut):
    """A crop of the frame's aspect scaled back to full size, and the car box inside it."""
    h, w = image.shape[:2]
    for _ in range(50):
        zoom = rng.uniform(1.2, 2.4) if cut else rng.uniform(1.02, 1.5)
        cw, ch = int(w / zoom), int(h / zoom)
        x0, y0 = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
        if box is None:
            break
        bx, by, bw, bh = box[0] * w, box[1] * h, box[2] * w, box[3] * h
        ix = max(0, min(bx + bw, x0 + cw) - max(bx, x0))
        iy = max(0, min(by + bh, y0 + ch) - max(by, y0))
        visible = ix * iy / (bw * bh)
        whole = (bx >= x0 + 0.02 * cw and by >= y0 + 0.02 * ch
                 and bx + bw <= x0 + 0.98 * cw and by + bh <= y0 + 0.98 * ch)
        if (cut and 0.3 <= visible <= 0.7) or (not cut and whole):
            break
    else:
        return None
    out = cv2.resize(image[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_CUBIC)
    if box is None:
        return out, None
    nx, ny = (bx - x0) / cw, (by - y0) / ch
    left, top = max(0.0, nx), max(0.0, ny)
    right, bottom = min(1.0, nx + bw / cw), min(1.0, ny + bh / ch)
    return out, (left, top, right - left, bottom - top)


def cell_labels(rows, cols, box):
    """Share of each cell inside the box."""
    if box is None:
        return np.zeros((rows, cols))
    x, y, w, h = box
    def cover(n, start, length):
        i = np.arange(n)
        return np.clip((np.minimum((i + 1) / n, start + length) - np.maximum(i / n, start)) * n, 0, 1)
    return cover(rows, y, h)[:, None] * cover(cols, x, w)[None, :]


def training_arguments(doc, model, halves='also write per-half models here'):
    """The arguments every training script takes: the set, the model file written (under
    models/ by default), the per-half models for cross-fitting and a prebuilt features example."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--set', default=os.path.join(REPO, '..', 'shared', 'data', 'quality-dev'))
    parser.add_argument('--out', default=os.path.join(REPO, 'crates', 'fieldlens-quality', 'models', model))
    parser.add_argument('--halves', help=halves)
    parser.add_argument('--features-bin', help='prebuilt training_features example')
    return parser


def features_binary(given):
    """The crate's training_features example: `given` when set, else built here."""
    if given:
        return given
    subprocess.run(['cargo', 'build', '--release', '--quiet', '-p', 'fieldlens-quality',
                    '--example', 'training_features'], check=True, cwd=REPO)
    target = os.environ.get('CARGO_TARGET_DIR', os.path.join(REPO, 'target'))
    return os.path.join(target, 'release', 'examples', 'training_features')


def feature_lines(binary, kind, paths):
    """The example's output lines for `paths`, split into (path, rest)."""
    for start in range(0, len(paths), 200):
        chunk = paths[start:start + 200]
        text = subprocess.run([binary, kind] + chunk, check=True, capture_output=True, text=True).stdout
        for line in text.splitlines():
            path, rest = line.split('\t', 1)
            if rest.startswith('error\t'):
                sys.exit(f'{path}: {rest[6:]}')
            yield path, rest


def features_of(binary, paths):
    out = {}
    for path, rest in feature_lines(binary, 'cells', paths):
        rows, cols, values = rest.split('\t')
        values = values.split()
        grid = np.array(values, dtype=np.float32).reshape(int(rows), int(cols), FEATURES) if values else None
        out[path] = grid
    return out


def train(samples):
    xs, ys = [], []
    for grid, box in samples:
        if grid is None:
            continue
        share = cell_labels(grid.shape[0], grid.shape[1], box)
        keep = (share >= 0.75) | (share <= 0.25)
        xs.append(grid[keep])
        ys.append(share[keep] >= 0.75)
    model = HistGradientBoostingClassifier(max_iter=150, max_leaf_nodes=8, learning_rate=0.1,
                                           l2_regularization=1.0, random_state=0)
    return model.fit(np.concatenate(xs), np.concatenate(ys))


def export(model, path, note):
    trees = [predictors[0] for predictors in model._predictors]
    baseline = float(np.ravel(model._baseline_prediction)[0])
    lines = [f'# car-likeness cell model, {note}', f'# {len(trees)} trees, written by train_car_cells.py',
             f'gbm {FEATURES} {baseline!r} {len(trees)}']
    for tree in trees:
        nodes = tree.nodes
        lines.append(f'tree {len(nodes)}')
        for node in nodes:
            if node['is_leaf']:
                lines.append(f"-1 0 0 0 {float(node['value']):.7g}")
            else:
                lines.append(f"{int(node['feature_idx'])} {float(node['num_threshold']):.9g} "
                             f"{int(node['left'])} {int(node['right'])} 0")
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def main():
    args = training_arguments(__doc__, 'car_cells.gbm', 'also write per-half models and file lists here').parse_args()

    binary = features_binary(args.features_bin)

    with open(os.path.join(args.set, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    chosen = [r for r in rows if r['car_bbox'] or r['defect'] == 'none']
    rng = random.Random('fieldlens-car-cells-v1')
    with tempfile.TemporaryDirectory() as scratch:
        items = []   # (group, path, box)
        for r in chosen:
            path = os.path.join(args.set, 'images', r['file'])
            items.append((r['group'], path, car_box(r)))
            if r['defect'] not in CLEAN:
                continue
            image = working_copy(path)
            for k, cut in enumerate([True, True, False, False]):
                made = crop(image, car_box(r), rng, cut)
                if made is None:
                    continue
                crop_path = os.path.join(scratch, f"{r['file']}.{k}.png")
                cv2.imwrite(crop_path, made[0])
                items.append((r['group'], crop_path, made[1]))
        grids = features_of(binary, [path for _, path, _ in items])
        samples = [(half_of(g), grids[p], box) for g, p, box in items]

    model = train([(grid, box) for _, grid, box in samples])
    export(model, args.out, f'trained on {len(chosen)} photos of {args.set.rstrip("/").split("/")[-1]} '
                            f'and {len(samples) - len(chosen)} crops')
    print(f'wrote {args.out} ({len(samples)} images)')
    if args.halves:
        os.makedirs(args.halves, exist_ok=True)
        for half in (0, 1):
            other = [(grid, box) for h, grid, box in samples if h != half]
            export(train(other), os.path.join(args.halves, f'half{half}.gbm'),
                   f'trained on the other half than {half}')
            with open(os.path.join(args.halves, f'half{half}.txt'), 'w') as f:
                f.write('\n'.join(r['file'] for r in rows if half_of(r['group']) == half) + '\n')
        print(f'wrote per-half models and file lists to {args.halves}')


if __name__ == '__main__':
    main()
