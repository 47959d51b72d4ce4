//! Where a session connects and how it proves who it is.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    None,
    /// Implicit TLS from the first byte (usually port 465).
    Ssl,
    StartTls,
}

impl Security {
    pub const NAMES: [&'static str; 3] = ["none", "ssl", "starttls"];

    pub fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::Ssl => "ssl",
            Security::StartTls => "starttls",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Security::None),
            "ssl" => Some(Security::Ssl),
            "starttls" => Some(Security::StartTls),
            _ => None,
        }
    }

    /// The port this security is usually served on.
    pub fn default_port(self) -> i64 {
        match self {
            Security::None => 25,
            Security::Ssl => 465,
            Security::StartTls => 587,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    None,
    Login,
    /// OAuth 2.0 (SPEC §9): the secret the session gets is an access token.
    Xoauth2,
}

impl AuthKind {
    pub const NAMES: [&'static str; 3] = ["none", "login", "xoauth2"];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Login => "login",
            AuthKind::Xoauth2 => "xoauth2",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(AuthKind::None),
            "login" => Some(AuthKind::Login),
            "xoauth2" => Some(AuthKind::Xoauth2),
            _ => None,
        }
    }
}

/// Where and how to connect: everything a session needs but the password
/// (an account's, converted; the session knows nothing of accounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub verify_tls: bool,
    pub auth: AuthKind,
    pub login: String,
}

impl Endpoint {
    /// Whether a password saved for `self` may be sent to `other`: the same
    /// host, port, security and certificate checking.
    pub fn same_destination(&self, other: &Endpoint) -> bool {
        self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
            && self.security == other.security
            && self.verify_tls == other.verify_tls
    }
}
