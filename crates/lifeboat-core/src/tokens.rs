//! Bearer tokens for the checkpoint trigger API: one per person or
//! pipeline, each allowed one thing (a checkpoint), optionally of one
//! database. A token is shown once when made; the workstation keeps only
//! its SHA-256, so a copied catalog gives no one the right to trigger.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What every token starts with: recognisable in a secret scanner or a log.
pub const TOKEN_PREFIX: &str = "lbt_";

/// What a token allows. Only checkpoints: a token never restores, deletes
/// or reads data, so a leaked one can at worst take extra backups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Checkpoint,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Checkpoint => "checkpoint",
        }
    }

    pub fn parse(text: &str) -> Result<TokenScope> {
        match text.trim().to_ascii_lowercase().as_str() {
            "checkpoint" => Ok(TokenScope::Checkpoint),
            other => Err(Error::InvalidInput(format!(
                "`{other}` is not something a token can be allowed: the only scope is `checkpoint` \
                 (tokens never restore or delete)"
            ))),
        }
    }
}

/// A token as the workstation keeps it: never the token itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiToken {
    /// Who or what holds it ("deploy-pipeline", "alice"); recorded with
    /// every checkpoint it triggers.
    pub name: String,
    pub scope: TokenScope,
    /// The one saved connection it may checkpoint; any when None.
    pub database: Option<String>,
    /// The token's first characters, to tell tokens apart in a list.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    /// The SHA-256 of the token, hex.
    #[serde(skip)]
    pub hash: String,
}

impl ApiToken {
    /// Whether this token may take a checkpoint of `database`.
    pub fn allows_checkpoint_of(&self, database: &str) -> bool {
        self.scope == TokenScope::Checkpoint && self.database.as_deref().is_none_or(|allowed| allowed == database)
    }
}

/// A new random token (256 bits) and what to keep of it.
pub struct NewToken {
    pub token: SecretString,
    pub hash: String,
    pub hint: String,
}

pub fn generate() -> NewToken {
    let secret = crate::crypto::random_bytes::<32>();
    let token = format!("{TOKEN_PREFIX}{}", data_encoding::BASE64URL_NOPAD.encode(&secret));
    NewToken {
        hash: hash(&token),
        hint: format!("{}…", &token[..TOKEN_PREFIX.len() + 6]),
        token: token.into(),
    }
}

/// The SHA-256 of a presented token, as stored. A fast hash is enough: a
/// token has 256 random bits, so there is nothing to guess from the hash.
pub fn hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// Hashes a presented token, refusing what cannot be one before any lookup.
pub fn hash_presented(token: &SecretString) -> Option<String> {
    let token = token.expose_secret();
    (token.starts_with(TOKEN_PREFIX) && token.len() <= 128).then(|| hash(token))
}

/// Token names are recorded in snapshots and events: keep them plain.
pub fn validate_name(name: &str) -> Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-@+".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(plain) {
        return Err(Error::InvalidInput(format!(
            "`{name}` is not a usable token name: use 1 to 64 letters, digits and . _ - @ + \
             (it names who triggered each checkpoint)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_hashes_to_what_is_kept_and_shows_only_a_hint() {
        let made = generate();
        let token = made.token.expose_secret();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 43, "{token}");
        assert_eq!(hash_presented(&made.token).as_deref(), Some(made.hash.as_str()));
        assert!(token.starts_with(made.hint.trim_end_matches('…')));
        assert_ne!(generate().hash, made.hash);
    }

    #[test]
    fn what_cannot_be_a_token_is_refused_before_lookup() {
        assert_eq!(hash_presented(&"Basic abc".to_string().into()), None);
        assert_eq!(hash_presented(&format!("{TOKEN_PREFIX}{}", "a".repeat(200)).into()), None);
    }

    #[test]
    fn a_token_for_one_database_allows_only_that_one() {
        let token = |database: Option<&str>| ApiToken {
            name: "deploy".into(),
            scope: TokenScope::Checkpoint,
            database: database.map(Into::into),
            hint: String::new(),
            created_at: Utc::now(),
            last_used: None,
            hash: String::new(),
        };
        assert!(token(Some("shop")).allows_checkpoint_of("shop"));
        assert!(!token(Some("shop")).allows_checkpoint_of("billing"));
        assert!(token(None).allows_checkpoint_of("billing"));
    }

    #[test]
    fn names_and_scopes_are_checked() {
        validate_name("deploy-pipeline@ci").unwrap();
        assert!(validate_name("deploy pipeline").is_err());
        assert!(validate_name("").is_err());
        assert_eq!(TokenScope::parse("Checkpoint").unwrap(), TokenScope::Checkpoint);
        let refused = TokenScope::parse("restore").unwrap_err().to_string();
        assert!(refused.contains("only scope is `checkpoint`"), "{refused}");
    }
}
