//! Talking SMTP to an account's server.

pub mod session;
pub mod stream;
pub mod transcript;

pub use session::{conversation_time, Concern, Delivered, Session, SmtpError};
pub use transcript::Transcript;
