//! The members directory: the embedded membership store, keyed by phone number.

use flow::{CommunicationPreferences, Member, Msisdn, Profile, UnixMillis};
use sqlx::{SqliteConnection, SqlitePool};

use crate::error::{Fault, StoreError};
use crate::{OutboxRecord, Store, contact_id};

/// How many generated contact ids to skip, at most, because an administrator already gave them to
/// someone by hand. Each skip needs a hand-made id that matches a generated one exactly.
const MAX_ID_ATTEMPTS: usize = 64;

impl Store {
    /// The member with this phone number, if any.
    pub async fn find_member(&self, msisdn: &Msisdn) -> Result<Option<Member>, StoreError> {
        find(self.pool(), msisdn).await.map_err(|f| self.fail(f))
    }

    /// Enrolls the customer with `msisdn`: a new member with a generated contact id (`M-` and 12
    /// characters; see the crate documentation), the Login `profile`, `joined_at` and no bonus
    /// points.
    ///
    /// Enrollment is idempotent: if the number is already a member, that member is returned
    /// unchanged and nothing is written.
    pub async fn create_member(
        &self,
        msisdn: &Msisdn,
        profile: &Profile,
        joined_at: UnixMillis,
    ) -> Result<Member, StoreError> {
        self.write_tx(async |conn| create(conn, msisdn, profile, joined_at).await)
            .await
    }

    /// Creates a member as [`Store::create_member`] does and, in the same transaction, queues
    /// the outbox record `announce` makes of them (their registration at Vipps), so that no
    /// member exists whose announcement a crash lost. `announce` may decline (`None`); the member
    /// is created all the same. The record's key deduplicates as in [`Store::enqueue`].
    pub async fn create_member_and_enqueue(
        &self,
        msisdn: &Msisdn,
        profile: &Profile,
        joined_at: UnixMillis,
        announce: impl FnOnce(&Member) -> Option<OutboxRecord>,
    ) -> Result<Member, StoreError> {
        self.write_tx(async |conn| {
            let member = create(conn, msisdn, profile, joined_at).await?;
            if let Some(record) = announce(&member) {
                crate::outbox::enqueue(conn, &record).await?;
            }
            Ok(member)
        })
        .await
    }

    /// Keeps a copy of a member made elsewhere (the merchant's directory) unless one with the
    /// same contact id is kept already (the till's copy then stays as it is), and queues `record`
    /// (their registration at Vipps), if any, in the same transaction.
    pub async fn keep_member_and_enqueue(
        &self,
        member: &Member,
        record: Option<&OutboxRecord>,
    ) -> Result<(), StoreError> {
        self.write_tx(async |conn| {
            if fetch_revised(conn, &member.contact_id).await?.is_none() {
                upsert(conn, member).await?;
            }
            if let Some(record) = record {
                crate::outbox::enqueue(conn, record).await?;
            }
            Ok(())
        })
        .await
    }

    /// Inserts `member`, or replaces every field of the member with the same contact id (for
    /// seeding and administration). A phone number that belongs to another member is a
    /// [`StoreError::Conflict`].
    ///
    /// Replacing a member moves their account to its next revision, so a loyalty change computed
    /// from the account before cannot be saved over it (see [`crate::Write::SaveAccount`]).
    pub async fn upsert_member(&self, member: &Member) -> Result<(), StoreError> {
        self.write_tx(async |conn| upsert(conn, member).await).await
    }

    /// Every member, in order of joining.
    pub async fn list_members(&self) -> Result<Vec<Member>, StoreError> {
        list(self.pool()).await.map_err(|f| self.fail(f))
    }
}

/// The columns of [`MemberRow`], in order.
macro_rules! member_columns {
    () => {
        "contact_id, msisdn, sub, name, email, joined_at, bonus_points, \
         pref_email, pref_sms, pref_postal"
    };
}

/// A `members` row as stored.
#[derive(sqlx::FromRow)]
struct MemberRow {
    contact_id: String,
    msisdn: String,
    sub: Option<String>,
    name: Option<String>,
    email: Option<String>,
    joined_at: i64,
    bonus_points: i64,
    pref_email: bool,
    pref_sms: bool,
    pref_postal: bool,
}

impl TryFrom<MemberRow> for Member {
    type Error = Fault;

    fn try_from(row: MemberRow) -> Result<Self, Fault> {
        let msisdn = Msisdn::new(&row.msisdn).map_err(|e| {
            Fault::BadData(format!(
                "member {} has an invalid phone number: {e}",
                row.contact_id
            ))
        })?;
        Ok(Member {
            contact_id: row.contact_id,
            msisdn,
            sub: row.sub,
            name: row.name,
            email: row.email,
            joined_at: UnixMillis(row.joined_at),
            bonus_points: row.bonus_points,
            preferences: CommunicationPreferences {
                email: row.pref_email,
                sms: row.pref_sms,
                postal: row.pref_postal,
            },
        })
    }
}

/// A `members` row with the account's revision.
#[derive(sqlx::FromRow)]
struct RevisedMemberRow {
    #[sqlx(flatten)]
    member: MemberRow,
    revision: i64,
}

