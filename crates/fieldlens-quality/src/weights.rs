//! Learned weights: the built-in copy, or a file named by an environment variable.
//!
//! The variable exists so that the evaluation can score each half of the dev set with weights
//! fitted on the other half (`scripts/eval-quality --crossfit`).

use std::sync::OnceLock;

use crate::QualityError;

/// The weights in `cell`, parsed on first use from the file named by `variable` when it is set,
/// else from the `built_in` text; a failure is kept and reported as `what` on every call.
pub(crate) fn load<T>(
    cell: &'static OnceLock<Result<T, String>>,
    what: &str,
    variable: &str,
    built_in: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<&'static T, QualityError> {
    cell.get_or_init(|| match std::env::var_os(variable) {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.to_string_lossy()))
            .and_then(|text| parse(&text)),
        None => parse(built_in),
    })
    .as_ref()
    .map_err(|error| QualityError::Model(format!("{what}: {error}")))
}
