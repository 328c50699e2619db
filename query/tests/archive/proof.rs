//! Inclusion proofs: every archived event proves, offline, under the pinned
//! key; any change to the bundle makes the proof fail.

use crate::support;

use auditfed_query::proof::{EventSelector, prove};
use auditfed_schemas::seal::B64Hash;
use support::*;

#[test]
fn every_event_of_an_archive_has_a_verifying_proof() {
    let evs = events("stratus-red-team__aws.persistence.iam-create-admin-user.json");
    let more = events("stratus-red-team__aws.execution.ssm-send-command.json");
    let all: Vec<_> = evs.into_iter().chain(more).take(23).collect();
    let (store, _) = build(&temp_dir("proofs"), &all, 5, 7, 1);
    for seq in 1..=23u64 {
        let proof = prove(&store, &EventSelector::ChainSeq(CHAIN.into(), seq)).unwrap();
        let proven = proof
            .verify(&keyring(1))
            .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        assert!(proven.checkpoint.first <= seq && seq <= proven.checkpoint.last);
    }
    // By metadata.uid (CloudTrail eventID).
    let uid = all[0].metadata.uid.clone().unwrap();
    let proof = prove(&store, &EventSelector::Uid(uid.clone())).unwrap();
    assert_eq!(proof.seq, 1);
    assert!(
        proof
            .verify(&keyring(1))
            .unwrap()
            .event
            .to_string()
            .contains(&uid)
    );
    assert!(
        prove(&store, &EventSelector::Uid("no-such-event".into()))
            .unwrap_err()
            .to_string()
            .contains("no archived event")
    );
}

#[test]
fn a_changed_bundle_does_not_verify() {
    let (store, _) = build(
        &temp_dir("proof-tamper"),
        &events("stratus-red-team__aws.execution.ssm-send-command.json"),
        8,
        10,
        1,
    );
    let proof = prove(&store, &EventSelector::ChainSeq(CHAIN.into(), 11)).unwrap();
    assert!(proof.verify(&keyring(1)).is_ok());
    let mut changed = proof.clone();
    changed.event_json = changed
        .event_json
        .replacen("\"severity_id\":1", "\"severity_id\":4", 1);
    assert_ne!(changed.event_json, proof.event_json);
    assert!(
        changed
            .verify(&keyring(1))
            .unwrap_err()
            .to_string()
            .contains("not the one sealed")
    );
    let mut moved = proof.clone();
    moved.leaf_index += 1;
    moved.seq += 1;
    assert!(moved.verify(&keyring(1)).is_err());
    let mut path = proof.clone();
    path.audit_path[0] = B64Hash([0; 32]);
    assert!(path.verify(&keyring(1)).is_err());
    assert!(
        proof
            .verify(&keyring(2))
            .unwrap_err()
            .to_string()
            .contains("no signature by a trusted key")
    );
    let mut non_canonical = proof.clone();
    non_canonical.event_json = format!(" {}", proof.event_json);
    assert!(
        non_canonical
            .verify(&keyring(1))
            .unwrap_err()
            .to_string()
            .contains("canonical")
    );
}

#[test]
fn selectors_parse_chain_seq_and_uids() {
    assert_eq!(
        EventSelector::parse("auditfed.raw.okta/0:42"),
        EventSelector::ChainSeq("auditfed.raw.okta/0".into(), 42)
    );
    assert_eq!(
        EventSelector::parse("a6b3c7e0-aaaa"),
        EventSelector::Uid("a6b3c7e0-aaaa".into())
    );
    assert_eq!(
        EventSelector::parse("e040d0ab:ResponseComplete"),
        EventSelector::Uid("e040d0ab:ResponseComplete".into())
    );
}
