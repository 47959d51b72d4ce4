//! What the admin sets, validated: SMTP accounts, the module's settings,
//! and the values PHP arrays bring them in (each error names its field).

pub mod account;
pub mod dkim;
pub mod fields;
pub mod settings;
