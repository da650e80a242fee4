//! Loyalty accounts: a member with their stamp cards and rewards, read and saved as one.
//!
//! An account is saved whole ([`crate::Write::SaveAccount`]): the member row, and exactly the
//! cards and rewards the account holds. It is saved only over the revision it was computed from
//! (the member row's `revision`), so two changes computed from one reading cannot both be saved.

use std::collections::HashSet;

use flow::program::{Account, IssuedReward, RewardKind, RewardState, StampCard};
use flow::{Currency, Member, Money, UnixMillis};
use sqlx::{SqliteConnection, SqlitePool};

use crate::error::{Fault, StoreError};
use crate::{Store, members};

/// The columns of [`RewardRow`], in order.
macro_rules! reward_columns {
    () => {
        "id, kind, title, description, amount_minor, currency, state, issued_at, valid_until, \
         finished_at, source_reference"
    };
}

impl Store {
    /// The loyalty account of the member with this contact id: the member, their stamp cards
    /// (by id) and every reward ever issued to them (by time of issue), read in one snapshot.
    /// `None` if there is no such member.
    pub async fn account(&self, contact_id: &str) -> Result<Option<Account>, StoreError> {
        read(self.pool(), async |conn| load(conn, contact_id).await)
            .await
            .map_err(|f| self.fail(f))
    }

