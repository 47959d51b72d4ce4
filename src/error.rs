//! Errors of the PHP API, before they become PHP exceptions.

use crate::config::fields::FieldError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad input: becomes `\ValueError` naming the field.
    Invalid(FieldError),
    /// The account check failed: becomes `Smtp34\Exception` with the server's reply.
    CheckFailed(String),
    /// Database, key file or configuration trouble: `Smtp34\Exception`.
    Storage(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(e) => write!(f, "{e}"),
            Error::CheckFailed(m) | Error::Storage(m) => f.write_str(m),
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(format!("database error: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
