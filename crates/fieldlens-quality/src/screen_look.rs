//! How much a photo looks like a photo of a screen, read off the object detector's features.
//!
//! The recapture rules (`recapture.rs`: a lit outline inside a dark bezel; `engine.rs`: a lit
//! TV, laptop or phone filling the frame) find the shape of a screen, and so also fire on the
//! other lit or framed rectangles of a room: a window, a framed picture, a book cover, a closed
//! laptop lid. The detector's inner feature maps describe the look of the whole scene — it was
//! trained on COCO to tell TVs, laptops, phones and books from everything else — and a linear
//! model reads them:
//!
//! `screen_look = σ(w · f + b)`, `f` being the detector's 2,560 scene features
//! of the photo (each inner channel's mean and maximum, `objects.rs`).
//!
//! The look only *confirms* a rule's finding; it never raises one by itself. On its own it
//! finds the dev set's recaptures better than the rules (BENCHMARKS.md), but it also calls a
//! flat rectangle of text a screen — the rating plates and labels the guide packs ask for —
//! and the rules never fire on those.
//!
//! The weights (`models/screen_look.lin`) come from `train/train_screen_look.py`: an L2-regularised
//! logistic regression (C = 0.01, classes weighted to balance, inputs standardised and the
//! standardisation folded into `w` and `b`) over the labelled dev set, photos of screens
//! against every photo that is not a recapture (printouts, all pages of text, left out). The
//! script also reports how the read-out does on a kind of screen it never saw (each capture
//! session of the set's recapture source left out in turn).
//!
//! `FIELDLENS_SCREEN_LOOK_MODEL=path` replaces the built-in weights for the whole process, so
//! that the evaluation can score each half of the dev set with weights fitted on the other.

use std::sync::OnceLock;

use crate::QualityError;
use crate::objects;

/// The built-in weights.
const BUILT_IN: &str = include_str!("../models/screen_look.lin");

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

    /// Probability that the features show a screen.
    fn probability(&self, features: &[f32]) -> f64 {
        let log_odds = self.bias
            + self
                .weights
                .iter()
                .zip(features)
                .map(|(weight, &value)| weight * f64::from(value))
                .sum::<f64>();
        1.0 / (1.0 + (-log_odds).exp())
    }
}

fn model() -> Result<&'static Linear, QualityError> {
    static MODEL: OnceLock<Result<Linear, String>> = OnceLock::new();
    crate::weights::load(
        &MODEL,
        "screen-look weights",
        "FIELDLENS_SCREEN_LOOK_MODEL",
        BUILT_IN,
        Linear::parse,
    )
}

/// The detector's scene features of an encoded photo, as the check computes them; for
/// `train/train_screen_look.py` (through `examples/training_features.rs`), so that training and
/// checking see the same numbers.
pub fn photo_scene_features(
    bytes: &[u8],
    profile: &crate::CheckProfile,
) -> Result<Vec<f32>, QualityError> {
    Ok(objects::detect(&crate::decode::decode(bytes, profile)?.bgr)?.features)
}

/// How much, 0..1, the scene features look like a photo of a screen.
pub(crate) fn screen_look(features: &[f32]) -> Result<f64, QualityError> {
    if features.len() != objects::FEATURES {
        return Err(QualityError::Model(format!(
            "screen look: {} scene features, expected {}",
            features.len(),
            objects::FEATURES
        )));
    }
    Ok(model()?.probability(features))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights_text(bias: f64, weight: f64) -> String {
        let weights = vec![weight.to_string(); objects::FEATURES].join(" ");
        format!("# test\nlinear {} {bias}\n{weights}\n", objects::FEATURES)
    }

    #[test]
    fn built_in_weights_parse() {
        let model = Linear::parse(BUILT_IN).unwrap();
        assert_eq!(model.weights.len(), objects::FEATURES);
    }

    #[test]
    fn probability_is_the_logistic_of_the_weighted_sum() {
        let model = Linear::parse(&weights_text(-1.0, 0.001)).unwrap();
        let features = vec![2.0f32; objects::FEATURES];
        let log_odds = -1.0 + 0.002 * objects::FEATURES as f64;
        let expected = 1.0 / (1.0 + (-log_odds).exp());
        assert!((model.probability(&features) - expected).abs() < 1e-9);
        assert!((model.probability(&vec![0.0; objects::FEATURES]) - 0.2689).abs() < 1e-4);
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

    #[test]
    fn features_of_the_wrong_length_are_refused() {
        assert!(screen_look(&[0.0; 3]).is_err());
    }
}
