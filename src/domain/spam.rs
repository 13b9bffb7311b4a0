//! The spam filter: configured trigger terms in an article title or a comment flag it with
//! an automatic report and a lower score, in the writer's transaction.

use sqlx::PgConnection;

use crate::config::Settings;
use crate::domain::audit::{Subject, audit};
use crate::error::AppResult;

/// The first spam trigger term in `text`, if any (case-insensitive).
pub fn spam_term<'a>(settings: &'a Settings, text: &str) -> Option<&'a str> {
    let text = text.to_lowercase();
    settings
        .moderation
        .spam_terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .find(|t| text.contains(&t.to_lowercase()))
}

/// Flags an article title or comment that contains a spam trigger term: an automatic
/// report (once while open) and a lower score. Runs in the writer's transaction.
pub async fn flag_spam(
    conn: &mut PgConnection,
    settings: &Settings,
    subject: Subject,
    text: &str,
) -> AppResult<bool> {
    let Some(term) = spam_term(settings, text) else {
        return Ok(false);
    };
    let inserted = sqlx::query(
        "INSERT INTO reports (id, reporter_id, subject_type, subject_id, category, message)
         SELECT $1, NULL, $2, $3, 'spam', $4
         WHERE NOT EXISTS (SELECT 1 FROM reports WHERE subject_type = $2 AND subject_id = $3
                           AND reporter_id IS NULL AND status = 'open')",
    )
    .bind(crate::ids::ReportId::generate())
    .bind(subject.type_name())
    .bind(subject.id())
    .bind(format!("Contains the spam trigger term \"{term}\""))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(true);
    }
    let table = match subject {
        Subject::Article(_) => "articles",
        Subject::Comment(_) => "comments",
        Subject::User(_) | Subject::Tag(_) => return Ok(true),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET score = score - $2 WHERE id = $1"
    )))
    .bind(subject.id())
    .bind(settings.moderation.spam_penalty)
    .execute(&mut *conn)
    .await?;
    if let Subject::Article(id) = subject {
        crate::domain::ranking::refresh_one(&mut *conn, id).await?;
    }
    audit(
        conn,
        None,
        crate::domain::audit::AuditAction::SpamFlag,
        subject,
        &format!("contains \"{term}\""),
        serde_json::json!({ "penalty": settings.moderation.spam_penalty }),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spam_terms_match_case_insensitively() {
        let mut settings = Settings::default();
        settings.moderation.spam_terms = vec!["Cheap Pills".to_owned(), " ".to_owned()];
        assert_eq!(
            spam_term(&settings, "buy CHEAP pills now"),
            Some("Cheap Pills")
        );
        assert_eq!(spam_term(&settings, "a fine article"), None);
    }
}
