//! `[loyalty]`: what a member's captured purchase earns (bonus points and stamp cards).
//!
//! Amounts (`min_amount`, `reward_amount`) are written as a person types them at the register,
//! in the lane's currency (`lane.currency`): `"50"`, `"49.90"` or `"49,90"`, parsed exactly, as
//! the register protocol's typed amounts are. Leaving the section out gives the empty program:
//! members are recognised and paid as before, and earn nothing.
//!
//! The rules themselves (a card needs at least one stamp, a reward's validity, unique card ids)
//! are checked by [`flow::program::Program::new`]; this module reads the file and says which key
//! of which `[[loyalty.stamp_card]]` table is at fault.

use flow::program::{Program, ProgramError, Reward, StampCardRule};
use flow::{Currency, Money};
use serde::Deserialize;

use super::{ConfigError, Ctx};

/// Days a reward stays valid when `valid_for_days` is left out.
const DEFAULT_VALID_FOR_DAYS: u32 = 30;

/// The `[loyalty]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLoyalty {
    points_per_unit: u32,
    #[serde(rename = "stamp_card")]
    stamp_cards: Vec<RawStampCard>,
}

/// One `[[loyalty.stamp_card]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStampCard {
    id: String,
    title: String,
    stamps: u32,
    min_amount: Option<String>,
    reward: String,
    reward_title: String,
    reward_description: Option<String>,
    reward_amount: Option<String>,
    #[serde(default = "default_valid_for_days")]
    valid_for_days: u32,
}

fn default_valid_for_days() -> u32 {
    DEFAULT_VALID_FOR_DAYS
}

impl RawLoyalty {
    /// The program, with amounts in `currency` (the lane's).
    pub(super) fn resolve(self, ctx: Ctx<'_>, currency: Currency) -> Result<Program, ConfigError> {
        let mut rules = Vec::with_capacity(self.stamp_cards.len());
        for (index, raw) in self.stamp_cards.into_iter().enumerate() {
            let key = |field: &str| format!("loyalty.stamp_card[{index}].{field}");
            let rule = raw.resolve(ctx, currency, &key)?;
            // Each card's own rules, checked alone so that the error can name its table.
            Program::new(0, vec![rule.clone()])
                .map_err(|e| ctx.invalid(&key(field_of(&e)), e.to_string()))?;
            if rules.iter().any(|r: &StampCardRule| r.id == rule.id) {
                let e = ProgramError::DuplicateCardId(rule.id);
                return Err(ctx.invalid(&key("id"), e.to_string()));
            }
            rules.push(rule);
        }
        Program::new(self.points_per_unit, rules)
            .map_err(|e| ctx.invalid("loyalty.stamp_card", e.to_string()))
    }
}

impl RawStampCard {
    fn resolve(
        self,
        ctx: Ctx<'_>,
        currency: Currency,
        key: &dyn Fn(&str) -> String,
    ) -> Result<StampCardRule, ConfigError> {
        let amount = |field: &str, text: &str| -> Result<Money, ConfigError> {
            register::parse_amount(text)
                .map(|minor| Money::new(currency, minor))
                .map_err(|e| {
                    ctx.invalid(
                        &key(field),
                        format!(
                            "must be an amount in {} (lane.currency) like \"50\" or \"49.90\": {e}",
                            currency.code()
                        ),
                    )
                })
        };
        let min_amount = self
            .min_amount
            .as_deref()
            .map(|text| amount("min_amount", text))
            .transpose()?;
        let reward = match self.reward.as_str() {
            "coupon" => {
                if self.reward_amount.is_some() {
                    return Err(ctx.invalid(
                        &key("reward_amount"),
                        "only with reward = \"bonus-check\"; a coupon is an item, named by its \
                         reward_title",
                    ));
                }
                Reward::Coupon {
                    title: self.reward_title,
                    description: self.reward_description.filter(|d| !d.trim().is_empty()),
                    valid_for_days: self.valid_for_days,
                }
            }
            "bonus-check" => {
                if self.reward_description.is_some() {
                    return Err(ctx.invalid(
                        &key("reward_description"),
                        "only with reward = \"coupon\"; the app shows a bonus check by its \
                         reward_title and amount",
                    ));
                }
                let Some(text) = self.reward_amount.as_deref() else {
                    return Err(ctx.invalid(
                        &key("reward_amount"),
                        "is required with reward = \"bonus-check\": what the check is worth, \
                         like \"50.00\"",
                    ));
                };
                Reward::BonusCheck {
                    title: self.reward_title,
                    amount: amount("reward_amount", text)?,
                    valid_for_days: self.valid_for_days,
                }
            }
            other => {
                return Err(ctx.invalid(
                    &key("reward"),
                    format!("must be \"coupon\" or \"bonus-check\", got {other:?}"),
                ));
            }
        };
        Ok(StampCardRule {
            id: self.id,
            title: self.title,
            stamps_required: self.stamps,
            min_amount,
            reward,
        })
    }
}

