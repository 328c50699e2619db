//! Scheduled reports: `[reports.<name>]` and `auditfed run reports`.
//!
//! ```toml
//! [reports.pci-daily]
//! pack = "pci-dss-4.0"              # built-in, file or directory
//! schedule = "0 6 * * *"            # cron: 5 fields, or 6 with seconds first
//! timezone = "Europe/Berlin"        # IANA name (default UTC)
//! period = "previous_day"           # previous_day | previous_week | previous_month | rolling
//! # window = "24h"                  # with rolling: the period ends at the scheduled time
//! archives = ["cloud", "onprem"]    # names of [sql.archives] (default: all)
//! out = "./auditfed-data/reports"   # directory or URL; bundles at <out>/<name>/<from>_<to>/
//! ```
//!
//! Each scheduled time produces the bundle of its period once: the bundle's
//! name is the period, a bundle with its `manifest.sig` is complete and
//! never produced again, and `<out>/<name>/state.json` records the last
//! scheduled time delivered. After downtime, every missed time is caught
//! up in order (at most `catch_up` of them); a failure is retried
//! (`attempts`, `retry_secs`) and the time stays due until it succeeds.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auditfed_schemas::config::Problem;
use auditfed_schemas::seal::format_time;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

use super::bundle::{MANIFEST, Manifest, SIGNATURE, SideLocations};
use super::deliver::{EmailConfig, WebhookConfig, post_webhook, send_email};
use super::run::DeadLetters;
use super::service::{Job, produce};
use crate::QueryError;
use crate::sql::Archive;

/// `[reports.<name>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// A built-in pack's name, a pack file or a pack directory.
    pub pack: String,
    /// When: a cron expression (`0 6 * * *`; 6 fields = seconds first).
    pub schedule: String,
    /// The time zone of the schedule and of day/week/month boundaries (IANA name).
    #[serde(default = "utc")]
    pub timezone: String,
    /// `previous_day`, `previous_week` (Monday to Monday), `previous_month`
    /// or `rolling` (the `window` before the scheduled time).
    #[serde(default = "previous_day")]
    pub period: String,
    /// With `rolling`: `90s`, `15m`, `24h`, `7d`.
    #[serde(default)]
    pub window: Option<String>,
    /// Names of `[sql.archives]` to report on (default: all of them).
    #[serde(default)]
    pub archives: Vec<String>,
    /// Where bundles go: a directory or an object-store URL.
    pub out: String,
    /// Values of the pack's declared parameters.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// At most this many missed periods are produced after downtime (default 31).
    #[serde(default = "thirty_one")]
    pub catch_up: u32,
    /// Attempts per period before giving up until the next start (default 3).
    #[serde(default = "three")]
    pub attempts: u32,
    /// Seconds between attempts (default 60).
    #[serde(default = "sixty")]
    pub retry_secs: u64,
    /// E-mail delivery.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// Webhook delivery.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

fn utc() -> String {
    "UTC".into()
}
fn previous_day() -> String {
    "previous_day".into()
}
fn thirty_one() -> u32 {
    31
}
fn three() -> u32 {
    3
}
fn sixty() -> u64 {
    60
}

/// What a scheduled time reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The calendar day before the scheduled time's day.
    PreviousDay,
    /// The week (Monday to Monday) before the scheduled time's week.
    PreviousWeek,
    /// The calendar month before the scheduled time's month.
    PreviousMonth,
    /// The window (ms) that ends at the scheduled time.
    Rolling(i64),
}

