//! `smtp34_dkim_save()`'s array (SPEC §9), validated, and the save itself:
//! a key imported or generated, sealed, and written with its public half.

use super::fields::{FieldError, Fields, Value};
use crate::dkim::{self, Key};
use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::store::dkim::NewKey;

const KNOWN: &[&str] = &["id", "domain", "selector", "private_key", "generate", "active"];

#[derive(Debug, Default)]
pub struct DkimDraft {
    pub id: Option<i64>,
    pub domain: Option<String>,
    pub selector: Option<String>,
    pub private_key: Option<String>,
    pub generate: Option<String>,
    pub active: Option<bool>,
}

impl DkimDraft {
    pub fn from_fields(fields: &Fields) -> std::result::Result<DkimDraft, FieldError> {
        if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(FieldError::new(unknown, format!("is not a DKIM key field ({})", KNOWN.join(", "))));
        }
        let text = |name: &str| fields.get(name).filter(|v| !matches!(v, Value::Null)).map(|v| v.to_text(name)).transpose();
        let domain = match text("domain")? {
            Some(domain) => {
                let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
                super::fields::check_host_name(&domain).map_err(|m| FieldError::new("domain", m))?;
                if !domain.contains('.') || domain.parse::<std::net::IpAddr>().is_ok() {
                    return Err(FieldError::new("domain", "must be a domain name such as site.ru"));
                }
                Some(idna::domain_to_ascii(&domain).map_err(|_| FieldError::new("domain", "must be a domain name"))?)
            }
            None => None,
        };
        let selector = text("selector")?.map(|s| s.trim().to_ascii_lowercase());
        if let Some(selector) = &selector {
            dkim::check_selector(selector)?;
        }
        let private_key = text("private_key")?.filter(|k| !k.trim().is_empty());
        let generate = text("generate")?.filter(|g| !g.is_empty());
        if private_key.is_some() && generate.is_some() {
            return Err(FieldError::new("generate", "give either private_key or generate, not both"));
        }
        Ok(DkimDraft {
            id: fields.get("id").filter(|v| !matches!(v, Value::Null | Value::Int(0))).map(|v| v.to_int("id")).transpose()?,
            domain,
            selector,
            private_key,
            generate,
            active: fields.get("active").map(|v| v.to_bool("active")).transpose()?,
        })
    }
}

/// Inserts (no id) or updates a key; its id.
pub fn save(rt: &mut Runtime, draft: DkimDraft, timeout: std::time::Duration) -> Result<i64> {
    let existing = match draft.id {
        Some(id) => Some(rt.store.dkim_key(id)?.ok_or_else(|| FieldError::new("id", "no DKIM key has this id"))?),
        None => None,
    };
    let domain = match (&draft.domain, &existing) {
        (Some(domain), _) => domain.clone(),
        (None, Some(key)) => key.domain.clone(),
        (None, None) => return Err(FieldError::new("domain", "is required").into()),
    };
    let selector = match (&draft.selector, &existing) {
        (Some(selector), _) => selector.clone(),
        (None, Some(key)) => key.selector.clone(),
        (None, None) => return Err(FieldError::new("selector", "is required").into()),
    };
    let pem = match (draft.private_key, draft.generate) {
        (Some(pem), _) => Some(pem),
        (None, Some(kind)) => Some(dkim::generate(&kind, timeout)?),
        (None, None) if existing.is_none() => {
            return Err(
                FieldError::new("private_key", format!("is required (or 'generate' => one of {})", dkim::GENERATED.join(", "))).into()
            )
        }
        (None, None) => None,
    };
    let new_key = match pem {
        Some(pem) => {
            let key = Key::from_pem(&pem)?;
            Some(NewKey { algorithm: key.algorithm, public_key: key.public_key.clone(), sealed: rt.cipher()?.encrypt(&key.pem) })
        }
        None => None,
    };
    let id = existing.as_ref().map_or(0, |k| k.id);
    if rt.store.dkim_taken(&domain, &selector, id)? {
        return Err(FieldError::new("selector", format!("{domain} already has a key with the selector {selector}")).into());
    }
    let active = draft.active.or(existing.as_ref().map(|k| k.active)).unwrap_or(true);
    match existing {
        Some(_) => {
            if !rt.store.update_dkim(id, &domain, &selector, active, new_key.as_ref())? {
                return Err(Error::Invalid(FieldError::new("id", "the key no longer exists")));
            }
            Ok(id)
        }
        None => {
            let new_key = new_key.expect("a new key always has one: required above");
            Ok(rt.store.insert_dkim(&domain, &selector, active, &new_key, crate::clock::now_unix())?)
        }
    }
}