/// The key of a `[[loyalty.stamp_card]]` table that a rule error is about.
fn field_of(error: &ProgramError) -> &'static str {
    match error {
        ProgramError::InvalidCardId(_) | ProgramError::DuplicateCardId(_) => "id",
        ProgramError::BlankTitle { what: "card", .. } => "title",
        ProgramError::BlankTitle { .. } => "reward_title",
        ProgramError::NoStampsRequired(_) => "stamps",
        ProgramError::NonPositiveMinAmount { .. } => "min_amount",
        ProgramError::InvalidValidity { .. } => "valid_for_days",
        ProgramError::NonPositiveBonusCheck { .. } => "reward_amount",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use flow::program::Reward;
    use flow::{Currency, Money};

    use crate::config::{Config, ConfigError};

    const MINIMAL: &str = r#"
[vipps]
client_id = "id"
client_secret = "s"
subscription_key = "k"
merchant_serial_number = "123456"
"#;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!("{MINIMAL}{extra}"),
            Path::new("/etc/loyaltyd/config.toml"),
        )
    }

    fn error(extra: &str) -> String {
        match parse(extra) {
            Ok(config) => panic!("accepted: {:?}", config.program),
            Err(e) => e.to_string(),
        }
    }

    const COFFEE: &str = r#"
[loyalty]
points_per_unit = 2

[[loyalty.stamp_card]]
id = "coffee"
title = "Coffee card"
stamps = 3
min_amount = "30"
reward = "coupon"
reward_title = "A free coffee"
reward_description = "Any size"
valid_for_days = 14

