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

/// The fixtures `DIR/NAME.EXT` with their `DIR/NAME.expected` lines, by name: (name, bytes,
/// expected lines). At least `min` of them must exist.
pub fn fixtures(dir: &str, ext: &str, min: usize) -> Vec<(String, Vec<u8>, Vec<String>)> {
    let path = fixture(dir);
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", path.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .map(|path| {
            path.file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= min,
        "fewer than {min} fixtures in {}",
        path.display()
    );
    names
        .into_iter()
        .map(|name| {
            let bytes = read(&format!("{dir}/{name}.{ext}"));
            let expected = String::from_utf8(read(&format!("{dir}/{name}.expected")))
                .expect("expected file is UTF-8")
                .lines()
                .map(str::to_owned)
                .collect();
            (name, bytes, expected)
        })
        .collect()
}

/// The serial fixtures: (`NAME.bin` bytes, expected scans from `NAME.expected`), by name.
pub fn serial_fixtures() -> Vec<(String, Vec<u8>, Vec<String>)> {
    fixtures("serial", "bin", 3)
}

/// The reports of a hex fixture, one per non-empty line.
pub fn hex_reports(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(bytes).expect("hex fixture is text");
    text.lines()
        .map(|line| line.split_whitespace().collect::<String>())
        .filter(|line| !line.is_empty())
        .map(|line| {
            (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
                .collect()
        })
        .collect()
}
