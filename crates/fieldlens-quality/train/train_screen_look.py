#!/usr/bin/env python3
"""Fit the screen look (models/screen_look.lin, src/looks.rs) from the labelled dev set.

    python3 crates/fieldlens-quality/train/train_screen_look.py [--set DIR] [--out FILE]
        [--halves DIR] [--features-bin PATH] [--rules FILE]

Needs Python 3 with numpy and scikit-learn, and the dev set in ../shared/data/quality-dev (see
its README). The features are the object detector's scene features (each inner channel's mean
and maximum, src/objects.rs), computed by the crate itself through examples/training_features.rs
(built here unless --features-bin is given), so fitting and checking see the same numbers.

Model: logistic regression with an L2 penalty (C = 0.01), the two classes weighted to balance,
inputs standardised; photos of screens against every labelled photo that is not a recapture.
The checker uses it only to confirm what its recapture rules (screen detectors: a lit outline
in a dark bezel, a lit display filling the frame) find, so it is fitted to tell a photo of a
screen from anything else. The set's printouts, all pages of text, take no part in the fit
(they would teach it that text is a recapture) and are scored like every other photo. The
figures below are for the read-out alone, as a detector of its own.
The standardisation is folded into the weights, so the file holds `linear <n> <bias>` and n
weights, and the check computes sigmoid(bias + w . f).

Before writing, it prints how the model does on photos it never saw, two ways:
- each half of the set (split by `group`, as scripts/eval-quality does) scored by a model fitted
  on the other half;
- leave one session out: every capture session of the recapture source (a laptop, a monitor, a
  TV in a living room, printouts; and each session of real photos) scored by a model fitted
  without that session - a kind of screen the model has never seen.
Photos with a capture defect (blur, exposure, noise...) are scored too, though the checker only
judges recapture on photos free of those.

--alone also replays the look on its own as the recapture cue (tried, not built in: it calls a
flat rectangle of text a screen): fitted on every recapture, printouts included, and counting a
photo as flagged only when it has no capture defect, as the checker judges; F1 both ways.

--halves DIR also writes DIR/half0.lin (fitted on half 1, for scoring half 0) and
DIR/half1.lin, for scripts/eval-quality --crossfit.

--rules FILE reads what the recapture rules find on their own: `fieldlens check --json --full`
over the set's images with weights that always confirm (only the findings the look confirms
count: subtypes `screen` and `display`, not the print cue's `print`),

    python3 -c "print('linear 2560 50', '0 ' * 2560)" > /tmp/always.lin
    FIELDLENS_SCREEN_LOOK_MODEL=/tmp/always.lin target/release/fieldlens check --json --full \
        ../shared/data/quality-dev/images > /tmp/rules.jsonl

and prints, for each bar the look must reach to confirm a finding (src/engine.rs,
MIN_SCREEN_LOOK), how many true and false findings the cross-fitted look keeps; and, with each
recapture session left out of the fit, the least look among the true findings.
"""
import csv
import json
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_car_cells import CAPTURE, feature_lines, features_binary, half_of, training_arguments  # noqa: E402

C = 0.01
FEATURES = 2560


def features_of(binary, paths):
    out = {}
    for path, rest in feature_lines(binary, 'scene', paths):
        values = np.array(rest.split(), dtype=np.float64)
        if values.size != FEATURES:
            sys.exit(f'{path}: {values.size} features, expected {FEATURES}')
        out[path] = values
    return out


def fit(x, y):
    """Returns (bias, weights) of a standardised, balanced logistic regression, unstandardised."""
    mean, spread = x.mean(axis=0), x.std(axis=0)
    spread[spread < 1e-6] = np.inf   # a constant feature gets weight 0
    model = LogisticRegression(C=C, class_weight='balanced', max_iter=5000)
    model.fit((x - mean) / spread, y)
    weights = model.coef_[0] / spread
    return float(model.intercept_[0] - weights @ mean), weights


def probability(model, x):
    bias, weights = model
    return 1 / (1 + np.exp(-(bias + x @ weights)))


