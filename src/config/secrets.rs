//! Secrets in the settings: given as `<VAR>_FILE` (a file holding the value, as
//! Kubernetes and Docker mount secrets), and kept out of `Debug` output.
//!
//! The secret settings keep their plain `Option<String>` types (many call sites read
//! them); what guards them is a hand-written `Debug` on the three structs that hold them,
//! which prints `[redacted]` for keys and a URL with its password and query hidden.

use super::{DatabaseSettings, S3Settings, Settings, SmtpSettings};
use std::fmt;
use std::path::PathBuf;

/// A secret setting that may also come from a file: `<var>_FILE` names the file.
struct SecretVar {
    var: &'static str,
    apply: fn(&mut Settings, String),
}

/// In order of increasing precedence: `DATABASE_URL` (and its file) beats
/// `TRANSCODER__DATABASE__URL`, as the plain variables do.
const SECRET_VARS: &[SecretVar] = &[
    SecretVar {
        var: "TRANSCODER__DATABASE__URL",
        apply: |s, v| s.database.url = Some(v),
    },
    SecretVar {
        var: "DATABASE_URL",
        apply: |s, v| s.database.url = Some(v),
    },
    SecretVar {
        var: "TRANSCODER__S3__ACCESS_KEY_ID",
        apply: |s, v| s.s3.access_key_id = Some(v),
    },
    SecretVar {
        var: "TRANSCODER__S3__SECRET_ACCESS_KEY",
        apply: |s, v| s.s3.secret_access_key = Some(v),
    },
    SecretVar {
        var: "TRANSCODER__SMTP__URL",
        apply: |s, v| s.smtp.url = Some(v),
    },
    SecretVar {
        var: "TRANSCODER__SMTP__PASSWORD",
        apply: |s, v| s.smtp.password = Some(v),
    },
];

/// The environment variables that may name a secret's file, for documentation and
/// error messages.
pub fn secret_file_variables() -> impl Iterator<Item = String> {
    SECRET_VARS.iter().map(|s| format!("{}_FILE", s.var))
}

/// A secret that could not be read, or was given twice.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{var} and {file_var} are both set: set only one of them")]
    BothSet { var: &'static str, file_var: String },
    #[error("{file_var}: cannot read {}: {source}", path.display())]
    Unreadable {
        file_var: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file_var}: {} is empty", path.display())]
    Empty { file_var: String, path: PathBuf },
    #[error("smtp.password is set, but smtp.url is not")]
    SmtpPasswordWithoutUrl,
    #[error("smtp.password needs a user name in smtp.url (smtp://user@host:port)")]
    SmtpPasswordWithoutUser,
    #[error("smtp.url is not a valid URL: {0}")]
    SmtpUrl(#[source] url::ParseError),
}

impl SecretError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BothSet { .. } => "SECRET_GIVEN_TWICE",
            Self::Unreadable { .. } => "SECRET_FILE_UNREADABLE",
            Self::Empty { .. } => "SECRET_FILE_EMPTY",
            Self::SmtpPasswordWithoutUrl | Self::SmtpPasswordWithoutUser | Self::SmtpUrl(_) => {
                "SMTP_PASSWORD_UNUSABLE"
            }
        }
    }
}

