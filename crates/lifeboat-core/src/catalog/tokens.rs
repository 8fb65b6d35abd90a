//! Bearer tokens of the checkpoint trigger API (their hashes).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{parse_time, timestamp, Catalog};
use crate::error::{Error, Result};
use crate::tokens::{ApiToken, TokenScope};

impl Catalog {
    /// Records a new token; a name already in use is refused.
    pub async fn add_token(&self, token: &ApiToken) -> Result<()> {
        if self.token(&token.name).await?.is_some() {
            return Err(Error::InvalidInput(format!(
                "a token named `{}` exists: revoke it first (`lifeboat token revoke {}`) or choose another name",
                token.name, token.name
            )));
        }
        sqlx::query("INSERT INTO api_tokens (name, hash, hint, scope, database, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .bind(&token.name)
            .bind(&token.hash)
            .bind(&token.hint)
            .bind(token.scope.as_str())
            .bind(&token.database)
            .bind(timestamp(token.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Every token, by name.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(token_of_row).collect()
    }

    pub async fn token(&self, name: &str) -> Result<Option<ApiToken>> {
        self.token_where("SELECT * FROM api_tokens WHERE name = ?1", name).await
    }

    /// The token whose SHA-256 is `hash`, if it has not been revoked.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.token_where("SELECT * FROM api_tokens WHERE hash = ?1", hash).await
    }

    /// The one token `query` finds with `value` bound to ?1.
    async fn token_where(&self, query: &'static str, value: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(query)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.as_ref().map(token_of_row).transpose()
    }

    pub async fn mark_token_used(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used = ?2 WHERE name = ?1")
            .bind(name)
            .bind(timestamp(at))
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Removes a token, so it is refused from now on; whether there was one.
    pub async fn revoke_token(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() > 0)
    }
}

fn token_of_row(row: &sqlx::sqlite::SqliteRow) -> Result<ApiToken> {
    let name: String = row.get("name");
    let scope = TokenScope::parse(row.get("scope")).map_err(|e| Error::corrupt("the catalog", format!("the token {name}: {e}")))?;
    let last_used: Option<String> = row.get("last_used");
    Ok(ApiToken {
        scope,
        database: row.get("database"),
        hint: row.get("hint"),
        hash: row.get("hash"),
        created_at: parse_time(row.get("created_at"))?,
        last_used: last_used.as_deref().map(parse_time).transpose()?,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens;

    #[tokio::test]
    async fn tokens_are_found_by_hash_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.sqlite")).await.unwrap();
        let made = tokens::generate();
        let token = ApiToken {
            name: "deploy".into(),
            scope: TokenScope::Checkpoint,
            database: Some("shop".into()),
            hint: made.hint.clone(),
            created_at: Utc::now(),
            last_used: None,
            hash: made.hash.clone(),
        };
        catalog.add_token(&token).await.unwrap();
        let again = catalog.add_token(&token).await.unwrap_err().to_string();
        assert!(again.contains("revoke it first"), "{again}");
        let found = catalog.token_by_hash(&made.hash).await.unwrap().unwrap();
        assert_eq!(found.database.as_deref(), Some("shop"));
        let used = Utc::now();
        catalog.mark_token_used("deploy", used).await.unwrap();
        assert_eq!(
            catalog.tokens().await.unwrap()[0].last_used.map(|t| t.timestamp()),
            Some(used.timestamp())
        );
        assert!(catalog.revoke_token("deploy").await.unwrap());
        assert!(!catalog.revoke_token("deploy").await.unwrap());
        assert_eq!(catalog.token_by_hash(&made.hash).await.unwrap(), None);
    }
}