/// Parses `90s`, `15m`, `24h`, `7d` into milliseconds.
pub fn parse_window(text: &str) -> Option<i64> {
    let (number, unit) = text.trim().split_at(text.trim().len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

fn midnight(tz: &Tz, date: NaiveDate) -> i64 {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight");
    // A zone whose midnight is skipped (DST) starts the day at the first instant after it.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or(0, |t| t.timestamp_millis())
}

impl Period {
    /// `[from, to)` of the scheduled time `at` in `tz`, epoch ms.
    pub fn bounds(self, tz: &Tz, at: DateTime<Tz>) -> (i64, i64) {
        let day = at.date_naive();
        match self {
            Period::PreviousDay => (
                midnight(tz, day.pred_opt().expect("a day before")),
                midnight(tz, day),
            ),
            Period::PreviousWeek => {
                let monday =
                    day - chrono::Duration::days(day.weekday().num_days_from_monday() as i64);
                (
                    midnight(tz, monday - chrono::Duration::days(7)),
                    midnight(tz, monday),
                )
            }
            Period::PreviousMonth => {
                let first = day.with_day(1).expect("day 1");
                let previous = if first.month() == 1 {
                    NaiveDate::from_ymd_opt(first.year() - 1, 12, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() - 1, 1)
                }
                .expect("a month before");
                (midnight(tz, previous), midnight(tz, first))
            }
            Period::Rolling(window) => {
                let to = at.timestamp_millis();
                (to - window, to)
            }
        }
    }
}

/// A checked `[reports.<name>]`.
#[derive(Debug, Clone)]
pub struct ScheduledReport {
    /// Its name.
    pub name: String,
    /// As configured.
    pub config: ReportConfig,
    /// The parsed schedule.
    pub cron: Cron,
    /// The parsed time zone.
    pub tz: Tz,
    /// The parsed period.
    pub period: Period,
}

fn problem(key: String, message: impl Into<String>) -> Problem {
    Problem {
        key,
        message: message.into(),
    }
}

/// Checks every `[reports.*]` table: keys, schedule, time zone, period,
/// archives (names of `archive_names`), the pack (loaded, every query
/// planned, parameters known) and deliveries. Every problem has its key.
pub fn parse_reports(
    tables: &BTreeMap<String, toml::Value>,
    archive_names: &[String],
) -> Result<Vec<ScheduledReport>, Vec<Problem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in tables {
        let key = format!("reports.{name}");
        let config: ReportConfig = match auditfed_schemas::config::from_toml(&key, value.clone()) {
            Ok(c) => c,
            Err(p) => {
                problems.extend(p);
                continue;
            }
        };
        let before = problems.len();
        let cron = Cron::from_str(&config.schedule).map_err(|e| {
            problems.push(problem(
                format!("{key}.schedule"),
                format!("not a cron expression (\"0 6 * * *\"): {e}"),
            ))
        });
        let tz = Tz::from_str(&config.timezone).map_err(|_| {
            problems.push(problem(
                format!("{key}.timezone"),
                format!(
                    "not an IANA time zone (\"UTC\", \"Europe/Berlin\"): \"{}\"",
                    config.timezone
                ),
            ))
        });
        let period = match (config.period.as_str(), &config.window) {
            ("previous_day", None) => Some(Period::PreviousDay),
            ("previous_week", None) => Some(Period::PreviousWeek),
            ("previous_month", None) => Some(Period::PreviousMonth),
            ("rolling", Some(w)) => match parse_window(w) {
                Some(ms) => Some(Period::Rolling(ms)),
                None => {
                    problems.push(problem(
                        format!("{key}.window"),
                        format!("expected a duration such as \"90s\", \"15m\", \"24h\" or \"7d\", found \"{w}\""),
                    ));
                    None
                }
            },
            ("rolling", None) => {
                problems.push(problem(
                    format!("{key}.window"),
                    "missing: period = \"rolling\" needs a window (\"24h\")",
                ));
                None
            }
            (p, Some(_)) if p != "rolling" => {
                problems.push(problem(
                    format!("{key}.window"),
                    "only with period = \"rolling\"",
                ));
                None
            }
            (other, _) => {
                problems.push(problem(
                    format!("{key}.period"),
                    format!("expected \"previous_day\", \"previous_week\", \"previous_month\" or \"rolling\", found \"{other}\""),
                ));
                None
            }
        };
        for archive in &config.archives {
            if !archive_names.contains(archive) {
                problems.push(problem(
                    format!("{key}.archives"),
                    format!(
                        "no archive named \"{archive}\" (the config's archives: {})",
                        archive_names.join(", ")
                    ),
                ));
            }
        }
        match super::pack::Pack::load(&config.pack)
            .and_then(|p| super::run::validate(&p).map(|()| p))
            .and_then(|p| p.resolve_params(&config.params))
        {
            Ok(_) => {}
            Err(e) => problems.push(problem(format!("{key}.pack"), e.to_string())),
        }
        if let Some(email) = &config.email {
            for (k, m) in email.check(&format!("{key}.email")) {
                problems.push(problem(k, m));
            }
        }
        if let Some(hook) = &config.webhook
            && url::Url::parse(&hook.url).is_err()
        {
            problems.push(problem(
                format!("{key}.webhook.url"),
                format!("not a URL: \"{}\"", hook.url),
            ));
        }
        if problems.len() == before
            && let (Ok(cron), Ok(tz), Some(period)) = (cron, tz, period)
        {
            out.push(ScheduledReport {
                name: name.clone(),
                config,
                cron,
                tz,
                period,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Counts the dead letters of `[from_ms, to_ms)`.
pub type DeadLetterCount<'a> = dyn Fn(i64, i64) -> Result<Vec<DeadLetters>, QueryError> + Sync + 'a;

/// What every scheduled report shares.
pub struct Context<'a> {
    /// Every archive of the config (`[sql.archives]`, else `archive.path`).
    pub archives: Vec<Archive>,
    /// Receipts and coverage.
    pub sides: SideLocations,
    /// The pinned public keys.
    pub keyring: auditfed_schemas::seal::Keyring,
    /// The key that signs manifests.
    pub signer: &'a dyn auditfed_schemas::seal::Signer,
    /// Counts dead letters of a period (`None` when Kafka is not configured).
    pub dead_letters: Option<&'a DeadLetterCount<'a>>,
}

/// `<out>/<name>/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// The last scheduled time whose bundle was produced and delivered, epoch ms.
    last_fire_ms: Option<i64>,
    /// Its bundle.
    last_bundle: Option<String>,
}

fn join(out: &str, path: &str) -> String {
    if out.contains("://") {
        format!("{}/{path}", out.trim_end_matches('/'))
    } else {
        std::path::Path::new(out).join(path).display().to_string()
    }
}

fn compact(ms: i64) -> String {
    // 2026-11-05T06:00:00.000Z -> 20261105T060000Z
    let t = format_time(ms);
    format!(
        "{}{}{}T{}{}{}Z",
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16],
        &t[17..19]
    )
}

/// The bundle's path under `out` for a period: `<name>/<from>_<to>`.
pub fn bundle_path(name: &str, from_ms: i64, to_ms: i64) -> String {
    format!("{name}/{}_{}", compact(from_ms), compact(to_ms))
}

impl ScheduledReport {
    fn out_store(&self) -> Result<std::sync::Arc<dyn crate::store::ArchiveStore>, QueryError> {
        crate::object::Location::parse(&self.config.out)?.open()
    }

    fn state_path(&self) -> String {
        format!("{}/state.json", self.name)
    }

    fn load_state(&self) -> Result<State, QueryError> {
        let store = self.out_store()?;
        let listed = store.list()?;
        if !listed.contains(&self.state_path()) {
            return Ok(State::default());
        }
        let bytes = store.read(&self.state_path())?;
        serde_json::from_slice(&bytes).map_err(|e| {
            QueryError::Report(format!(
                "{}: unreadable ({e}); remove it to start from the latest scheduled time",
                join(&self.config.out, &self.state_path())
            ))
        })
    }

    fn at(&self, ms: i64) -> DateTime<Tz> {
        Utc.timestamp_millis_opt(ms)
            .single()
            .expect("a valid time")
            .with_timezone(&self.tz)
    }

    /// The scheduled times due at `now_ms`, oldest first: after the last one
    /// done, at most `catch_up`; the latest one when nothing was done yet.
    fn due(&self, state: &State, now_ms: i64) -> Vec<i64> {
        let now = self.at(now_ms);
        let Some(last) = state.last_fire_ms else {
            return self
                .cron
                .find_previous_occurrence(&now, true)
                .map(|t| vec![t.timestamp_millis()])
                .unwrap_or_default();
        };
        let mut times = Vec::new();
        let mut cursor = self.at(last);
        while let Ok(next) = self.cron.find_next_occurrence(&cursor, false) {
            if next > now {
                break;
            }
            times.push(next.timestamp_millis());
            cursor = next;
        }
        let keep = self.config.catch_up.max(1) as usize;
        if times.len() > keep {
            tracing::warn!(
                report = %self.name,
                skipped = times.len() - keep,
                "more missed periods than catch_up: the oldest are skipped"
            );
            times.drain(..times.len() - keep);
        }
        times
    }

    /// The next scheduled time after `now_ms`.
    fn next_after(&self, now_ms: i64) -> Option<i64> {
        self.cron
            .find_next_occurrence(&self.at(now_ms), false)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// Produces (unless complete) and delivers the bundle of scheduled time `fire_ms`.
    fn process(
        &self,
        fire_ms: i64,
        ctx: &Context<'_>,
        stop: &AtomicBool,
    ) -> Result<(), QueryError> {
        let (from_ms, to_ms) = self.period.bounds(&self.tz, self.at(fire_ms));
        let path = bundle_path(&self.name, from_ms, to_ms);
        let location = join(&self.config.out, &path);
        let store = self.out_store()?;
        let complete = store.list()?.contains(&format!("{path}/{SIGNATURE}"));
        let manifest: Manifest = if complete {
            tracing::info!(report = %self.name, bundle = %location, "already produced: delivering only");
            serde_json::from_slice(&store.read(&format!("{path}/{MANIFEST}"))?)
                .map_err(|e| QueryError::Report(format!("{location}/{MANIFEST}: {e}")))?
        } else {
            let archives: Vec<Archive> = if self.config.archives.is_empty() {
                ctx.archives.clone()
            } else {
                ctx.archives
                    .iter()
                    .filter(|a| self.config.archives.contains(&a.name))
                    .cloned()
                    .collect()
            };
            let dead_letters = match ctx.dead_letters {
                None => None,
                Some(count) => match count(from_ms, to_ms) {
                    Ok(list) => Some(list),
                    Err(e) => {
                        tracing::warn!(report = %self.name, error = %e, "dead letters not checked");
                        None
                    }
                },
            };
            let job = Job {
                pack: self.config.pack.clone(),
                params: self.config.params.clone(),
                from_ms,
                to_ms,
                archives,
                sides: ctx.sides.clone(),
                keyring: ctx.keyring.clone(),
                signer: ctx.signer,
                dead_letters,
                out: location.clone(),
            };
            self.attempt("produce", stop, || produce(&job))?
        };
        let bundle = crate::object::Location::parse(&location)?.open()?;
        if let Some(email) = &self.config.email {
            self.attempt("e-mail", stop, || {
                send_email(email, &self.name, &location, bundle.as_ref(), &manifest)
            })?;
        }
        if let Some(hook) = &self.config.webhook {
            self.attempt("webhook", stop, || {
                post_webhook(hook, &self.name, &location, &manifest)
            })?;
        }
        let state = State {
            last_fire_ms: Some(fire_ms),
            last_bundle: Some(path),
        };
        store.write(
            &self.state_path(),
            &serde_json::to_vec_pretty(&state).map_err(|e| QueryError::Report(e.to_string()))?,
        )?;
        let failed = manifest
            .controls
            .iter()
            .filter(|c| c.status == super::pack::Status::Fail)
            .count();
        tracing::info!(
            report = %self.name,
            from = %format_time(from_ms),
            to = %format_time(to_ms),
            bundle = %location,
            failed,
            flags = manifest.flags.len(),
            "report delivered"
        );
        Ok(())
    }

    fn attempt<T>(
        &self,
        what: &str,
        stop: &AtomicBool,
        mut once: impl FnMut() -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        let attempts = self.config.attempts.max(1);
        let mut tried = 0;
        loop {
            tried += 1;
            match once() {
                Ok(v) => return Ok(v),
                Err(e) if tried < attempts && !stop.load(Ordering::Relaxed) => {
                    tracing::warn!(report = %self.name, what, attempt = tried, error = %e, "failed; retrying");
                    let until =
                        std::time::Instant::now() + Duration::from_secs(self.config.retry_secs);
                    while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Runs `reports` until `stop` (or, with `once`, until every due period
/// is done): each scheduled time's period produced once, in order.
pub fn run_schedules(
    reports: &[ScheduledReport],
    ctx: &Context<'_>,
    stop: &AtomicBool,
    once: bool,
) -> Result<(), QueryError> {
    let mut states: Vec<State> = reports
        .iter()
        .map(|r| r.load_state())
        .collect::<Result<_, _>>()?;
    for r in reports {
        tracing::info!(report = %r.name, schedule = %r.config.schedule, timezone = %r.config.timezone, "scheduled");
    }
    while !stop.load(Ordering::Relaxed) {
        let now = auditfed_platform::clock::now_ms();
        for (report, state) in reports.iter().zip(states.iter_mut()) {
            for fire in report.due(state, now) {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                match report.process(fire, ctx, stop) {
                    Ok(()) => state.last_fire_ms = Some(fire),
                    Err(e) => {
                        // The time stays due: retried at the next pass.
                        tracing::error!(report = %report.name, scheduled = %format_time(fire), error = %e, "report failed");
                        break;
                    }
                }
            }
        }
        if once {
            return Ok(());
        }
        let now = auditfed_platform::clock::now_ms();
        let next = reports
            .iter()
            .filter_map(|r| r.next_after(now))
            .min()
            .unwrap_or(now + 60_000);
        while auditfed_platform::clock::now_ms() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(
                (next - auditfed_platform::clock::now_ms()).clamp(1, 200) as u64,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn periods_follow_the_time_zone_calendar() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let at = Utc
            .timestamp_millis_opt(ms("2026-03-02T05:00:00Z"))
            .unwrap()
            .with_timezone(&tz);
        assert_eq!(
            Period::PreviousDay.bounds(&tz, at),
            (ms("2026-02-28T23:00:00Z"), ms("2026-03-01T23:00:00Z"))
        );
        assert_eq!(
            Period::PreviousMonth.bounds(&tz, at),
            (ms("2026-01-31T23:00:00Z"), ms("2026-02-28T23:00:00Z"))
        );
        // 2026-03-02 is a Monday: the week before it.
        assert_eq!(
            Period::PreviousWeek.bounds(&tz, at),
            (ms("2026-02-22T23:00:00Z"), ms("2026-03-01T23:00:00Z"))
        );
        // Across the spring DST change the day is 23 hours long.
        let at = Utc
            .timestamp_millis_opt(ms("2026-03-30T05:00:00Z"))
            .unwrap()
            .with_timezone(&tz);
        let (from, to) = Period::PreviousDay.bounds(&tz, at);
        assert_eq!(to - from, 23 * 3_600_000);
        assert_eq!(
            Period::Rolling(90_000).bounds(&tz, at),
            (ms("2026-03-30T04:58:30Z"), ms("2026-03-30T05:00:00Z"))
        );
        assert_eq!(parse_window("15m"), Some(900_000));
        assert_eq!(parse_window("7d"), Some(604_800_000));
        assert_eq!(parse_window("7w"), None);
        assert_eq!(parse_window("-1h"), None);
    }

    #[test]
    fn missed_times_are_caught_up_in_order_and_bounded() {
        let mut tables = BTreeMap::new();
        tables.insert(
            "daily".to_owned(),
            toml::from_str::<toml::Value>(
                "pack = 'hipaa'\nschedule = '0 6 * * *'\ntimezone = 'UTC'\nout = '/tmp/x'\ncatch_up = 3\n",
            )
            .unwrap(),
        );
        let reports = parse_reports(&tables, &[]).unwrap();
        let r = &reports[0];
        let none = State::default();
        assert_eq!(
            r.due(&none, ms("2026-05-10T07:00:00Z")),
            vec![ms("2026-05-10T06:00:00Z")]
        );
        let done = State {
            last_fire_ms: Some(ms("2026-05-08T06:00:00Z")),
            last_bundle: None,
        };
        assert_eq!(
            r.due(&done, ms("2026-05-10T07:00:00Z")),
            vec![ms("2026-05-09T06:00:00Z"), ms("2026-05-10T06:00:00Z")]
        );
        let long_ago = State {
            last_fire_ms: Some(ms("2026-04-01T06:00:00Z")),
            last_bundle: None,
        };
        assert_eq!(r.due(&long_ago, ms("2026-05-10T07:00:00Z")).len(), 3);
        assert_eq!(r.due(&done, ms("2026-05-08T07:00:00Z")), Vec::<i64>::new());
        assert_eq!(
            bundle_path(
                "daily",
                ms("2026-05-09T00:00:00Z"),
                ms("2026-05-10T00:00:00Z")
            ),
            "daily/20260509T000000Z_20260510T000000Z"
        );
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let mut tables = BTreeMap::new();
        tables.insert(
            "bad".to_owned(),
            toml::from_str::<toml::Value>(
                "pack = 'no-such-pack'\nschedule = '61 * * * *'\ntimezone = 'Mars/Olympus'\nperiod = 'rolling'\nout = 'x'\narchives = ['nope']\n[email]\nsmtp = 'mail'\nsecurity = 'none'\nusername = 'u'\npassword = 'p'\nfrom = 'a@example.com'\nto = []\n",
            )
            .unwrap(),
        );
        let problems = parse_reports(&tables, &["cloud".to_owned()]).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "reports.bad.schedule",
            "reports.bad.timezone",
            "reports.bad.window",
            "reports.bad.archives",
            "reports.bad.pack",
            "reports.bad.email.smtp",
            "reports.bad.email.password",
            "reports.bad.email.to",
        ] {
            assert!(keys.contains(&key), "{key} missing from {problems:?}");
        }
    }
}
