//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The shared, read-only fixtures (`/work/shared/fixtures` next to the repository).
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

/// A fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(FIXTURES).join(name)
}

/// A fixture's bytes.
pub fn read(name: &str) -> Vec<u8> {
    let path = fixture(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The serial fixtures: (`NAME.bin` bytes, expected scans from `NAME.expected`), by name.
pub fn serial_fixtures() -> Vec<(String, Vec<u8>, Vec<String>)> {
    let dir = fixture("serial");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "bin"))
        .map(|path| {
            path.file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 3,
        "serial fixtures missing in {}",
        dir.display()
    );
    names
        .into_iter()
        .map(|name| {
            let bytes = read(&format!("serial/{name}.bin"));
            let expected = String::from_utf8(read(&format!("serial/{name}.expected")))
                .expect("expected file is UTF-8")
                .lines()
                .map(str::to_owned)
                .collect();
            (name, bytes, expected)
        })
        .collect()
}
