//! Phone numbers in logs: never in full.

/// `4712345678` → `47******78`: the country code and the last two digits, enough to tell two
/// customers apart in a log without revealing either number.
pub(crate) fn msisdn(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 6 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (2, 2);
    let mut masked: String = chars[..head].iter().collect();
    masked.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

/// Whether `number` is an MSISDN as Vipps wants it: 10 to 15 digits, no `+`, no spaces.
pub(crate) fn is_msisdn(number: &str) -> bool {
    (10..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_the_ends() {
        assert_eq!(msisdn("4712345678"), "47******78");
        assert_eq!(msisdn("+4712345678"), "+4*******78");
        assert_eq!(msisdn("123"), "***");
    }

    #[test]
    fn msisdn_shape() {
        assert!(is_msisdn("4712345678"));
        assert!(is_msisdn("358401234567"));
        assert!(!is_msisdn("+4712345678"));
        assert!(!is_msisdn("12345678"));
        assert!(!is_msisdn("47 12345678"));
    }
}
