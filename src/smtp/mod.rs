//! Talking SMTP to an account's server.

pub mod endpoint;
pub mod pool;
pub mod session;
pub mod stream;
pub mod transcript;

#[cfg(test)]
mod conversation_tests;
#[cfg(test)]
pub mod scripted;

pub use endpoint::{AuthKind, Endpoint, Security};
pub use pool::Pool;
pub use session::{conversation_time, Concern, Sent, Session, SmtpError, Verdict, WindowLetter, FATE_UNKNOWN};
pub use transcript::Transcript;
