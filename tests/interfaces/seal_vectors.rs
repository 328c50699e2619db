//! The seal-v1 test vectors checked by an independent implementation
//! (Python hashlib + `cryptography`), so the vectors do not merely agree
//! with the code that wrote them.

use crate::support;

use support::{root, run_python, temp_dir};

fn vectors() -> std::path::PathBuf {
    root().join("schemas/tests/vectors/seal-v1.json")
}

#[test]
fn an_independent_implementation_agrees_with_the_vectors() {
    let Some((code, text)) = run_python("seal_vectors_check.py", &vectors()) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 problem(s)"), "{text}");
}

#[test]
fn the_independent_check_catches_a_changed_vector() {
    let dir = temp_dir("seal-neg");
    let tampered =
        std::fs::read_to_string(vectors())
            .unwrap()
            .replacen(r"\nlast 5\n", r"\nlast 6\n", 1);
    let path = dir.join("seal-v1.json");
    std::fs::write(&path, tampered).unwrap();
    let result = run_python("seal_vectors_check.py", &path);
    std::fs::remove_dir_all(&dir).unwrap();
    let Some((code, text)) = result else { return };
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("does not verify"), "{text}");
}