def export(model, path, note, what='screen look', script='train_screen_look.py'):
    bias, weights = model
    lines = [f'# {what}, a read-out of the detector scene features, {note}',
             f'# written by {script}', f'linear {FEATURES} {bias!r}']
    lines += [' '.join(f'{w:.7g}' for w in weights[i:i + 8]) for i in range(0, FEATURES, 8)]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def report(name, p, y):
    flagged = p > 0.5
    tp, fp, fn = int((flagged & y).sum()), int((flagged & ~y).sum()), int((~flagged & y).sum())
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    print(f'{name}: F1 {f1:.3f} (found {tp} of {tp + fn} recaptures, {fp} false alarms in {len(y)} photos)')


def main():
    parser = training_arguments(__doc__, 'screen_look.lin')
    parser.add_argument('--rules', help='fieldlens check --json --full output with the look switched off')
    parser.add_argument('--alone', action='store_true', help='also replay the look alone as the recapture cue')
    args = parser.parse_args()

    binary = features_binary(args.features_bin)

    with open(os.path.join(args.set, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    paths = [os.path.join(args.set, 'images', r['file']) for r in rows]
    found = features_of(binary, paths)
    x = np.stack([found[p] for p in paths])
    y = np.array([r['defect'] == 'recapture' for r in rows])
    fitted = np.array([r['subtype'] != 'print' for r in rows])
    half = np.array([half_of(r['group']) for r in rows])
    # The capture session of the recapture source's photos (its folder); '' for other sources.
    session = np.array([r['source_path'].split('/')[-2] if 'recapture' in r['source_repo'] else ''
                        for r in rows])

    def fit_on(chosen, among=fitted):
        chosen = chosen & among
        return fit(x[chosen], y[chosen])

    def held_out(among):
        """The look of every photo by a model fitted on photos of `among` without it: each half
        by the other half, and each session of the recapture source by the other sessions."""
        crossfit = np.zeros(len(rows))
        for k in (0, 1):
            crossfit[half == k] = probability(fit_on(half != k, among), x[half == k])
        unseen = crossfit.copy()
        for s in sorted(set(session) - {''}):
            unseen[session == s] = probability(fit_on(session != s, among), x[session == s])
        return crossfit, unseen

    crossfit, unseen = held_out(fitted)
    report('each half scored by a model fitted on the other', crossfit, y)
    report('each recapture-source session left out in turn', unseen, y)

    if args.alone:
        # As the cue itself: fitted on every recapture, and a photo retaken for a capture defect
        # is never judged for recapture.
        judged = np.array([r['defect'] not in CAPTURE for r in rows])
        alone, alone_unseen = held_out(np.ones(len(rows), dtype=bool))
        report('the look alone as the cue, each half fitted on the other', alone * judged, y)
        report('the look alone as the cue, each session left out', alone_unseen * judged, y)

    if args.rules:
        with open(args.rules) as f:
            flagged = {os.path.basename(j['file']) for j in map(json.loads, f)
                       if any(issue['reason'] == 'recapture' and issue['subtype'] in ('screen', 'display')
                              for issue in j['issues'])}
        found = np.array([r['file'] in flagged for r in rows])
        true_found, false_found = found & y, found & ~y
        print(f'the rules find {true_found.sum()} recaptures and {false_found.sum()} photos that are not')
        for bar in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
            kept = crossfit >= bar
            print(f'  look >= {bar:.2f} (cross-fitted) keeps {(true_found & kept).sum()} true and '
                  f'{(false_found & kept).sum()} false findings')
        print(f'  each session left out: least look of a true finding {unseen[true_found].min():.2f}; '
              f'false findings under 0.2: {(false_found & (unseen < 0.2)).sum()}')

    every = np.ones(len(rows), dtype=bool)
    export(fit_on(every), args.out, f'fitted on {fitted.sum()} photos of {args.set.rstrip("/").split("/")[-1]}')
    print(f'wrote {args.out}')
    if args.halves:
        os.makedirs(args.halves, exist_ok=True)
        for k in (0, 1):
            export(fit_on(half != k), os.path.join(args.halves, f'half{k}.lin'),
                   f'fitted on the other half than {k}')
        print(f'wrote per-half models to {args.halves}')


if __name__ == '__main__':
    main()
