//! Learned looks: how a photo looks as a whole, read off the object detector's scene features.
//!
//! The detector (`objects.rs`, trained on COCO) computes inner feature maps that describe the
//! whole scene; each inner channel's mean and maximum give 2,560 scene features `f` per photo.
//! A look is a logistic read-out of them, `σ(w · f + b)`, 0..1. Each look's weights come from an
//! L2-regularised logistic regression (C = 0.01, classes weighted to balance, inputs
//! standardised and the standardisation folded into `w` and `b`; file `linear <n> <bias>` and n
//! weights), written by a script in `train/` from features the crate computes itself
//! ([`photo_scene_features`], through `examples/training_features.rs`).
//!
//! Each look's weights can be replaced for the whole process by a file named in an environment
//! variable, so that the evaluation can score each half of the dev set with weights fitted on
//! the other (`scripts/eval-quality --crossfit`).
//!
//! # Screen look (`models/screen_look.lin`, `FIELDLENS_SCREEN_LOOK_MODEL`)
//!
//! How much the photo looks like a photo of a screen.
//!
//! The recapture rules (`recapture.rs`: a lit outline inside a dark bezel; `engine.rs`: a lit
//! TV, laptop or phone filling the frame) find the shape of a screen, and so also fire on the
//! other lit or framed rectangles of a room: a window, a framed picture, a book cover, a closed
//! laptop lid. The detector's inner feature maps describe the look of the whole scene — it was
//! trained on COCO to tell TVs, laptops, phones and books from everything else — and a linear
//! look reads them.
//!
//! The look only *confirms* a rule's finding; it never raises one by itself. On its own it
//! finds the dev set's recaptures better than the rules (BENCHMARKS.md), but it also calls a
//! flat rectangle of text a screen — the rating plates and labels the guide packs ask for —
//! and the rules never fire on those.
//!
//! `train/train_screen_look.py` fits it on the labelled dev set: photos of screens against
//! every photo that is not a recapture (printouts, all pages of text, left out). The
//! script also reports how the read-out does on a kind of screen it never saw (each capture
//! session of the set's recapture source left out in turn).
//!
//! # Tilt look (`models/tilt_look.lin`, `FIELDLENS_TILT_LOOK_MODEL`)
//!
//! How much a vehicle scene looks rolled. The line rule (`tilt.rs`) reads the roll off long
//! straight lines, but a car's body lines converge in perspective, so on a car photo it can read
//! half the roll, or a perspective diagonal instead of the roll. The look reads the scene as a
//! whole. `train/train_tilt_look.py` makes its training photos from the dev set's Car-Parts
//! photos without tilt: each turned twice by 0–5° (level) and twice by 15–35° (rolled), each
//! zoomed in at random by 1.0–1.45, or further where its roll needs it (so that the zoom tells
//! nothing). Rolls between 5° and 15° are left out: the look learns the two sides of the
//! default 10° limit.
//!
//! It is trusted only where it was taught: a photo with a vehicle in it, checked against a
//! limit of at most 10° (`engine.rs`). There a look of at least `MIN_TILT_LOOK` calls the photo
//! tilted even when the lines do not.

use std::sync::OnceLock;

use crate::QualityError;
use crate::objects;
use crate::weights;

/// The detector's scene features of an encoded photo, as the check computes them; for the
/// training scripts (through `examples/training_features.rs`), so that training and checking
/// see the same numbers.
pub fn photo_scene_features(
    bytes: &[u8],
    profile: &crate::CheckProfile,
) -> Result<Vec<f32>, QualityError> {
    Ok(objects::detect(&crate::decode::decode(bytes, profile)?.bgr)?.features)
}

/// One look: its name in errors, the variable that can name a weights file, the built-in
/// weights, and the weights once loaded.
struct Look {
    what: &'static str,
    variable: &'static str,
    built_in: &'static str,
    weights: OnceLock<Result<Linear, String>>,
}

static SCREEN: Look = Look {
    what: "screen look",
    variable: "FIELDLENS_SCREEN_LOOK_MODEL",
    built_in: include_str!("../models/screen_look.lin"),
    weights: OnceLock::new(),
};

static TILT: Look = Look {
    what: "tilt look",
    variable: "FIELDLENS_TILT_LOOK_MODEL",
    built_in: include_str!("../models/tilt_look.lin"),
    weights: OnceLock::new(),
};

