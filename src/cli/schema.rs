//! `auditfed schema`: what auditfed reads and writes.

use super::Failure;
use std::process::ExitCode;

use auditfed_normalize::mapper_version;
use auditfed_schemas::SourceType;
use auditfed_schemas::archive::{ARCHIVE_SCHEMA_VERSION, PARTITION_COLUMNS, archive_schema};
use auditfed_schemas::ocsf::{Class, OCSF_VERSION};

/// Arguments of `auditfed schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let schema = archive_schema();
    if args.json {
        let doc = serde_json::json!({
            "sources": SourceType::ALL.iter().map(|s| serde_json::json!({
                "name": s.as_str(), "description": s.description(), "mapper_version": mapper_version(*s),
            })).collect::<Vec<_>>(),
            "ocsf_version": OCSF_VERSION,
            "classes": Class::ALL.iter().map(|c| serde_json::json!({
                "class_uid": c.uid(), "class_name": c.name(), "category_uid": c.category_uid(), "category_name": c.category_name(),
            })).collect::<Vec<_>>(),
            "archive": {
                "schema_version": ARCHIVE_SCHEMA_VERSION,
                "partitions": PARTITION_COLUMNS,
                "columns": schema.fields().iter().map(|f| serde_json::json!({
                    "name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable(),
                })).collect::<Vec<_>>(),
            },
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Sources (--source):");
    for s in SourceType::ALL {
        println!(
            "  {:<16} {} [mapper v{}]",
            s.as_str(),
            s.description(),
            mapper_version(s)
        );
    }
    println!(
        "  {:<16} detect the source of each record from its content",
        "auto"
    );
    println!();
    println!("OCSF {OCSF_VERSION} classes emitted:");
    for c in Class::ALL {
        println!(
            "  {:>5}  {:<24} category {} {}",
            c.uid(),
            c.name(),
            c.category_uid(),
            c.category_name()
        );
    }
    println!();
    println!(
        "Archive Parquet schema v{ARCHIVE_SCHEMA_VERSION} (partitioned {}):",
        PARTITION_COLUMNS.map(|p| format!("{p}=…")).join("/")
    );
    for f in schema.fields() {
        let null = if f.is_nullable() { "" } else { " not null" };
        println!("  {:<18} {}{null}", f.name(), f.data_type());
    }
    Ok(ExitCode::SUCCESS)
}
