//! `auditfed replay --config auditfed.toml --sink NAME --from TIME [--to TIME]
//! [--source topic|archive] [--archive [NAME=]DIR|URL]...`

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

use auditfed_platform::clock::now_ms;
use auditfed_query::replay::ArchivedEvents;
use auditfed_sinks::SinkError;
use auditfed_sinks::driver::{EventsFeed, Feed, OutgoingEvent, RangeFeed};

use super::service::{connect, load_config, stop_flag};

/// Arguments of `auditfed replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (see examples/auditfed.toml).
    #[arg(long)]
    config: PathBuf,
    /// The sink to forward to again (`[sinks.NAME]`); its consumer group's
    /// offsets are not touched.
    #[arg(long)]
    sink: String,
    /// Events whose own time is at or after this: RFC 3339
    /// (`2026-11-27T08:00:00Z`, `2026-11-27T09:00:00+01:00`) or a date
    /// (`2026-11-27`, its midnight UTC).
    #[arg(long, value_parser = parse_time)]
    from: i64,
    /// ... and before this (same forms; default: now).
    #[arg(long, value_parser = parse_time)]
    to: Option<i64>,
    /// Where the events are read: the events topic (as far back as its
    /// retention goes) or the Parquet archive.
    #[arg(long, value_enum, default_value_t = Source::Topic)]
    source: Source,
    /// With `--source archive`: the archive(s), `DIR`, `URL` or
    /// `NAME=DIR|URL` (default: `sql.archives`, else `archive.path`).
    #[arg(long)]
    archive: Vec<String>,
}

/// Where a replay reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Source {
    /// `<prefix>.events`.
    Topic,
    /// The Parquet archive.
    Archive,
}

/// Re-forwards a time range to one sink: receipts with `"mode":"replay"`.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let config = load_config(Some(&args.config))?;
    let mut sinks = super::sinks::select(&args.config, &config, std::slice::from_ref(&args.sink))?;
    let sink = sinks.remove(0);
    let to = args.to.unwrap_or_else(now_ms);
    if to <= args.from {
        return Err(format!(
            "--to ({}) is not after --from ({}): nothing to replay",
            auditfed_schemas::seal::format_time(to),
            auditfed_schemas::seal::format_time(args.from)
        )
        .into());
    }
    if args.source == Source::Topic && !args.archive.is_empty() {
        return Err("--archive needs --source archive".into());
    }
    let kafka = connect(&config)?;
    let feed: Box<dyn Feed> = match args.source {
        Source::Topic => Box::new(RangeFeed::open(&kafka, args.from, Some(to))?),
        Source::Archive => {
            let archives = super::sql::archives(&args.archive, &config);
            let events = ArchivedEvents::open(&archives, args.from, to)?;
            Box::new(EventsFeed::new(events.map(|row| {
                let row = row.map_err(|e| SinkError::Feed {
                    what: "reading the archive".into(),
                    source: Box::new(e),
                })?;
                OutgoingEvent::sealed(
                    row.event_json.into_bytes(),
                    row.chain_id,
                    row.seq,
                    row.source,
                    -1,
                    -1,
                )
                .map_err(|e| SinkError::Feed {
                    what: "archived event".into(),
                    source: e.into(),
                })
            })))
        }
    };
    let stop = stop_flag()?;
    let packs = auditfed_sinks::service::config_policies(&config)?;
    let line = auditfed_sinks::service::drive(&kafka, sink, &packs, feed, &stop, None)?;
    eprintln!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// RFC 3339, or a date (its midnight UTC), as epoch milliseconds.
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    Err(format!(
        "{text:?}: expected RFC 3339 (2026-11-27T08:00:00Z) or a date (2026-11-27)"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_and_dates() {
        assert_eq!(parse_time("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Ok(1_500));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Ok(0));
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