[[loyalty.stamp_card]]
id = "big-spender"
title = "Big spender"
stamps = 5
min_amount = "499,90"
reward = "bonus-check"
reward_title = "NOK 50 off"
reward_amount = "50.00"
"#;

    #[test]
    fn no_section_is_a_program_that_earns_nothing() {
        let program = parse("").expect("valid").program;
        assert_eq!(program.points_per_unit(), 0);
        assert!(program.stamp_cards().is_empty());
        assert_eq!(program.points_for(Money::new(Currency::Nok, 100_000)), 0);
    }

    #[test]
    fn cards_read_amounts_in_the_lane_currency() {
        let program = parse(&format!("[lane]\ncurrency = \"DKK\"\n{COFFEE}"))
            .expect("valid")
            .program;
        assert_eq!(program.points_per_unit(), 2);
        let [coffee, spender] = program.stamp_cards() else {
            panic!("two cards: {program:?}");
        };
        assert_eq!(
            (
                coffee.id.as_str(),
                coffee.title.as_str(),
                coffee.stamps_required
            ),
            ("coffee", "Coffee card", 3)
        );
        assert_eq!(coffee.min_amount, Some(Money::new(Currency::Dkk, 3_000)));
        assert_eq!(
            coffee.reward,
            Reward::Coupon {
                title: "A free coffee".to_owned(),
                description: Some("Any size".to_owned()),
                valid_for_days: 14,
            }
        );
        assert_eq!(spender.min_amount, Some(Money::new(Currency::Dkk, 49_990)));
        assert_eq!(
            spender.reward,
            Reward::BonusCheck {
                title: "NOK 50 off".to_owned(),
                amount: Money::new(Currency::Dkk, 5_000),
                valid_for_days: 30,
            }
        );
    }

    #[test]
    fn the_example_cards_are_valid_once_uncommented() {
        let example = include_str!("../../../../config/loyaltyd.example.toml");
        let (_, section) = example
            .split_once("\n[loyalty]\n")
            .expect("a [loyalty] section");
        let is_key = |line: &str| {
            line.split_once(" = ").is_some_and(|(key, _)| {
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
        };
        let uncommented: String = section
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.starts_with("[[") || is_key(rest) => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let program = parse(&format!("[loyalty]\n{uncommented}"))
            .expect("the example's cards are valid")
            .program;
        let ids: Vec<&str> = program
            .stamp_cards()
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["coffee", "spend"]);
        assert!(matches!(
            program.stamp_cards()[1].reward,
            Reward::BonusCheck { amount, valid_for_days: 90, .. } if amount.minor == 5_000
        ));
        // As shipped, the section earns nothing.
        let shipped = parse(&format!("[loyalty]\n{section}"))
            .expect("valid")
            .program;
        assert_eq!(shipped, flow::program::Program::default());
    }

    #[test]
    fn a_card_without_min_amount_takes_any_purchase() {
        let program = parse(
            "[[loyalty.stamp_card]]\nid = \"any\"\ntitle = \"Any\"\nstamps = 1\nreward = \
             \"coupon\"\nreward_title = \"Gift\"\n",
        )
        .expect("valid")
        .program;
        assert_eq!(program.stamp_cards()[0].min_amount, None);
        assert!(program.stamp_cards()[0].qualifies(Money::new(Currency::Nok, 1)));
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        // MINIMAL is 6 lines; COFFEE's first card starts at line 11 and its keys follow.
        let cases: [(&str, &str, &str); 11] = [
            (
                "stamps = 3",
                "stamps = 0",
                ":14: `loyalty.stamp_card[0].stamps`: stamp card \"coffee\" needs 0 stamps; a \
                 card needs at least 1",
            ),
            (
                "min_amount = \"30\"",
                "min_amount = \"30.005\"",
                ":15: `loyalty.stamp_card[0].min_amount`: must be an amount in NOK \
                 (lane.currency) like \"50\" or \"49.90\": \"30.005\" has more than two decimals",
            ),
            (
                "min_amount = \"30\"",
                "min_amount = \"0\"",
                ":15: `loyalty.stamp_card[0].min_amount`: stamp card \"coffee\" has a minimum \
                 purchase of",
            ),
            (
                "id = \"coffee\"",
                "id = \"coffee.card\"",
                ":12: `loyalty.stamp_card[0].id`: stamp card id \"coffee.card\" is not usable",
            ),
            (
                "id = \"big-spender\"",
                "id = \"coffee\"",
                ":22: `loyalty.stamp_card[1].id`: stamp card id \"coffee\" is used by more than \
                 one card",
            ),
            (
                "title = \"Coffee card\"",
                "title = \" \"",
                ":13: `loyalty.stamp_card[0].title`: stamp card \"coffee\" has a blank card title",
            ),
            (
                "reward = \"coupon\"",
                "reward = \"voucher\"",
                ":16: `loyalty.stamp_card[0].reward`: must be \"coupon\" or \"bonus-check\", got \
                 \"voucher\"",
            ),
            (
                "valid_for_days = 14",
                "valid_for_days = 0",
                ":19: `loyalty.stamp_card[0].valid_for_days`: stamp card \"coffee\" gives a \
                 reward valid for 0 days; use 1 to 3650",
            ),
            (
                "reward_amount = \"50.00\"",
                "reward_amount = \"fifty\"",
                ":28: `loyalty.stamp_card[1].reward_amount`: must be an amount in NOK",
            ),
            (
                "reward_amount = \"50.00\"\n",
                "",
                ":21: `loyalty.stamp_card[1].reward_amount`: is required with reward = \
                 \"bonus-check\"",
            ),
            (
                "reward_title = \"NOK 50 off\"",
                "reward_title = \"NOK 50 off\"\nreward_description = \"Off anything\"",
                ":28: `loyalty.stamp_card[1].reward_description`: only with reward = \"coupon\"",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(COFFEE.contains(from), "{from}");
            let err = error(&COFFEE.replacen(from, to, 1));
            assert!(
                err.starts_with(&format!("/etc/loyaltyd/config.toml{expected}")),
                "{from} → {to}:\n  got      {err}\n  expected …{expected}"
            );
        }
    }

    #[test]
    fn a_coupon_takes_no_amount_and_unknown_keys_are_refused() {
        let err = error(&COFFEE.replacen(
            "reward_description = \"Any size\"",
            "reward_amount = \"10\"",
            1,
        ));
        assert!(
            err.contains(
                ":18: `loyalty.stamp_card[0].reward_amount`: only with reward = \"bonus-check\""
            ),
            "{err}"
        );
        let err = error(&COFFEE.replacen("stamps = 3", "stamps = 3\nstamp = 4", 1));
        assert!(err.contains("unknown field `stamp`"), "{err}");
        let err = error("[loyalty]\npoints_per_unit = -1\n");
        assert!(err.contains("points_per_unit"), "{err}");
        let err = error("[[loyalty.stamp_card]]\nid = \"x\"\n");
        assert!(err.contains("missing field `title`"), "{err}");
    }
}