impl Look {
    /// The look, 0..1, of the scene features; the weights are loaded on first use.
    fn of(&'static self, features: &[f32]) -> Result<f64, QualityError> {
        let (what, variable) = (self.what, self.variable);
        weights::load(&self.weights, what, variable, self.built_in, Linear::parse)?
            .probability(features, what)
    }
}

/// How much, 0..1, the scene features look like a photo of a screen.
pub(crate) fn screen_look(features: &[f32]) -> Result<f64, QualityError> {
    SCREEN.of(features)
}

/// How much, 0..1, the scene features look like a rolled (tilted) vehicle scene.
pub(crate) fn tilt_look(features: &[f32]) -> Result<f64, QualityError> {
    TILT.of(features)
}

/// A logistic read-out of the scene features.
#[derive(Debug, Clone, PartialEq)]
struct Linear {
    bias: f64,
    weights: Vec<f64>,
}

impl Linear {
    /// Parses `linear <features> <bias>` followed by one weight per feature (whitespace
    /// separated; lines starting with `#` are comments).
    fn parse(text: &str) -> Result<Self, String> {
        let mut words = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace);
        if words.next() != Some("linear") {
            return Err("does not start with `linear`".into());
        }
        let count: usize = words
            .next()
            .and_then(|word| word.parse().ok())
            .ok_or("no feature count")?;
        if count != objects::FEATURES {
            return Err(format!(
                "made for {count} features, the detector gives {}",
                objects::FEATURES
            ));
        }
        let number = |word: &str| {
            word.parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .ok_or_else(|| format!("{word:?} is not a finite number"))
        };
        let bias = number(words.next().ok_or("no bias")?)?;
        let weights = words.map(number).collect::<Result<Vec<_>, _>>()?;
        if weights.len() != count {
            return Err(format!("{} weights for {count} features", weights.len()));
        }
        Ok(Linear { bias, weights })
    }

    /// σ(w · f + b) of the features; `what` names the read-out in the error when the features
    /// are not the detector's.
    fn probability(&self, features: &[f32], what: &str) -> Result<f64, QualityError> {
        if features.len() != self.weights.len() {
            return Err(QualityError::Model(format!(
                "{what}: {} scene features, expected {}",
                features.len(),
                self.weights.len()
            )));
        }
        let log_odds = self.bias
            + self
                .weights
                .iter()
                .zip(features)
                .map(|(weight, &value)| weight * f64::from(value))
                .sum::<f64>();
        Ok(1.0 / (1.0 + (-log_odds).exp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_weights_parse() {
        for look in [&SCREEN, &TILT] {
            assert!(Linear::parse(look.built_in).is_ok(), "{}", look.what);
        }
    }

    #[test]
    fn features_of_the_wrong_length_are_refused() {
        assert!(screen_look(&[0.0; 3]).is_err());
        assert!(tilt_look(&[0.0; 3]).is_err());
    }

    fn weights_text(bias: f64, weight: f64) -> String {
        let weights = vec![weight.to_string(); objects::FEATURES].join(" ");
        format!("# test\nlinear {} {bias}\n{weights}\n", objects::FEATURES)
    }

    #[test]
    fn probability_is_the_logistic_of_the_weighted_sum() {
        let model = Linear::parse(&weights_text(-1.0, 0.001)).unwrap();
        let features = vec![2.0f32; objects::FEATURES];
        let log_odds = -1.0 + 0.002 * objects::FEATURES as f64;
        let expected = 1.0 / (1.0 + (-log_odds).exp());
        assert!((model.probability(&features, "test").unwrap() - expected).abs() < 1e-9);
        let zero = model.probability(&vec![0.0; objects::FEATURES], "test");
        assert!((zero.unwrap() - 0.2689).abs() < 1e-4);
        assert!(model.probability(&[0.0; 3], "test").is_err());
    }

    #[test]
    fn malformed_weights_are_refused() {
        let short = format!("linear {} 0 1 2 3", objects::FEATURES);
        for text in [
            String::new(),
            "gbm 49 0 1".into(),
            "linear 3 0 1 2 3".into(),
            short,
            weights_text(f64::NAN, 1.0),
            weights_text(0.0, 1.0).replace(" 1 ", " x "),
            weights_text(0.0, 1.0) + " 4",
        ] {
            assert!(Linear::parse(&text).is_err(), "{text:.60}");
        }
    }
}
