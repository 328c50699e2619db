//! `auditfed quickstart`: the whole pipeline in one process, no service to
//! install: embedded Kafka, bundled sample logs of every source, ingest →
//! normalize + seal → archive, then SQL and verification.
//!
//! Everything lands under `--dir` (default ./auditfed-data): the archive in
//! `archive/`, the signing key and keyring in `keys/`. Each run uses its own
//! topic prefix, so its chains are new chains: repeated runs add to the
//! archive and it keeps verifying.

use super::Failure;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use auditfed_ingest::file::ingest_reader;
use auditfed_ingest::raw::RawProducer;
use auditfed_normalize::service::Normalizer;
use auditfed_platform::kafka::Kafka;
use auditfed_query::archiver::Archiver;
use auditfed_query::sql::{Archive, Catalog, OutputFormat, render};
use auditfed_query::store::LocalDir;
use auditfed_query::verify::{VerifyOptions, verify};
use auditfed_schemas::SourceType;
use auditfed_schemas::config::Config;

use super::service::load_signer;

/// Arguments of `auditfed quickstart`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the keys and the archive go.
    #[arg(long, default_value = "./auditfed-data")]
    dir: PathBuf,
}

macro_rules! sample {
    ($source:ident, $file:literal) => {
        (
            SourceType::$source,
            $file,
            include_bytes!(concat!("../../normalize/tests/fixtures/", $file)).as_slice(),
        )
    };
}

/// Sample logs of every source, bundled into the binary. Origins and
/// licenses (Apache-2.0, CC BY 4.0): normalize/tests/fixtures/MANIFEST.tsv.
const SAMPLES: [(SourceType, &str, &[u8]); 16] = [
    sample!(
        AwsCloudtrail,
        "aws_cloudtrail/otel-contrib__cloudtrail_log.json"
    ),
    sample!(
        AwsCloudtrail,
        "aws_cloudtrail/stratus-red-team__aws.initial-access.console-login-without-mfa.json"
    ),
    sample!(
        AwsCloudtrail,
        "aws_cloudtrail/stratus-red-team__aws.persistence.iam-create-admin-user.json"
    ),
    sample!(
        AwsCloudtrail,
        "aws_cloudtrail/stratus-red-team__aws.defense-evasion.dns-delete-logs.json"
    ),
    sample!(
        AwsCloudtrail,
        "aws_cloudtrail/stratus-red-team__aws.credential-access.ec2-get-password-data.json"
    ),
    sample!(GcpAudit, "gcp_audit/otel-contrib__policy.json"),
    sample!(GcpAudit, "gcp_audit/plaso__gcp_logging.jsonl"),
    sample!(
        AzureActivity,
        "azure_activity/otel-contrib__administrative-log.json"
    ),
    sample!(
        EntraSignin,
        "entra_signin/ms-docs__signin-log-schema-example.json"
    ),
    sample!(
        EntraAudit,
        "entra_audit/ms-docs__audit-log-schema-example.json"
    ),
    sample!(K8sAudit, "k8s_audit/falco__create_clusterrolebinding.json"),
    sample!(K8sAudit, "k8s_audit/falco__attach_pod.json"),
    sample!(Okta, "okta/derived__system-log-events.json"),
    sample!(
        GithubAudit,
        "github_audit/github-docs__enterprise-audit-log-example.json"
    ),
    sample!(Syslog, "syslog/plaso__syslog_ssh.log"),
    sample!(Syslog, "syslog/go-libaudit__audit-rhel7.log"),
];

