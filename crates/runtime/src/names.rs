//! Text names of the library's enums: one macro gives an enum its `NAMES`, `name()`,
//! `Display` and `FromStr`, so the CLI and the Python bindings parse the library's own types
//! (no mirror enums, no strings compared).
//!
//! ```
//! #[derive(Debug, Clone, Copy, PartialEq)]
//! enum Colour { Red, DarkBlue }
//! runtime::named_enum!(Colour { Red => "red", DarkBlue => "dark-blue" });
//! assert_eq!(Colour::NAMES, ["red", "dark-blue"]);
//! assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
//! assert_eq!("dark-blue".parse::<Colour>(), Ok(Colour::DarkBlue));
//! assert_eq!(Colour::Red.to_string(), "red");
//! let e = "green".parse::<Colour>().unwrap_err();
//! assert_eq!(e.to_string(), "unknown Colour \"green\" (expected one of: red, dark-blue)");
//! ```

/// A name that is not one of an enum's [`named_enum!`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// The enum's type name.
    pub kind: &'static str,
    /// What was given.
    pub given: String,
    /// Every accepted name.
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} {:?} (expected one of: {})", self.kind, self.given, self.expected.join(", "))
    }
}

impl std::error::Error for UnknownName {}

/// Give a field-less enum its names: `ALL` and `NAMES` (declaration order), `name()`, `Display`, and
/// `FromStr` with [`UnknownName`] as the error.
#[macro_export]
macro_rules! named_enum {
    ($t:ident { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$v),+];
            /// Every variant's name, in declaration order (what `FromStr` accepts).
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            /// This variant's name, as `Display` writes it and `FromStr` reads it.
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl ::std::str::FromStr for $t {
            type Err = $crate::names::UnknownName;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $($s => Ok(Self::$v),)+
                    _ => Err($crate::names::UnknownName {
                        kind: stringify!($t),
                        given: s.to_string(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }
    };
}