/// The member with this contact id and their account's revision, if any.
pub(crate) async fn fetch_revised(
    conn: &mut SqliteConnection,
    contact_id: &str,
) -> Result<Option<(Member, u64)>, Fault> {
    let Some(row) = sqlx::query_as::<_, RevisedMemberRow>(concat!(
        "SELECT ",
        member_columns!(),
        ", revision FROM members WHERE contact_id = ?"
    ))
    .bind(contact_id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let revision = u64::try_from(row.revision).map_err(|_| {
        Fault::BadData(format!(
            "member {contact_id} has a negative revision {}",
            row.revision
        ))
    })?;
    Ok(Some((Member::try_from(row.member)?, revision)))
}

/// The member with this phone number, if any.
pub(crate) async fn find(pool: &SqlitePool, msisdn: &Msisdn) -> Result<Option<Member>, Fault> {
    sqlx::query_as::<_, MemberRow>(concat!(
        "SELECT ",
        member_columns!(),
        " FROM members WHERE msisdn = ?"
    ))
    .bind(msisdn.as_str())
    .fetch_optional(pool)
    .await?
    .map(Member::try_from)
    .transpose()
}

/// Every member, oldest first.
pub(crate) async fn list(pool: &SqlitePool) -> Result<Vec<Member>, Fault> {
    sqlx::query_as::<_, MemberRow>(concat!(
        "SELECT ",
        member_columns!(),
        " FROM members ORDER BY joined_at, contact_id"
    ))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Member::try_from)
    .collect()
}

/// Enrolls `msisdn`, or returns the member who already has that number, unchanged.
pub(crate) async fn create(
    conn: &mut SqliteConnection,
    msisdn: &Msisdn,
    profile: &Profile,
    joined_at: UnixMillis,
) -> Result<Member, Fault> {
    let existing = sqlx::query_as::<_, MemberRow>(concat!(
        "SELECT ",
        member_columns!(),
        " FROM members WHERE msisdn = ?"
    ))
    .bind(msisdn.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        return Member::try_from(row);
    }
    let member = Member {
        contact_id: next_contact_id(conn).await?,
        msisdn: msisdn.clone(),
        sub: Some(profile.sub.clone()).filter(|s| !s.is_empty()),
        name: profile.name.clone(),
        email: profile.email.clone(),
        joined_at,
        bonus_points: 0,
        preferences: profile.preferences,
    };
    upsert(conn, &member).await?;
    tracing::debug!(contact_id = %member.contact_id, msisdn = %member.msisdn, "member created");
    Ok(member)
}

/// Takes the next sequence number and turns it into a contact id no member has yet.
async fn next_contact_id(conn: &mut SqliteConnection) -> Result<String, Fault> {
    for _ in 0..MAX_ID_ATTEMPTS {
        let (salt, seq) = sqlx::query_as::<_, (Vec<u8>, i64)>(
            "UPDATE store_meta SET next_member_seq = next_member_seq + 1 WHERE id = 1 \
             RETURNING member_id_salt, next_member_seq - 1",
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Fault::BadData("the store_meta row is missing".to_owned()))?;
        let salt = <[u8; 8]>::try_from(salt.as_slice())
            .map(u64::from_le_bytes)
            .map_err(|_| Fault::BadData("the member id salt is not 8 bytes".to_owned()))?;
        let id = u64::try_from(seq)
            .ok()
            .and_then(|seq| contact_id::derive(salt, seq))
            .ok_or_else(|| {
                Fault::BadData(format!("member sequence number {seq} is out of range"))
            })?;
        let taken: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM members WHERE contact_id = ?)")
                .bind(&id)
                .fetch_one(&mut *conn)
                .await?;
        if !taken {
            return Ok(id);
        }
    }
    Err(Fault::Conflict(format!(
        "{MAX_ID_ATTEMPTS} generated contact ids in a row were already taken by members added by \
         hand; give hand-made members ids that do not start with {:?}",
        contact_id::PREFIX
    )))
}

/// Inserts `member`, or replaces the member with the same contact id.
pub(crate) async fn upsert(conn: &mut SqliteConnection, member: &Member) -> Result<(), Fault> {
    let result = sqlx::query(concat!(
        "INSERT INTO members (",
        member_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (contact_id) DO UPDATE SET \
         msisdn = excluded.msisdn, sub = excluded.sub, name = excluded.name, \
         email = excluded.email, joined_at = excluded.joined_at, \
         bonus_points = excluded.bonus_points, pref_email = excluded.pref_email, \
         pref_sms = excluded.pref_sms, pref_postal = excluded.pref_postal, \
         revision = members.revision + 1"
    ))
    .bind(&member.contact_id)
    .bind(member.msisdn.as_str())
    .bind(&member.sub)
    .bind(&member.name)
    .bind(&member.email)
    .bind(member.joined_at.0)
    .bind(member.bonus_points)
    .bind(member.preferences.email)
    .bind(member.preferences.sms)
    .bind(member.preferences.postal)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(number_taken(conn, member, e).await),
    }
}

/// Turns a failed write of `member` into a [`Fault`]: a unique violation means its phone number
/// belongs to another member, which becomes a conflict that names that member (and masks the
/// number).
pub(crate) async fn number_taken(
    conn: &mut SqliteConnection,
    member: &Member,
    error: sqlx::Error,
) -> Fault {
    let sqlx::Error::Database(db) = &error else {
        return error.into();
    };
    if !db.is_unique_violation() {
        return error.into();
    }
    let holder: Option<String> =
        match sqlx::query_scalar("SELECT contact_id FROM members WHERE msisdn = ?")
            .bind(member.msisdn.as_str())
            .fetch_optional(&mut *conn)
            .await
        {
            Ok(holder) => holder,
            Err(e) => return e.into(),
        };
    Fault::Conflict(format!(
        "cannot save member {}: the phone number {} already belongs to member {}",
        member.contact_id,
        member.msisdn,
        holder.as_deref().unwrap_or("(unknown)")
    ))
}
