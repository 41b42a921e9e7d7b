#!/usr/bin/env python3
"""The screen look on its own as the recapture cue: tried, and used only to confirm the rules.

    python3 crates/fieldlens-quality/train/recapture_probe.py [--set DIR] [--score PHOTO...]

Needs Python 3 with numpy, opencv-python (4.6, as Debian's) and scikit-learn, and the dev set in
../shared/data/quality-dev. Each photo is shrunk as the checker does (512-px working copy, then
the detector's 256-px input with the aspect kept) and run through models/nanodet_g_416.onnx;
the mean and the maximum of every channel of six inner maps (backbone and feature pyramid at
strides 8, 16 and 32) make 2,560 features. A logistic regression (L2, C = 0.01, balanced
classes, standardised inputs) separates recaptures from every other photo. It prints the F1 of
`recapture` two ways, never scoring a photo with a model that saw it: each half of the set
(split by group, as scripts/eval-quality) by a model fitted on the other, and each capture
session of the recapture source (a TV, a laptop, printouts...) by a model fitted without it.
Photos labelled with a capture defect are not counted as flagged: the checker judges recapture
only on photos free of those. --score PHOTO... prints the probability of a model fitted on the
whole set for other photos.

BENCHMARKS / the closing note of 23 Nov: the cue beats the hand rules on the dev set, but it
calls any flat rectangle of text a recapture (rating plates, which the guide packs ask for), so
the checker uses it only to confirm the rules' findings (src/looks.rs, fitted by
train_screen_look.py on the crate's own features).
"""
import argparse
import csv
import hashlib
import os

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
MODEL = os.path.join(REPO, 'crates', 'fieldlens-quality', 'models', 'nanodet_g_416.onnx')
INNER = ['Concat_27', 'Concat_42', 'Concat_62', 'Add_107', 'Add_128', 'Add_149']
MEAN = np.array([103.53, 116.28, 123.675], np.float32)
SPREAD = np.array([57.375, 57.12, 58.395], np.float32)
CAPTURE = ('blur', 'underexposed', 'overexposed', 'glare', 'noise', 'low_resolution')


def features(net, path):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    if max(h, w) > 512:
        scale = 512 / max(h, w)
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        h, w = image.shape[:2]
    short = max(32, round(256 * min(h, w) / max(h, w) / 32) * 32)
    size = (256, short) if w >= h else (short, 256)
    x = (cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32) - MEAN) / SPREAD
    net.setInput(cv2.dnn.blobFromImage(x))
    maps = net.forward(['onnx_node!PartitionedCall/onnx_tf_prefix_' + name for name in INNER])
    return np.concatenate([f(m[0], axis=(1, 2)) for m in maps for f in (np.mean, np.max)])


def fit(x, y):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, class_weight='balanced', max_iter=5000))
    return model.fit(x, y)


def f1(flagged, y):
    tp, fp, fn = (flagged & y).sum(), (flagged & ~y).sum(), (~flagged & y).sum()
    return f'F1 {2 * tp / (2 * tp + fp + fn):.3f} (found {tp} of {tp + fn}, {fp} false alarms)'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--set', default=os.path.join(REPO, '..', 'shared', 'data', 'quality-dev'))
    parser.add_argument('--score', nargs='*', default=[])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    net = cv2.dnn.readNetFromONNX(MODEL)
    with open(os.path.join(args.set, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    x = np.stack([features(net, os.path.join(args.set, 'images', r['file'])) for r in rows])
    y = np.array([r['defect'] == 'recapture' for r in rows])
    judged = np.array([r['defect'] not in CAPTURE for r in rows])
    half = np.array([int(hashlib.sha256(r['group'].encode()).hexdigest(), 16) % 2 for r in rows])
    session = np.array([r['source_path'].split('/')[-2] if 'recapture' in r['source_repo'] else ''
                        for r in rows])
    p = np.zeros(len(rows))
    for k in (0, 1):
        p[half == k] = fit(x[half != k], y[half != k]).predict_proba(x[half == k])[:, 1]
    print('each half, fitted on the other:', f1((p > 0.5) & judged, y))
    for s in set(session) - {''}:
        p[session == s] = fit(x[session != s], y[session != s]).predict_proba(x[session == s])[:, 1]
    print('each recapture session left out:', f1((p > 0.5) & judged, y))
    if args.score:
        model = fit(x, y)
        for path in args.score:
            print(f'{path}: {model.predict_proba(features(net, path)[None])[0, 1]:.2f}')


if __name__ == '__main__':
    main()
