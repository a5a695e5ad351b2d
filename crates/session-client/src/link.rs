//! `session:` links: an Account ID and, optionally, the display name its owner chose, as one
//! line of text to paste, click or put in a QR code.
//!
//! The form is `session:<66 hex Account ID>` with an optional `?name=<percent-encoded UTF-8>`.
//! Parsing accepts a link or a bare Account ID (what older QR codes hold), so one reader serves
//! every source; a name read from a link is untrusted text (shown through [`crate::inert`]).

use std::fmt;

use session_crypto::AccountId;

use crate::parse_account_id;

/// The scheme of contact links.
pub const SCHEME: &str = "session:";
/// The longest display name a link carries, in characters (as a display name may be).
const MAX_NAME_CHARS: usize = 64;

/// What a link (or a bare Account ID) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactLink {
    /// The Account ID.
    pub account_id: AccountId,
    /// The display name its owner gave, if the link carries one (untrusted text).
    pub display_name: Option<String>,
}

/// Why a text is not a contact link or an Account ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The Account ID part is not one (the parser's precise reason).
    #[error("{0}")]
    AccountId(String),
    /// The part after `?` is not `name=...`.
    #[error("the link has an unknown part {0:?} (a session: link holds an Account ID and optionally name=...)")]
    UnknownPart(String),
    /// The name is not valid percent-encoded UTF-8, or is too long or holds control characters.
    #[error("the name in the link is not valid: {0}")]
    BadName(String),
}

impl ContactLink {
    /// A link to `account_id`, with `display_name` if given.
    pub fn new(account_id: AccountId, display_name: Option<&str>) -> Self {
        Self {
            account_id,
            display_name: display_name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
        }
    }

    /// Parses a `session:` link or a bare Account ID (surrounding whitespace ignored; the
    /// scheme in any case).
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        let text = text.trim();
        let body = match text.get(..SCHEME.len()) {
            Some(head) if head.eq_ignore_ascii_case(SCHEME) => &text[SCHEME.len()..],
            _ => {
                let account_id =
                    parse_account_id(text).map_err(|e| LinkError::AccountId(e.to_string()))?;
                return Ok(Self {
                    account_id,
                    display_name: None,
                });
            }
        };
        let body = body.strip_prefix("//").unwrap_or(body);
        let (id, query) = match body.split_once('?') {
            Some((id, query)) => (id, Some(query)),
            None => (body, None),
        };
        let account_id = parse_account_id(id).map_err(|e| LinkError::AccountId(e.to_string()))?;
        let mut display_name = None;
        for part in query.into_iter().flat_map(|q| q.split('&')) {
            if part.is_empty() {
                continue;
            }
            match part.split_once('=') {
                Some(("name", value)) => display_name = Some(checked_link_name(value)?),
                _ => return Err(LinkError::UnknownPart(part.chars().take(40).collect())),
            }
        }
        Ok(Self {
            account_id,
            display_name: display_name.filter(|n| !n.is_empty()),
        })
    }
}

impl fmt::Display for ContactLink {
    /// `session:05…` with `?name=…` (percent-encoded) when there is a name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.account_id)?;
        if let Some(name) = &self.display_name {
            write!(f, "?name={}", percent_encode(name))?;
        }
        Ok(())
    }
}

/// Percent-encodes every byte but the unreserved ones of RFC 3986.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded name (`+` is a space, as forms write it) and checks it.
fn checked_link_name(value: &str) -> Result<String, LinkError> {
    let bad = |why: &str| LinkError::BadName(why.into());
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.bytes();
    while let Some(byte) = rest.next() {
        match byte {
            b'%' => {
                let hex = [rest.next(), rest.next()];
                let [Some(h), Some(l)] = hex else {
                    return Err(bad("a % is not followed by two hex digits"));
                };
                let digit = |c: u8| char::from(c).to_digit(16);
                match (digit(h), digit(l)) {
                    (Some(h), Some(l)) => bytes.push(u8::try_from(h * 16 + l).unwrap_or(0)),
                    _ => return Err(bad("a % is not followed by two hex digits")),
                }
            }
            b'+' => bytes.push(b' '),
            other => bytes.push(other),
        }
    }
    let name = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8"))?;
    let name = name.trim();
    if name.chars().any(char::is_control) {
        return Err(bad("it holds control characters"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(&format!(
            "it is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use session_crypto::{Ed25519Seed, OsRng};

    fn account() -> AccountId {
        Ed25519Seed::generate(&mut OsRng).key_pair().account_id()
    }

    #[test]
    fn links_round_trip_with_and_without_a_name() {
        let id = account();
        for name in [None, Some("Alice"), Some("Zoë & Bob?=%"), Some("名前 x")] {
            let link = ContactLink::new(id, name);
            let text = link.to_string();
            assert!(text.starts_with("session:05"), "{text}");
            assert!(!text.contains(' ') && !text.contains('&'), "{text}");
            assert_eq!(ContactLink::parse(&text).unwrap(), link, "{text}");
        }
        assert_eq!(
            ContactLink::new(id, Some("Alice B")).to_string(),
            format!("session:{id}?name=Alice%20B")
        );
    }

    #[test]
    fn a_bare_id_and_variants_parse() {
        let id = account();
        let bare = ContactLink::parse(&format!("  {id}\n")).unwrap();
        assert_eq!(bare, ContactLink::new(id, None));
        let upper = ContactLink::parse(&format!("SESSION://{id}?name=Al+B")).unwrap();
        assert_eq!(upper.display_name.as_deref(), Some("Al B"));
        assert_eq!(upper.account_id, id);
    }

    #[test]
    fn bad_links_are_refused_with_their_reason() {
        let id = account();
        let cases = [
            (format!("session:{id}?who=x"), "unknown part"),
            (format!("session:{id}?name=%zz"), "two hex digits"),
            (format!("session:{id}?name=%ff"), "not UTF-8"),
            (format!("session:{id}?name=a%1bb"), "control characters"),
            (
                format!("session:{id}?name={}", "a".repeat(65)),
                "longer than",
            ),
            ("session:05abc".to_string(), "66"),
        ];
        for (text, expected) in cases {
            let error = ContactLink::parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let missing = ContactLink::parse(&format!("session:{}", &id.to_string()[2..]));
        assert!(matches!(missing, Err(LinkError::AccountId(_))));
    }
}
