//! Learned weights: the built-in copy, or a file named by an environment variable.
//!
//! The variable exists so that the evaluation can score each half of the dev set with weights
//! fitted on the other half (`scripts/eval-quality --crossfit`).

/// Parses the file named by `variable` when it is set, else the `built_in` text.
pub(crate) fn built_in_or_override<T>(
    variable: &str,
    built_in: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    match std::env::var_os(variable) {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.to_string_lossy()))
            .and_then(|text| parse(&text)),
        None => parse(built_in),
    }
}