/// Applies every `<VAR>_FILE` that `lookup` (the environment) sets: the file's content,
/// trimmed, becomes the setting. `<VAR>` and `<VAR>_FILE` together are an error, as is
/// a file that cannot be read or holds nothing. Then folds `smtp.password` into
/// `smtp.url`.
pub(super) fn apply_secret_files(
    settings: &mut Settings,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), SecretError> {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    for secret in SECRET_VARS {
        let file_var = format!("{}_FILE", secret.var);
        let Some(path) = set(&file_var).map(PathBuf::from) else {
            continue;
        };
        if set(secret.var).is_some() {
            return Err(SecretError::BothSet {
                var: secret.var,
                file_var,
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| SecretError::Unreadable {
            file_var: file_var.clone(),
            path: path.clone(),
            source,
        })?;
        let value = text.trim();
        if value.is_empty() {
            return Err(SecretError::Empty { file_var, path });
        }
        (secret.apply)(settings, value.to_owned());
    }
    fold_smtp_password(&mut settings.smtp)
}

/// `smtp.password`, when set, becomes the password of `smtp.url` (so the URL can live in
/// the config map and the password in a secret).
fn fold_smtp_password(smtp: &mut SmtpSettings) -> Result<(), SecretError> {
    let Some(password) = smtp.password.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let Some(raw) = smtp.url.as_deref().filter(|u| !u.is_empty()) else {
        return Err(SecretError::SmtpPasswordWithoutUrl);
    };
    let mut url = url::Url::parse(raw).map_err(SecretError::SmtpUrl)?;
    if url.username().is_empty() {
        return Err(SecretError::SmtpPasswordWithoutUser);
    }
    // Percent-encoded here; lettre decodes it.
    url.set_password(Some(password))
        .map_err(|()| SecretError::SmtpPasswordWithoutUser)?;
    smtp.url = Some(url.to_string());
    Ok(())
}

/// Prints `[redacted]` in place of a secret.
struct Redacted<'a>(&'a Option<String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some([redacted])"),
            None => f.write_str("None"),
        }
    }
}