    /// The account that holds the reward with this id (a coupon or bonus check shown at the
    /// till), or `None` if no member has it.
    pub async fn account_by_reward(&self, reward_id: &str) -> Result<Option<Account>, StoreError> {
        read(self.pool(), async |conn| {
            let holder: Option<String> =
                sqlx::query_scalar("SELECT contact_id FROM rewards WHERE id = ?")
                    .bind(reward_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            match holder {
                Some(contact_id) => load(conn, &contact_id).await,
                None => Ok(None),
            }
        })
        .await
        .map_err(|f| self.fail(f))
    }

    /// The member with this contact id, if any.
    pub async fn member_by_contact_id(
        &self,
        contact_id: &str,
    ) -> Result<Option<Member>, StoreError> {
        read(self.pool(), async |conn| {
            Ok(members::fetch_revised(conn, contact_id)
                .await?
                .map(|(member, _)| member))
        })
        .await
        .map_err(|f| self.fail(f))
    }
}

/// Runs `body` in a read transaction, so that its queries see one snapshot of the database.
async fn read<T>(
    pool: &SqlitePool,
    body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, Fault>,
) -> Result<T, Fault> {
    let mut tx = pool.begin().await?;
    let value = body(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}

/// The account of `contact_id`, if the member exists.
pub(crate) async fn load(
    conn: &mut SqliteConnection,
    contact_id: &str,
) -> Result<Option<Account>, Fault> {
    let Some((member, revision)) = members::fetch_revised(conn, contact_id).await? else {
        return Ok(None);
    };
    let stamp_cards = sqlx::query_as::<_, CardRow>(
        "SELECT card_id, title, stamps, required, reward_title FROM stamp_cards \
         WHERE contact_id = ? ORDER BY card_id",
    )
    .bind(contact_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| row.into_card(contact_id))
    .collect::<Result<_, _>>()?;
    let rewards = sqlx::query_as::<_, RewardRow>(concat!(
        "SELECT ",
        reward_columns!(),
        " FROM rewards WHERE contact_id = ? ORDER BY issued_at, id"
    ))
    .bind(contact_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(IssuedReward::try_from)
    .collect::<Result<_, _>>()?;
    Ok(Some(Account {
        member,
        stamp_cards,
        rewards,
        revision,
    }))
}

/// Saves `account` over the revision before its own: the member row, and exactly its cards
/// (stamped `at` where they changed) and rewards.
pub(crate) async fn save(
    conn: &mut SqliteConnection,
    account: &Account,
    at: UnixMillis,
) -> Result<(), Fault> {
    let contact_id = &account.member.contact_id;
    check(account)?;
    let Some(previous) = account.revision.checked_sub(1) else {
        return Err(Fault::Conflict(format!(
            "the account of member {contact_id} is at revision 0, which is no change; save the \
             account a loyalty operation returned"
        )));
    };
    save_member(conn, &account.member, previous, account.revision).await?;

    let kept: HashSet<&str> = account.stamp_cards.iter().map(|c| c.id.as_str()).collect();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT card_id FROM stamp_cards WHERE contact_id = ?")
            .bind(contact_id)
            .fetch_all(&mut *conn)
            .await?;
    for gone in stored.iter().filter(|id| !kept.contains(id.as_str())) {
        sqlx::query("DELETE FROM stamp_cards WHERE contact_id = ? AND card_id = ?")
            .bind(contact_id)
            .bind(gone)
            .execute(&mut *conn)
            .await?;
    }
    for card in &account.stamp_cards {
        save_card(conn, contact_id, card, at).await?;
    }

    let kept: HashSet<&str> = account.rewards.iter().map(|r| r.id.as_str()).collect();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM rewards WHERE contact_id = ?")
        .bind(contact_id)
        .fetch_all(&mut *conn)
        .await?;
    for gone in stored.iter().filter(|id| !kept.contains(id.as_str())) {
        sqlx::query("DELETE FROM rewards WHERE id = ?")
            .bind(gone)
            .execute(&mut *conn)
            .await?;
    }
    for reward in &account.rewards {
        save_reward(conn, contact_id, reward).await?;
    }
    Ok(())
}

/// Deletes the member, and with them (by cascade) their cards, rewards and purchases.
pub(crate) async fn delete_member(
    conn: &mut SqliteConnection,
    contact_id: &str,
) -> Result<(), Fault> {
    let deleted = sqlx::query("DELETE FROM members WHERE contact_id = ?")
        .bind(contact_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if deleted == 1 {
        Ok(())
    } else {
        Err(Fault::NotFound {
            what: "member",
            key: contact_id.to_owned(),
        })
    }
}

/// Refuses an account the store could not read back as saved: repeated ids, a card with as many
/// stamps as it needs.
fn check(account: &Account) -> Result<(), Fault> {
    let contact_id = &account.member.contact_id;
    let mut cards = HashSet::new();
    for card in &account.stamp_cards {
        if !cards.insert(card.id.as_str()) {
            return Err(Fault::Conflict(format!(
                "the account of member {contact_id} has stamp card {} twice",
                card.id
            )));
        }
        if card.required == 0 || card.stamps >= card.required {
            return Err(Fault::Conflict(format!(
                "stamp card {} of member {contact_id} has {} of {} stamps; a saved card has \
                 fewer stamps than it needs",
                card.id, card.stamps, card.required
            )));
        }
    }
    let mut rewards = HashSet::new();
    for reward in &account.rewards {
        if !rewards.insert(reward.id.as_str()) {
            return Err(Fault::Conflict(format!(
                "the account of member {contact_id} has reward {} twice",
                reward.id
            )));
        }
    }
    Ok(())
}

/// Replaces the member row if it is still at revision `previous`, moving it to `revision`.
async fn save_member(
    conn: &mut SqliteConnection,
    member: &Member,
    previous: u64,
    revision: u64,
) -> Result<(), Fault> {
    let to_sql = |r: u64| {
        i64::try_from(r).map_err(|_| Fault::Conflict(format!("revision {r} is out of range")))
    };
    let result = sqlx::query(
        "UPDATE members SET msisdn = ?, sub = ?, name = ?, email = ?, joined_at = ?, \
         bonus_points = ?, pref_email = ?, pref_sms = ?, pref_postal = ?, revision = ? \
         WHERE contact_id = ? AND revision = ?",
    )
    .bind(member.msisdn.as_str())
    .bind(&member.sub)
    .bind(&member.name)
    .bind(&member.email)
    .bind(member.joined_at.0)
    .bind(member.bonus_points)
    .bind(member.preferences.email)
    .bind(member.preferences.sms)
    .bind(member.preferences.postal)
    .bind(to_sql(revision)?)
    .bind(&member.contact_id)
    .bind(to_sql(previous)?)
    .execute(&mut *conn)
    .await;
    let updated = match result {
        Ok(done) => done.rows_affected(),
        Err(e) => return Err(members::number_taken(conn, member, e).await),
    };
    if updated == 1 {
        return Ok(());
    }
    let stored: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM members WHERE contact_id = ?")
            .bind(&member.contact_id)
            .fetch_optional(&mut *conn)
            .await?;
    match stored {
        None => Err(Fault::NotFound {
            what: "member",
            key: member.contact_id.clone(),
        }),
        Some(stored) => Err(Fault::Conflict(format!(
            "the account of member {} changed since it was read (it is at revision {stored}, the \
             change was made from revision {previous}); read the account again and redo the \
             change",
            member.contact_id
        ))),
    }
}

/// Inserts or updates one card; `updated_at` moves only when the card changed.
async fn save_card(
    conn: &mut SqliteConnection,
    contact_id: &str,
    card: &StampCard,
    at: UnixMillis,
) -> Result<(), Fault> {
    sqlx::query(
        "INSERT INTO stamp_cards \
         (contact_id, card_id, title, stamps, required, reward_title, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (contact_id, card_id) DO UPDATE SET title = excluded.title, \
         stamps = excluded.stamps, required = excluded.required, \
         reward_title = excluded.reward_title, updated_at = excluded.updated_at \
         WHERE title != excluded.title OR stamps != excluded.stamps \
         OR required != excluded.required OR reward_title != excluded.reward_title",
    )
    .bind(contact_id)
    .bind(&card.id)
    .bind(&card.title)
    .bind(card.stamps)
    .bind(card.required)
    .bind(&card.reward_title)
    .bind(at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts or updates one reward of `contact_id`; a reward id another member holds is a conflict.
async fn save_reward(
    conn: &mut SqliteConnection,
    contact_id: &str,
    reward: &IssuedReward,
) -> Result<(), Fault> {
    let (kind, amount_minor, currency) = match reward.kind {
        RewardKind::Coupon => (COUPON, None, None),
        RewardKind::BonusCheck { amount } => (
            BONUS_CHECK,
            Some(amount.minor),
            Some(amount.currency.code()),
        ),
    };
    let (state, finished_at) = match reward.state {
        RewardState::Active => (ACTIVE, None),
        RewardState::Redeemed { at } => (REDEEMED, Some(at.0)),
        RewardState::Deleted { at } => (DELETED, Some(at.0)),
    };
    let saved = sqlx::query(concat!(
        "INSERT INTO rewards (",
        reward_columns!(),
        ", contact_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title, \
         description = excluded.description, amount_minor = excluded.amount_minor, \
         currency = excluded.currency, state = excluded.state, issued_at = excluded.issued_at, \
         valid_until = excluded.valid_until, finished_at = excluded.finished_at, \
         source_reference = excluded.source_reference \
         WHERE rewards.contact_id = excluded.contact_id"
    ))
    .bind(&reward.id)
    .bind(kind)
    .bind(&reward.title)
    .bind(&reward.description)
    .bind(amount_minor)
    .bind(currency)
    .bind(state)
    .bind(reward.issued_at.0)
    .bind(reward.valid_until.0)
    .bind(finished_at)
    .bind(&reward.source_reference)
    .bind(contact_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if saved == 1 {
        Ok(())
    } else {
        Err(Fault::Conflict(format!(
            "reward {} cannot be saved for member {contact_id}: another member holds it",
            reward.id
        )))
    }
}

const COUPON: &str = "coupon";
const BONUS_CHECK: &str = "bonus_check";
const ACTIVE: &str = "active";
const REDEEMED: &str = "redeemed";
const DELETED: &str = "deleted";

/// A `stamp_cards` row as read.
#[derive(sqlx::FromRow)]
struct CardRow {
    card_id: String,
    title: String,
    stamps: i64,
    required: i64,
    reward_title: String,
}

impl CardRow {
    fn into_card(self, contact_id: &str) -> Result<StampCard, Fault> {
        let count = |n: i64| {
            u32::try_from(n).map_err(|_| {
                Fault::BadData(format!(
                    "stamp card {} of member {contact_id} has an impossible count {n}",
                    self.card_id
                ))
            })
        };
        Ok(StampCard {
            stamps: count(self.stamps)?,
            required: count(self.required)?,
            id: self.card_id,
            title: self.title,
            reward_title: self.reward_title,
        })
    }
}

/// A `rewards` row as read.
#[derive(sqlx::FromRow)]
struct RewardRow {
    id: String,
    kind: String,
    title: String,
    description: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    state: String,
    issued_at: i64,
    valid_until: i64,
    finished_at: Option<i64>,
    source_reference: String,
}

impl TryFrom<RewardRow> for IssuedReward {
    type Error = Fault;

    fn try_from(row: RewardRow) -> Result<Self, Fault> {
        let bad = |what: String| Fault::BadData(format!("reward {} has {what}", row.id));
        let kind = match (row.kind.as_str(), row.amount_minor, row.currency.as_deref()) {
            (COUPON, None, None) => RewardKind::Coupon,
            (BONUS_CHECK, Some(minor), Some(code)) => {
                let currency = Currency::from_code(code)
                    .ok_or_else(|| bad(format!("an unknown currency {code:?}")))?;
                RewardKind::BonusCheck {
                    amount: Money::new(currency, minor),
                }
            }
            (kind, _, _) => return Err(bad(format!("an unusable kind or amount ({kind:?})"))),
        };
        let state = match (row.state.as_str(), row.finished_at) {
            (ACTIVE, None) => RewardState::Active,
            (REDEEMED, Some(at)) => RewardState::Redeemed { at: UnixMillis(at) },
            (DELETED, Some(at)) => RewardState::Deleted { at: UnixMillis(at) },
            (state, _) => return Err(bad(format!("an unusable state {state:?}"))),
        };
        Ok(IssuedReward {
            id: row.id,
            kind,
            title: row.title,
            description: row.description,
            issued_at: UnixMillis(row.issued_at),
            valid_until: UnixMillis(row.valid_until),
            state,
            source_reference: row.source_reference,
        })
    }
}