const QUERIES: [(&str, &str); 4] = [
    (
        "Events per source",
        "SELECT source, count(*) AS events, min(time) AS first, max(time) AS last FROM events GROUP BY source ORDER BY source",
    ),
    (
        "Failed sign-ins, every cloud and SaaS",
        "SELECT time, source, actor_user_name, user_name, src_ip, status_code FROM failed_signins ORDER BY time LIMIT 10",
    ),
    (
        "Privilege and policy changes",
        "SELECT time, source, class_name, api_operation, actor_user_name FROM privilege_changes ORDER BY time LIMIT 10",
    ),
    (
        "Bursts of access-denied errors",
        "SELECT minute, actor_user_name, denied FROM access_denied_bursts ORDER BY denied DESC LIMIT 5",
    ),
];

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let dir = args.dir;
    let keys = dir.join("keys");
    let archive_dir = dir.join("archive");
    let mut config = Config::default();
    config.kafka.bootstrap = "embedded".into();
    config.kafka.partitions = 1;
    let stamp = auditfed_platform::clock::now_ms();
    config.kafka.topic_prefix = format!("quickstart.{stamp}");
    config.keys.signing_key = keys.join("auditfed.key");
    config.keys.keyring = keys.join("keyring");
    config.archive.path = archive_dir.clone();
    config.normalize.instance_id = Some("quickstart".into());

    println!(
        "auditfed quickstart: the whole pipeline in this process (embedded Kafka; nothing to install)\n"
    );
    if !config.keys.signing_key.exists() {
        let key = auditfed_schemas::seal::create_key(&keys, "auditfed")?;
        println!(
            "1. signing key {} created: {} (public key in {})",
            key.id,
            key.private_key.display(),
            key.keyring.display()
        );
    } else {
        println!("1. signing key: {}", config.keys.signing_key.display());
    }
    let signer = load_signer(&config).map_err(|p| {
        p.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;

    let kafka = Kafka::open(&config.kafka)?;
    let producer = RawProducer::new(&kafka, "quickstart")?;
    let now = stamp;
    let mut records = 0;
    for (source, name, bytes) in SAMPLES {
        let stats = ingest_reader(
            &format!("quickstart:{name}"),
            std::io::Cursor::new(bytes),
            source,
            &mut &producer,
            config.ingest.max_record_bytes,
            now,
        )?;
        records += stats.records + stats.rejected;
    }
    producer.flush(Duration::from_secs(30))?;
    println!(
        "2. ingested {records} raw records from {} sample files of 9 sources into {}.raw.*",
        SAMPLES.len(),
        config.kafka.topic_prefix
    );

    let stop = AtomicBool::new(false);
    let signer_for_reports = signer.clone();
    let mut normalizer = Normalizer::new(&kafka, &config.normalize, "quickstart", signer)?;
    let n = normalizer.run_until(&stop, Some(Duration::from_secs(2)))?;
    println!(
        "3. normalized to OCSF and sealed: {} events, {} signed checkpoints, {} records to the dead-letter topic (digests, non-audit entries)",
        n.events, n.checkpoints, n.dead_letters
    );

    let mut archiver = Archiver::from_config(&kafka, &config.archive)?;
    let a = archiver.run(&stop, Some(Duration::from_secs(2)))?;
    println!(
        "4. archived {} events in {} Parquet files and {} checkpoints under {}\n",
        a.events,
        a.files,
        a.checkpoints,
        archive_dir.display()
    );

    let catalog = Catalog::new(&[Archive::new("local", &archive_dir.display().to_string())])?;
    for (title, sql) in QUERIES {
        println!("-- {title}\n-- {sql}");
        let batches = catalog.query(sql)?;
        println!("{}\n", render(&batches, OutputFormat::Table)?);
    }

    let keyring = auditfed_schemas::seal::Keyring::load(&config.keys.keyring)?;
    let store = LocalDir::new(&archive_dir);
    let report = verify(&store, &VerifyOptions::new(keyring))?;
    if report.is_clean() {
        println!(
            "5. verified: {} chains, {} events, {} checkpoints: complete and unaltered",
            report.summary.chains, report.summary.events, report.summary.checkpoints
        );
    } else {
        println!(
            "5. verification found {} problem(s):",
            report.findings.len()
        );
        for f in &report.findings {
            println!("   {f:?}");
        }
        return Ok(ExitCode::from(1));
    }
    let (first, last) = (
        report.summary.first_time.unwrap_or(0),
        report.summary.last_time.unwrap_or(0),
    );
    let day = 86_400_000;
    let bundle = dir.join("reports").join("pci-dss-4.0");
    let job = auditfed_query::report::service::Job {
        pack: "pci-dss-4.0".into(),
        params: Default::default(),
        from_ms: first.div_euclid(day) * day,
        to_ms: (last.div_euclid(day) + 1) * day,
        archives: vec![Archive::new("archive", &archive_dir.display().to_string())],
        sides: Default::default(),
        keyring: auditfed_schemas::seal::Keyring::load(&config.keys.keyring)?,
        signer: signer_for_reports.as_ref(),
        dead_letters: None,
        out: bundle.display().to_string(),
    };
    let manifest = auditfed_query::report::service::produce(&job)?;
    println!(
        "6. report: PCI DSS 4.0 requirement 10 over the samples' span ({} to {}), {} controls, signed: {}",
        manifest.from,
        manifest.to,
        manifest.controls.len(),
        bundle.join("report.html").display()
    );
    let archive = archive_dir.display();
    println!(
        "\nNext:\n  auditfed report verify {bundle} --keys {keyring} --rerun\n  auditfed verify --archive {archive} --keys {keyring}\n  auditfed sql --archive {archive} \"SELECT * FROM root_activity\"\n  auditfed sql --archive {archive} --format csv \"SELECT time, source, class_name, actor_user_name FROM events\" > events.csv\n  duckdb -c \"SELECT source, count(*) FROM read_parquet('{archive}/**/*.parquet', hive_partitioning=true) GROUP BY 1\"\n  (the embedded Kafka is gone with this process; for a real broker: scripts/kafka.sh start and examples/auditfed.toml)",
        keyring = config.keys.keyring.display(),
        bundle = bundle.display()
    );
    Ok(ExitCode::SUCCESS)
}
