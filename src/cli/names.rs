//! Clap parsers for the library's own enums: their `NAMES` (from `runtime::named_enum!`) are
//! the possible values and `FromStr` makes the value, so the CLI has no mirror enums.

use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};

/// `--flag NAME` parsed into the library enum `T` (help and errors list `names`).
pub fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Debug,
{
    PossibleValuesParser::new(names).map(|s| s.parse().expect("every listed name parses"))
}
