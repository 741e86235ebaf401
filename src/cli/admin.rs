//! `transcoder company ...` and `transcoder token ...`: operator commands that talk to
//! the database directly (`DATABASE_URL`, or the SQLite file under `--data-dir`), as an
//! operator would from `kubectl exec`. Secrets go to stdout alone, so scripts can
//! capture them; everything else goes to stderr.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use transcoder::admin::{Admin, CompanyChanges, NewCompany};
use transcoder::config::Settings;
use transcoder::domain::{Company, RateLimit};

#[derive(Args)]
pub struct Database {
    /// TOML config file (as for `serve`).
    #[arg(long, env = "TRANSCODER_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The data dir whose SQLite database to use (ignored when DATABASE_URL is set).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

impl Database {
    async fn open(&self) -> anyhow::Result<Admin> {
        let mut settings = Settings::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            settings.data_dir = dir.clone();
        }
        if settings.database.url.as_deref().is_none_or(str::is_empty) {
            std::fs::create_dir_all(&settings.data_dir)?;
        }
        Admin::open(&settings.database_url()).await
    }
}

#[derive(Args)]
pub struct CompanyArgs {
    #[command(flatten)]
    db: Database,
    #[command(subcommand)]
    command: CompanyCommand,
}

#[derive(Subcommand)]
enum CompanyCommand {
    /// Create a company; prints its application id (shown only now).
    Create {
        /// The company_id on the wire: [a-z0-9][a-z0-9-]{0,62}.
        slug: String,
        #[arg(long)]
        name: Option<String>,
        /// Allow orders with a priority above 5.
        #[arg(long)]
        priority_transcoding: bool,
        #[command(flatten)]
        rate: RateArgs,
    },
    /// List the companies.
    List,
    /// Change a company's settings.
    Update {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        priority_transcoding: Option<bool>,
        #[command(flatten)]
        rate: RateArgs,
        /// Go back to the server's default rate limit.
        #[arg(long, conflicts_with = "rate_limit")]
        default_rate_limit: bool,
        /// Stop every token of the company from working (until --enable).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Make a new application id (printed); the old one stops working.
    RotateApplicationId { slug: String },
    /// Delete a company: its tokens stop working; the slug is never reused.
    Delete { slug: String },
}

#[derive(Args)]
struct RateArgs {
    /// Submissions per second (0: no limit).
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Submissions allowed at once (default: one second's worth, at least 1).
    #[arg(long, requires = "rate_limit")]
    rate_burst: Option<u32>,
}

impl RateArgs {
    fn limit(&self) -> Option<RateLimit> {
        self.rate_limit.map(|per_second| RateLimit {
            per_second,
            burst: self
                .rate_burst
                .unwrap_or_else(|| per_second.ceil().clamp(1.0, 1e6) as u32),
        })
    }
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    db: Database,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a company; prints it (shown only now).
    Create {
        company: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List a company's tokens (never the tokens themselves).
    List { company: String },
    /// Revoke a token by id; every replica refuses it within seconds.
    Revoke { id: String },
}

fn describe(c: &Company) -> String {
    let rate = match c.rate_limit {
        None => "default".to_owned(),
        Some(r) if r.is_unlimited() => "none".to_owned(),
        Some(r) => format!("{}/s burst {}", r.per_second, r.burst),
    };
    format!(
        "{:<24} {:<28} priority-transcoding={:<5} rate-limit={:<18} {}{}",
        c.id,
        c.name,
        c.entitlements.priority_transcoding,
        rate,
        c.created_at.format("%Y-%m-%d %H:%M:%S"),
        if c.disabled { "  DISABLED" } else { "" }
    )
}

pub async fn company(args: CompanyArgs) -> anyhow::Result<()> {
    let admin = args.db.open().await?;
    match args.command {
        CompanyCommand::Create {
            slug,
            name,
            priority_transcoding,
            rate,
        } => {
            let (company, application_id) = admin
                .create_company(NewCompany {
                    slug,
                    name,
                    priority_transcoding,
                    rate_limit: rate.limit(),
                })
                .await?;
            eprintln!("created company {}", describe(&company));
            eprintln!("application id (shown only now; store it safely):");
            println!("{application_id}");
        }
        CompanyCommand::List => {
            for company in admin.companies().await? {
                println!("{}", describe(&company));
            }
        }
        CompanyCommand::Update {
            slug,
            name,
            priority_transcoding,
            rate,
            default_rate_limit,
            disable,
            enable,
        } => {
            let changes = CompanyChanges {
                name,
                priority_transcoding,
                rate_limit: if default_rate_limit {
                    Some(None)
                } else {
                    rate.limit().map(Some)
                },
                disabled: (disable || enable).then_some(disable),
            };
            let company = admin.update_company(&slug, changes).await?;
            eprintln!("updated company {}", describe(&company));
        }
        CompanyCommand::RotateApplicationId { slug } => {
            let application_id = admin.rotate_application_id(&slug).await?;
            eprintln!("new application id for {slug} (the old one no longer works):");
            println!("{application_id}");
        }
        CompanyCommand::Delete { slug } => {
            admin.delete_company(&slug).await?;
            eprintln!("deleted company {slug}; its tokens no longer work");
        }
    }
    Ok(())
}

pub async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let admin = args.db.open().await?;
    match args.command {
        TokenCommand::Create { company, name } => {
            let (token, secret) = admin.create_token(&company, name.as_deref()).await?;
            eprintln!(
                "created token {} ({}) for {}; the token is shown only now:",
                token.id, token.name, token.company
            );
            println!("{secret}");
        }
        TokenCommand::List { company } => {
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_owned(), |t| {
                    t.format("%Y-%m-%d %H:%M:%S").to_string()
                })
            };
            println!(
                "{:<36} {:<20} {:<19} {:<19} revoked",
                "id", "name", "created", "last used"
            );
            for t in admin.tokens(&company).await? {
                println!(
                    "{:<36} {:<20} {:<19} {:<19} {}",
                    t.id,
                    t.name,
                    time(Some(t.created_at)),
                    time(t.last_used_at),
                    time(t.revoked_at)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            admin.revoke_token(&id).await?;
            eprintln!("revoked token {id}; every replica refuses it within seconds");
        }
    }
    Ok(())
}
