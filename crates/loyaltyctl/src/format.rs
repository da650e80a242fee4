//! Text for people: masked phone numbers, durations, times, amounts and aligned tables.

use std::fmt::Write;

use jiff::Timestamp;

/// `+4712345678` → `+47 ****5678`: the country code and the last four digits only, since a
/// terminal may be shared, copied or photographed. Anything that is not an E.164 number is
/// masked whole.
pub fn phone(e164: &str) -> String {
    let digits = e164.strip_prefix('+').unwrap_or(e164);
    let well_formed =
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return "*".repeat(e164.chars().count());
    }
    let (country, national) = digits.split_at(country_code_len(digits));
    let shown = national.len().min(4);
    let (hidden, last) = national.split_at(national.len() - shown);
    format!("+{country} {}{last}", "*".repeat(hidden.len()))
}

/// How many leading digits of an international number are its country code, by the ITU's
/// assignments: `1` and `7` are one digit, the two-digit codes are listed, all others have three.
fn country_code_len(digits: &str) -> usize {
    const TWO_DIGITS: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with(['1', '7']) {
        1
    } else if TWO_DIGITS.iter().any(|code| digits.starts_with(code)) {
        2
    } else {
        3
    }
}

/// `45s`, `5m 03s`, `4h 18m`, `2d 6h`.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match seconds {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{m}m {s:02}s"),
        3_600..86_400 => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A time to the second, in UTC: `2025-11-21T10:15:31Z`.
pub fn time(at: Timestamp) -> String {
    format!("{:.0}", at.round(jiff::Unit::Second).unwrap_or(at))
}

/// `499.00 NOK`.
pub fn amount(amount: register::Amount) -> String {
    flow::Money::from(amount).to_string()
}

/// `n thing` or `n things`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Rows of text in left-aligned columns, two spaces apart, with a header row.
#[derive(Debug)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Adds a row; it should have a cell for every column.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table, one line per row, without trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:<width$}  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_show_the_country_code_and_the_last_four_digits() {
        for (number, masked) in [
            ("+4712345678", "+47 ****5678"),
            ("+4598765432", "+45 ****5432"),
            ("+358401234567", "+358 *****4567"),
            ("+12025550123", "+1 ******0123"),
            ("+79161234567", "+7 ******4567"),
            ("+4915112345678", "+49 *******5678"),
            ("4712345678", "+47 ****5678"),
        ] {
            assert_eq!(phone(number), masked, "{number}");
        }
        for garbage in ["", "+47", "+47 123 45 678", "garbage", "+4712345678901234"] {
            assert_eq!(
                phone(garbage),
                "*".repeat(garbage.chars().count()),
                "{garbage}"
            );
        }
    }

    #[test]
    fn durations_read_at_a_glance() {
        for (seconds, text) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m 00s"),
            (303, "5m 03s"),
            (3_599, "59m 59s"),
            (3_600, "1h 00m"),
            (15_480, "4h 18m"),
            (86_399, "23h 59m"),
            (86_400, "1d 0h"),
            (194_400, "2d 6h"),
        ] {
            assert_eq!(duration(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn times_are_utc_to_the_second() {
        let at: Timestamp = "2025-11-21T11:15:31.204+01:00".parse().expect("valid");
        assert_eq!(time(at), "2025-11-21T10:15:31Z");
        let at: Timestamp = "2025-11-21T10:15:31.6Z".parse().expect("valid");
        assert_eq!(time(at), "2025-11-21T10:15:32Z");
    }

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(&["NAME", "STATE"]);
        table.row(vec!["till".to_owned(), "connected".to_owned()]);
        table.row(vec!["front-door".to_owned(), "-".to_owned()]);
        assert_eq!(
            table.render(),
            "NAME        STATE\n\
             till        connected\n\
             front-door  -\n"
        );
    }
}