/// Prints a URL with its password and query hidden: the scheme, user, host and path
/// stay readable for whoever debugs a connection.
struct RedactedUrl<'a>(&'a Option<String>);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(raw) = self.0 else {
            return f.write_str("None");
        };
        // A string that is not a URL might be anything: show none of it.
        let Ok(url) = url::Url::parse(raw) else {
            return f.write_str("Some([redacted])");
        };
        use url::Position;
        let mut shown = url[..Position::AfterUsername].to_owned();
        if url.password().is_some() {
            shown.push_str(":[redacted]");
        }
        if !url.username().is_empty() || url.password().is_some() {
            shown.push('@');
        }
        shown.push_str(&url[Position::BeforeHost..Position::AfterPath]);
        if url.query().is_some() {
            shown.push_str("?[redacted]");
        }
        write!(f, "Some({shown:?})")
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &RedactedUrl(&self.url))
            .field("max_connections", &self.max_connections)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &Redacted(&self.access_key_id))
            .field("secret_access_key", &Redacted(&self.secret_access_key))
            .field("part_size_bytes", &self.part_size_bytes)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("max_attempts", &self.max_attempts)
            .field("connect_timeout_seconds", &self.connect_timeout_seconds)
            .field("read_timeout_seconds", &self.read_timeout_seconds)
            .field("operation_timeout_seconds", &self.operation_timeout_seconds)
            .finish()
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &RedactedUrl(&self.url))
            .field("password", &Redacted(&self.password))
            .field("from", &self.from)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn secret_file(dir: &std::path::Path, name: &str, content: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    #[test]
    fn file_variables_set_the_secrets_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            (
                "DATABASE_URL_FILE",
                secret_file(dir.path(), "db", "postgres://app:pw@db:5432/app\n"),
            ),
            (
                "TRANSCODER__S3__ACCESS_KEY_ID_FILE",
                secret_file(dir.path(), "id", "AKIDEXAMPLE\n"),
            ),
            (
                "TRANSCODER__S3__SECRET_ACCESS_KEY_FILE",
                secret_file(dir.path(), "key", "  s3cr3t/key  \n"),
            ),
            (
                "TRANSCODER__SMTP__PASSWORD_FILE",
                secret_file(dir.path(), "smtp", "p@ss word\n"),
            ),
        ];
        let mut settings = Settings::default();
        settings.smtp.url = Some("smtps://mailer@mail.example.com:465".into());
        apply_secret_files(&mut settings, lookup(&vars)).unwrap();
        assert_eq!(
            settings.database.url.as_deref(),
            Some("postgres://app:pw@db:5432/app")
        );
        assert_eq!(settings.s3.access_key_id.as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(settings.s3.secret_access_key.as_deref(), Some("s3cr3t/key"));
        let smtp = url::Url::parse(settings.smtp.url.as_deref().unwrap()).unwrap();
        assert_eq!(smtp.username(), "mailer");
        assert_eq!(smtp.password(), Some("p%40ss%20word"), "percent-encoded");
        assert_eq!(smtp.host_str(), Some("mail.example.com"));
    }

    #[test]
    fn a_variable_and_its_file_together_are_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            ("DATABASE_URL", "postgres://a@b/c".to_owned()),
            (
                "DATABASE_URL_FILE",
                secret_file(dir.path(), "db", "postgres://x@y/z"),
            ),
        ];
        let error = apply_secret_files(&mut Settings::default(), lookup(&vars)).unwrap_err();
        assert_eq!(error.code(), "SECRET_GIVEN_TWICE");
        let message = error.to_string();
        assert!(
            message.contains("DATABASE_URL and DATABASE_URL_FILE"),
            "{message}"
        );
    }

    #[test]
    fn an_unreadable_or_empty_file_names_the_variable_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope").display().to_string();
        let vars = [("TRANSCODER__S3__SECRET_ACCESS_KEY_FILE", missing.clone())];
        let error = apply_secret_files(&mut Settings::default(), lookup(&vars)).unwrap_err();
        assert_eq!(error.code(), "SECRET_FILE_UNREADABLE");
        let message = error.to_string();
        assert!(
            message.contains("TRANSCODER__S3__SECRET_ACCESS_KEY_FILE")
                && message.contains(&missing),
            "{message}"
        );

        let empty = secret_file(dir.path(), "empty", " \n");
        let vars = [("TRANSCODER__SMTP__URL_FILE", empty.clone())];
        let error = apply_secret_files(&mut Settings::default(), lookup(&vars)).unwrap_err();
        assert_eq!(error.code(), "SECRET_FILE_EMPTY");
        assert!(error.to_string().contains(&empty), "{error}");
    }

    #[test]
    fn an_smtp_password_needs_a_url_with_a_user() {
        let mut settings = Settings::default();
        settings.smtp.password = Some("pw".into());
        let error = apply_secret_files(&mut settings, |_| None).unwrap_err();
        assert!(matches!(error, SecretError::SmtpPasswordWithoutUrl));
        settings.smtp.url = Some("smtp://mail.example.com:25".into());
        let error = apply_secret_files(&mut settings, |_| None).unwrap_err();
        assert!(matches!(error, SecretError::SmtpPasswordWithoutUser));
    }

    #[test]
    fn debug_output_never_prints_a_secret() {
        let mut settings = Settings::default();
        settings.database.url =
            Some("postgres://app:hunter2@db.internal:5432/app?sslpassword=x9".into());
        settings.s3.access_key_id = Some("AKIDSECRETID".into());
        settings.s3.secret_access_key = Some("wJalrXUtnFEMIK7MDENG".into());
        settings.smtp.url = Some("smtps://mailer:smtp-pass-1@mail.example.com:465".into());
        settings.smtp.password = Some("smtp-pass-1".into());
        for shown in [format!("{settings:?}"), format!("{settings:#?}")] {
            for secret in [
                "hunter2",
                "x9",
                "AKIDSECRETID",
                "wJalrXUtnFEMIK7MDENG",
                "smtp-pass-1",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            // What helps debugging stays.
            assert!(
                shown.contains("postgres://app:[redacted]@db.internal:5432/app?[redacted]"),
                "{shown}"
            );
            assert!(shown.contains("mail.example.com"), "{shown}");
            assert!(
                shown.contains("secret_access_key: Some([redacted])"),
                "{shown}"
            );
        }
        settings.database.url = Some("sqlite:///var/lib/transcoder/transcoder.db?mode=rwc".into());
        assert!(
            format!("{:?}", settings.database)
                .contains("sqlite:///var/lib/transcoder/transcoder.db?[redacted]"),
            "{:?}",
            settings.database
        );
        settings.database.url = Some("not a url hunter2".into());
        assert!(!format!("{:?}", settings.database).contains("hunter2"));
    }
}
