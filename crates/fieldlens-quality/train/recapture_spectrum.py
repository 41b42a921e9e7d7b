#!/usr/bin/env python3
"""A tried and dropped recapture cue: spectral peaks at full resolution, on the dev set's real photos.

    scripts/eval-quality --crossfit DIR --keep PRED     # the checker's current verdicts
    python3 crates/fieldlens-quality/train/recapture_spectrum.py --predictions PRED/predictions.jsonl

Needs Python 3 with numpy and opencv-python, and the dev set in ../shared/data/quality-dev.
For every photo of the set's recapture source (real scenes, screens and printouts from one
phone) it takes the full-resolution luma, cuts it into 256-px tiles (flat ones left out),
and in each tile's windowed FFT divides the largest magnitude by the median one in the upper
band (0.15-0.48 of the sampling rate): a screen's pixel grid and its moire make sharp peaks
there. The photo's measure is the median over its tiles. It prints the measure per label,
and for each threshold how many screens the checker misses it would find against how many
real photos it would newly flag. BENCHMARKS / the closing note of 22 Nov: no threshold
finds more missed screens than it adds false alarms, so the cue was not built.
"""

import argparse
import csv
import json
import statistics
from pathlib import Path

import cv2
import numpy as np

TILE = 256


def peak_median(path):
    luma = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.float32)
    window = np.outer(np.hanning(TILE), np.hanning(TILE))
    yy, xx = np.mgrid[-TILE // 2:TILE // 2, -TILE // 2:TILE // 2]
    band = (np.hypot(yy, xx) > TILE * 0.15) & (np.hypot(yy, xx) < TILE * 0.48)
    peaks = []
    for y in range(0, luma.shape[0] - TILE + 1, TILE):
        for x in range(0, luma.shape[1] - TILE + 1, TILE):
            tile = luma[y:y + TILE, x:x + TILE]
            if tile.std() < 3:
                continue
            spectrum = np.abs(np.fft.fftshift(np.fft.fft2((tile - tile.mean()) * window)))[band]
            peaks.append(spectrum.max() / (np.median(spectrum) + 1e-6))
    return statistics.median(peaks) if peaks else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(Path(__file__).resolve().parents[3]
                                             / "../shared/data/quality-dev"))
    parser.add_argument("--predictions", required=True)
    args = parser.parse_args()
    flagged = {}
    for line in open(args.predictions):
        prediction = json.loads(line)
        flagged[Path(prediction["file"]).name] = "recapture" in prediction["reasons"]
    rows = [r for r in csv.DictReader(open(Path(args.set) / "labels.csv"))
            if r["source_repo"].startswith("aakash-kr-7/")]
    measured = [(r["subtype"] or "real", flagged[r["file"]],
                 peak_median(Path(args.set) / "images" / r["file"])) for r in rows]
    for label in ("real", "screen", "print"):
        values = sorted(v for l, _, v in measured if l == label)
        print(f"{label:6} n={len(values):2}  median {statistics.median(values):5.1f}  "
              f"range {values[0]:.1f}-{values[-1]:.1f}")
    for threshold in (36, 45, 55, 70):
        found = sum(1 for l, f, v in measured if l == "screen" and not f and v >= threshold)
        missed = sum(1 for l, f, _ in measured if l == "screen" and not f)
        alarms = sum(1 for l, f, v in measured if l == "real" and not f and v >= threshold)
        real = sum(1 for l, _, _ in measured if l == "real")
        print(f"threshold {threshold}: finds {found} of the {missed} missed screens, "
              f"flags {alarms} more of the {real} real photos")


if __name__ == "__main__":
    main()
