//! The loyalty program at the till: crediting members' captured purchases, redeeming rewards,
//! and member administration over the register protocol.
//!
//! The rules are `flow::program`'s. This module reads accounts from the store, applies the rules,
//! and makes each result durable before anyone hears of it.
//!
//! # One change, one batch
//!
//! Every change to an account is one [`store::Store::write`] batch: the account, saved over the
//! revision it was read at; the purchase marked accrued (or the member deleted); and every
//! Loyalty API event the change makes, queued in the outbox. Only once the batch is on disk is
//! the outbox relay nudged, the register told (a `loyalty` event) and the command answered. If
//! the account changed between reading and writing (a revision conflict), nothing of the batch
//! is kept and the operation starts over from a fresh reading, up to [`TRIES`] times.
//!
//! # Expired rewards
//!
//! Every operation works on the account as it is *now*: rewards past their validity are retired
//! first ([`flow::program::expire`], which withdraws them from the app with `coupon.deleted` or
//! `bonusCheck.deleted`), in the same batch as the operation itself. A `member` reply, a
//! `loyalty` event or the app therefore never shows a coupon that can no longer be used, and
//! redeeming one is answered `reward_expired`. A look-up that finds nothing expired writes
//! nothing.
//!
//! # Accrual
//!
//! The lane records a member's purchase (pending) in the transaction that queues its capture.
//! Once the capture has gone through, [`on_captured`] accrues it: points and stamps, a reward for
//! a full card. The purchase is marked accrued in the batch that saves the account and queues
//! the events, and the store refuses to mark a purchase twice, so no purchase is accrued twice.
//! If the accrual cannot be written, the purchase stays pending and [`reconcile`] accrues it at
//! the next start, so none is lost either.
//!
//! # Register commands
//!
//! [`handle`] answers `member`, `memberUpdate`, `memberDelete`, `memberResync` and `redeem` as
//! [`register::IncomingRequest`] states. Where the contract leaves room, it decides: a reward
//! withdrawn because it expired is `reward_expired` (not `reward_used`); and `memberDelete` of the
//! member who is the customer at the till is `unavailable` until that sale is paid or cancelled,
//! since the lane would record the purchase for a member who no longer exists.
//!
//! # Operation references
//!
//! Administrative changes are not tied to a payment, so each gets its own reference,
//! `<lane>-<instance>-op<n>` (see [`flow::program::Reference`]), from which `flow::program`
//! derives the event ids: unique per merchant, as the lane's payment references are.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flow::program::{
    Account, Change, IssuedReward, Program, ProgramEvent, RedeemError, Reference, ReferenceError,
    RewardKind, RewardState, StampCard,
};
use flow::{JournalState, LaneStatus, Member, Msisdn, MsisdnError, OutboxItem, UnixMillis};
use register::member::{MemberInfo, MemberLookup, PreferencesUpdate, RewardInfo, StampCardInfo};
use register::{ErrorCode, Event, IncomingRequest, Responder};
use store::{PurchaseState, StoreError, Write};
use tokio::sync::Notify;
use tracing::{debug, error, info, warn};

use crate::clock::wall_now;
use crate::loyalty::timestamp;
use crate::outbox::{self, RecordError};

/// How many times an operation is tried when the account keeps changing under it.
pub const TRIES: u32 = 3;

/// The loyalty program and what it needs to run: the rules, the store, the register (for
/// `loyalty` events) and the outbox relay (woken when events are queued).
#[derive(Debug)]
pub struct Programs {
    program: Program,
    store: store::Store,
    /// Where members are kept: a deleted member is deleted there too.
    directory: crate::directory::Directory,
    register: register::ServerHandle,
    relay: Arc<Notify>,
    /// Prepended to 8-digit numbers typed in a `member` command.
    country_code: String,
    operations: Operations,
}

impl Programs {
    /// The program for the lane `lane`. `instance` must differ between runs of the daemon (the
    /// lane's own instance id will do): with the lane id and a counter it names administrative
    /// operations uniquely.
    pub fn new(
        program: Program,
        store: store::Store,
        directory: crate::directory::Directory,
        register: register::ServerHandle,
        relay: Arc<Notify>,
        lane: &flow::LaneConfig,
        instance: &str,
    ) -> Self {
        Self {
            program,
            store,
            directory,
            register,
            relay,
            country_code: lane.default_country_code.clone(),
            operations: Operations::new(&lane.lane_id, instance),
        }
    }
}

/// Handles a member-administration or redemption request from the register (see
/// [`IncomingRequest`] for each command's contract), answering it through `responder`. `lane` is
/// the lane as it is now: without a member named, `member` and `redeem` mean the customer at the
/// till.
pub async fn handle(
    programs: &Programs,
    request: IncomingRequest,
    responder: Responder,
    lane: &LaneStatus,
) {
    let now = wall_now();
    match request {
        IncomingRequest::Member(lookup) => match programs.show(lookup, lane, now).await {
            Ok(account) => responder.reply_member(programs.member_info(&account)),
            Err(e) => refuse(responder, "member", &e),
        },
        IncomingRequest::MemberUpdate {
            contact_id,
            preferences,
        } => match programs.update(&contact_id, preferences, now).await {
            Ok(account) => {
                info!(contact_id = %contact_id, "member preferences updated");
                let member = programs.member_info(&account);
                programs.register.publish(Event::loyalty_updated(&member));
                responder.reply_member(member);
            }
            Err(e) => refuse(responder, "memberUpdate", &e),
        },
        IncomingRequest::MemberDelete { contact_id } => {
            match programs.delete(&contact_id, lane, now).await {
                Ok(()) => {
                    info!(contact_id = %contact_id, "member deleted");
                    programs
                        .register
                        .publish(Event::loyalty_deleted(contact_id.clone()));
                    responder.reply_member_deleted(contact_id);
                }
                Err(e) => refuse(responder, "memberDelete", &e),
            }
        }
        IncomingRequest::MemberResync { contact_id } => {
            match programs.resync(&contact_id, now).await {
                Ok((account, events)) => {
                    info!(contact_id = %contact_id, events, "member state queued for Vipps again");
                    programs
                        .register
                        .publish(Event::loyalty_updated(&programs.member_info(&account)));
                    responder.reply_member_resynced(contact_id, events);
                }
                Err(e) => refuse(responder, "memberResync", &e),
            }
        }
        IncomingRequest::Redeem { reward, contact_id } => {
            match programs.redeem(&reward, contact_id, lane, now).await {
                Ok((account, redeemed)) => {
                    info!(contact_id = %account.member.contact_id, reward = %redeemed.id, "reward redeemed");
                    let member = programs.member_info(&account);
                    let redeemed = reward_info(&redeemed);
                    programs
                        .register
                        .publish(Event::loyalty_redeemed(&member, redeemed.clone()));
                    responder.reply_reward(redeemed);
                }
                Err(e) => refuse(responder, "redeem", &e),
            }
        }
        IncomingRequest::Lane(_)
        | IncomingRequest::Status
        | IncomingRequest::Devices
        | IncomingRequest::Queue(_)
        | IncomingRequest::QueueRetry { .. }
        | IncomingRequest::QueueDrop { .. }
        | IncomingRequest::Refund(_) => {
            error!("a command that is not the loyalty program's was handed to it");
            responder.error(
                ErrorCode::Unavailable,
                "loyaltyd could not handle the command",
            );
        }
    }
}

/// A capture went through: accrues the member's purchase with that reference, if there is one
/// still pending, and tells the register what it earned (a `loyalty` event, when it earned
/// anything: points, a stamp or a reward). If the accrual cannot be written, the purchase stays
/// pending for [`reconcile`] at the next start.
pub async fn on_captured(programs: &Programs, reference: &str) {
    match programs.accrue_pending(reference).await {
        Ok(Some(accrued)) => programs.announce(&accrued),
        Ok(None) => debug!(%reference, "no member purchase waits for this capture"),
        Err(e) => error!(
            %reference,
            "the purchase could not be accrued; it stays pending and is accrued at the next start: {e}"
        ),
    }
}

/// What [`reconcile`] did with the purchases it found pending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Captured payments whose purchase was accrued now.
    pub accrued: usize,
    /// Failed or cancelled payments: their purchases will never be accrued.
    pub voided: usize,
    /// Payments not yet captured (their capture is still queued), left for [`on_captured`].
    pub waiting: usize,
    /// Purchases that could not be dealt with now (store trouble); they stay pending.
    pub failed: usize,
}

/// At startup: finishes what the last run left. Every pending purchase whose payment the journal
/// shows captured is accrued; failed or cancelled, voided; not yet captured, left for
/// [`on_captured`] (its capture is still in the outbox). Call it before the lane's driver runs.
pub async fn reconcile(programs: &Programs) -> Reconciliation {
    let mut done = Reconciliation::default();
    let pending = match programs.store.pending_purchases().await {
        Ok(pending) => pending,
        Err(e) => {
            error!(
                "cannot read the purchases waiting for accrual; they are tried at the next start: {e}"
            );
            return done;
        }
    };
    for purchase in pending {
        let reference = purchase.reference.as_str();
        let state = match programs.store.payment(reference).await {
            Ok(row) => row.map(|row| row.state),
            Err(e) => {
                error!(%reference, "cannot read the payment of a pending purchase: {e}");
                done.failed += 1;
                continue;
            }
        };
        match state {
            Some(JournalState::Captured) => match programs.accrue_pending(reference).await {
                Ok(Some(accrued)) => {
                    programs.announce(&accrued);
                    done.accrued += 1;
                }
                Ok(None) => {}
                Err(e) => {
                    error!(%reference, "the purchase could not be accrued; it stays pending: {e}");
                    done.failed += 1;
                }
            },
            Some(state @ (JournalState::Failed | JournalState::Cancelled)) => {
                let void = [Write::VoidPurchase {
                    reference: purchase.reference.clone(),
                    at: wall_now(),
                }];
                match programs.store.write(&void).await {
                    Ok(_) => {
                        info!(%reference, state = state.as_str(), "purchase voided: its payment was not captured");
                        done.voided += 1;
                    }
                    Err(e) => {
                        error!(%reference, "cannot void the purchase of a {} payment: {e}", state.as_str());
                        done.failed += 1;
                    }
                }
            }
            Some(JournalState::Pending | JournalState::Authorized) => done.waiting += 1,
            None => {
                warn!(%reference, "a member purchase has no journaled payment; it is left pending");
                done.waiting += 1;
            }
        }
    }
    if done != Reconciliation::default() {
        info!(
            accrued = done.accrued,
            voided = done.voided,
            waiting = done.waiting,
            failed = done.failed,
            "purchases the last run left pending"
        );
    }
    done
}

/// Why an operation did not go through, with the register protocol's code.
#[derive(Debug, thiserror::Error)]
enum OpError {
    /// `member` or `redeem` for the customer at the till, and there is none.
    #[error("no customer: scan the customer's QR code or type the number")]
    NoCustomer,
    /// A typed number that is not a phone number.
    #[error("{0}")]
    InvalidPhone(MsisdnError),
    /// No such member.
    #[error("{0}")]
    NotAMember(Who),
    /// The member holds no reward with this id.
    #[error("member {member} has no coupon or bonus check {reward}")]
    UnknownReward {
        /// The member.
        member: String,
        /// The reward asked for.
        reward: String,
    },
    /// The reward was redeemed before.
    #[error("{0} has been redeemed already")]
    RewardUsed(String),
    /// The reward's validity has ended.
    #[error("{0} has expired and can no longer be redeemed")]
    RewardExpired(String),
    /// `memberDelete` of the customer at the till.
    #[error(
        "member {0} is the customer at the till; finish or cancel the sale, then delete the member"
    )]
    AtTheTill(String),
    /// The account changed under every try.
    #[error(
        "the member's account kept changing while it was being updated ({TRIES} tries): {0}; try again"
    )]
    Contended(String),
    /// The database failed.
    #[error("the loyalty database cannot be read or written: {0}")]
    Store(#[from] StoreError),
    /// The operation could not be named (a lane id and instance that leave no room).
    #[error("cannot name the operation: {0}")]
    Reference(#[from] ReferenceError),
    /// An event could not be put in outbox form.
    #[error("cannot queue the change for Vipps: {0}")]
    Record(RecordError),
    /// The merchant's members directory did not do what was asked.
    #[error("{0}")]
    Directory(crate::directory::DirectoryError),
}

/// Who a `not_a_member` answer is about.
#[derive(Debug)]
enum Who {
    /// A contact id.
    ContactId(String),
    /// A typed number (never repeated: answers and logs are not the place for it).
    Phone,
    /// The customer at the till.
    Customer,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContactId(id) => write!(f, "{id} is not a member"),
            Self::Phone => f.write_str("no member has this phone number"),
            Self::Customer => f.write_str("the customer at the till is not a member"),
        }
    }
}

impl OpError {
    /// The register protocol's code.
    fn code(&self) -> ErrorCode {
        match self {
            Self::NoCustomer => ErrorCode::Rejected(flow::RejectCode::NoCustomer),
            Self::InvalidPhone(_) => ErrorCode::Rejected(flow::RejectCode::InvalidPhone),
            Self::NotAMember(_) => ErrorCode::NotAMember,
            Self::UnknownReward { .. } => ErrorCode::UnknownReward,
            Self::RewardUsed(_) => ErrorCode::RewardUsed,
            Self::RewardExpired(_) => ErrorCode::RewardExpired,
            Self::AtTheTill(_)
            | Self::Contended(_)
            | Self::Store(_)
            | Self::Reference(_)
            | Self::Record(_)
            | Self::Directory(_) => ErrorCode::Unavailable,
        }
    }

    /// The refusal for a redemption the rules turned down.
    fn redeem(member: &str, e: RedeemError) -> Self {
        match e {
            RedeemError::UnknownReward(reward) | RedeemError::WrongMember { reward } => {
                Self::UnknownReward {
                    member: member.to_owned(),
                    reward,
                }
            }
            RedeemError::AlreadyRedeemed { reward, .. } => Self::RewardUsed(reward),
            // Rewards are withdrawn only when they expire.
            RedeemError::Withdrawn { reward, .. } | RedeemError::Expired { reward, .. } => {
                Self::RewardExpired(reward)
            }
        }
    }
}

/// Answers `command` with `e`, logging what the operator should see.
fn refuse(responder: Responder, command: &str, e: &OpError) {
    match e {
        OpError::Contended(_)
        | OpError::Store(_)
        | OpError::Reference(_)
        | OpError::Record(_)
        | OpError::Directory(_) => {
            error!(command, "loyalty command failed: {e}");
        }
        _ => debug!(command, code = e.code().as_str(), "loyalty command refused"),
    }
    responder.error(e.code(), &e.to_string());
}

/// A purchase just accrued.
#[derive(Debug)]
struct Accrued {
    /// The payment.
    reference: String,
    /// The account before the purchase (expired rewards retired).
    before: Account,
    /// The account after.
    after: Account,
    /// Whether the purchase earned anything (points, a stamp, a reward).
    earned: bool,
}

impl Programs {
    /// `member`: the account named, or the customer's at the till.
    async fn show(
        &self,
        lookup: Option<MemberLookup>,
        lane: &LaneStatus,
        now: UnixMillis,
    ) -> Result<Account, OpError> {
        let contact_id = match lookup {
            None => self.customer(lane).await?.contact_id,
            Some(MemberLookup::ContactId(id)) => id,
            Some(MemberLookup::Phone(number)) => {
                let msisdn =
                    Msisdn::parse(&number, &self.country_code).map_err(OpError::InvalidPhone)?;
                self.store
                    .find_member(&msisdn)
                    .await?
                    .ok_or(OpError::NotAMember(Who::Phone))?
                    .contact_id
            }
        };
        let contact_id = contact_id.as_str();
        retrying(|| async move {
            let mut batch = Batch::default();
            let account = self.current(contact_id, now, &mut batch).await?;
            self.commit(batch).await?;
            Ok(account)
        })
        .await
    }

    /// `memberUpdate`: new communication preferences, sent to Vipps.
    async fn update(
        &self,
        contact_id: &str,
        update: PreferencesUpdate,
        now: UnixMillis,
    ) -> Result<Account, OpError> {
        let op = &self.operations.next()?;
        retrying(|| async move {
            let mut batch = Batch::default();
            let account = self.current(contact_id, now, &mut batch).await?;
            let preferences = update.apply(account.member.preferences);
            let change = flow::program::update_preferences(&account, preferences, op, now);
            let account = batch.change(change, now)?;
            self.commit(batch).await?;
            Ok(account)
        })
        .await
    }

    /// `memberDelete`: the member, their cards, rewards and purchases go, and Vipps is told.
    ///
    /// Not while the member is the customer at the till: the lane would record their purchase
    /// for a member that no longer exists. Once the sale is paid or cancelled, they can go.
    async fn delete(
        &self,
        contact_id: &str,
        lane: &LaneStatus,
        now: UnixMillis,
    ) -> Result<(), OpError> {
        if let Some(flow::Membership::Member {
            contact_id: at_till,
        }) = &lane.membership
            && at_till == contact_id
        {
            return Err(OpError::AtTheTill(contact_id.to_owned()));
        }
        let op = &self.operations.next()?;
        let not_a_member = &|| OpError::NotAMember(Who::ContactId(contact_id.to_owned()));
        if self.store.account(contact_id).await?.is_none() {
            return Err(not_a_member());
        }
        // The merchant's directory first: if it keeps the member, so does the till, and the
        // member is not announced deleted at Vipps while the next lookup would bring them back.
        self.directory
            .delete(contact_id)
            .await
            .map_err(OpError::Directory)?;
        retrying(|| async move {
            let account = self
                .store
                .account(contact_id)
                .await?
                .ok_or_else(not_a_member)?;
            let mut batch = Batch::default();
            batch.writes.push(Write::DeleteMember {
                contact_id: contact_id.to_owned(),
            });
            batch.event(flow::program::delete(account, op, now), now)?;
            match self.commit(batch).await {
                Err(OpError::Store(StoreError::NotFound { .. })) => Err(not_a_member()),
                other => other.map(|_| ()),
            }
        })
        .await
    }

    /// `memberResync`: the member's whole state queued for Vipps again. Returns the account and
    /// how many events were queued.
    async fn resync(&self, contact_id: &str, now: UnixMillis) -> Result<(Account, u64), OpError> {
        let op = &self.operations.next()?;
        retrying(|| async move {
            let mut batch = Batch::default();
            let account = self.current(contact_id, now, &mut batch).await?;
            let change = flow::program::resync(&self.program, &account, op, now);
            let account = batch.change(change, now)?;
            let events = self.commit(batch).await?;
            Ok((account, events))
        })
        .await
    }

    /// `redeem`: the reward of the member named (or of the customer at the till) is used.
    /// Returns the holder's account afterwards and the reward, redeemed.
    async fn redeem(
        &self,
        reward: &str,
        contact_id: Option<String>,
        lane: &LaneStatus,
        now: UnixMillis,
    ) -> Result<(Account, IssuedReward), OpError> {
        let customer = match contact_id {
            Some(id) => {
                if self.store.member_by_contact_id(&id).await?.is_none() {
                    return Err(OpError::NotAMember(Who::ContactId(id)));
                }
                id
            }
            None => self.customer(lane).await?.contact_id,
        };
        let customer = customer.as_str();
        let unknown = &|| OpError::UnknownReward {
            member: customer.to_owned(),
            reward: reward.to_owned(),
        };
        retrying(|| async move {
            let holder = self
                .store
                .account_by_reward(reward)
                .await?
                .filter(|holder| holder.member.contact_id == customer)
                .ok_or_else(unknown)?;
            let mut batch = Batch::default();
            let holder = self.retire_expired(holder, now, &mut batch)?;
            match flow::program::redeem(&holder, customer, reward, now) {
                Ok(change) => {
                    let account = batch.change(change, now)?;
                    self.commit(batch).await?;
                    let redeemed = account.reward(reward).cloned().ok_or_else(unknown)?;
                    Ok((account, redeemed))
                }
                Err(e) => {
                    // What expired on the way stays retired.
                    self.commit(batch).await?;
                    Err(OpError::redeem(customer, e))
                }
            }
        })
        .await
    }

    /// Accrues the purchase with this reference if it is pending. `None` when there is nothing
    /// to do: no member's purchase has this reference, or it was accrued or voided before.
    async fn accrue_pending(&self, reference: &str) -> Result<Option<Accrued>, OpError> {
        retrying(|| async move {
            let now = wall_now();
            let Some(row) = self.store.purchase(reference).await? else {
                return Ok(None);
            };
            if row.state != PurchaseState::Pending {
                return Ok(None);
            }
            let purchase = row.purchase;
            // A deleted member's purchases are deleted with them.
            let Some(account) = self.store.account(&purchase.contact_id).await? else {
                return Ok(None);
            };
            let mut batch = Batch::default();
            let before = self.retire_expired(account, now, &mut batch)?;
            let change = match flow::program::accrue(&self.program, &before, &purchase) {
                Ok(change) => change,
                Err(e) => {
                    // Not a reason that goes away: stop offering the purchase.
                    error!(%reference, "purchase voided, it cannot be accrued: {e}");
                    self.store
                        .write(&[Write::VoidPurchase {
                            reference: purchase.reference.clone(),
                            at: now,
                        }])
                        .await?;
                    return Ok(None);
                }
            };
            let earned = !change.events.is_empty();
            let after = batch.change(change, now)?;
            batch.writes.push(Write::MarkAccrued {
                reference: purchase.reference.clone(),
                at: now,
            });
            self.commit(batch).await?;
            Ok(Some(Accrued {
                reference: purchase.reference.to_string(),
                before,
                after,
                earned,
            }))
        })
        .await
    }

    /// Logs an accrual and, if it earned anything, tells the register.
    fn announce(&self, accrued: &Accrued) {
        let points = accrued
            .after
            .member
            .bonus_points
            .saturating_sub(accrued.before.member.bonus_points);
        let issued: Vec<RewardInfo> = accrued
            .after
            .rewards
            .iter()
            .filter(|r| accrued.before.reward(&r.id).is_none())
            .map(reward_info)
            .collect();
        info!(
            reference = %accrued.reference,
            contact_id = %accrued.after.member.contact_id,
            points,
            rewards = issued.len(),
            "purchase accrued"
        );
        if accrued.earned {
            let member = self.member_info(&accrued.after);
            self.register.publish(Event::loyalty_accrued(
                &member,
                accrued.reference.clone(),
                points,
                issued,
            ));
        }
    }

    /// The member identified at the till.
    async fn customer(&self, lane: &LaneStatus) -> Result<Member, OpError> {
        let msisdn = lane.customer.as_ref().ok_or(OpError::NoCustomer)?;
        self.store
            .find_member(msisdn)
            .await?
            .ok_or(OpError::NotAMember(Who::Customer))
    }

    /// The account of `contact_id` as it is at `now`: rewards past their validity are retired,
    /// and that change is added to `batch`.
    async fn current(
        &self,
        contact_id: &str,
        now: UnixMillis,
        batch: &mut Batch,
    ) -> Result<Account, OpError> {
        let account = self
            .store
            .account(contact_id)
            .await?
            .ok_or_else(|| OpError::NotAMember(Who::ContactId(contact_id.to_owned())))?;
        self.retire_expired(account, now, batch)
    }

    /// `account` with the rewards past their validity at `now` retired; the change goes into
    /// `batch`.
    fn retire_expired(
        &self,
        account: Account,
        now: UnixMillis,
        batch: &mut Batch,
    ) -> Result<Account, OpError> {
        match flow::program::expire(&account, now) {
            Some(change) => {
                info!(
                    contact_id = %account.member.contact_id,
                    rewards = change.events.len(),
                    "expired rewards withdrawn"
                );
                batch.change(change, now)
            }
            None => Ok(account),
        }
    }

    /// Writes `batch` in one transaction and wakes the relay if it queued events. Returns how
    /// many events it queued.
    async fn commit(&self, batch: Batch) -> Result<u64, OpError> {
        if batch.writes.is_empty() {
            return Ok(0);
        }
        self.store.write(&batch.writes).await?;
        if batch.events > 0 {
            self.relay.notify_one();
        }
        Ok(batch.events)
    }

    /// A member as the register protocol shows them: stamp cards in the program's order (cards
    /// whose rule is gone last, by id), rewards in order of issue.
    fn member_info(&self, account: &Account) -> MemberInfo {
        let rank = |card: &StampCard| {
            self.program
                .stamp_cards()
                .iter()
                .position(|rule| rule.id == card.id)
                .unwrap_or(usize::MAX)
        };
        let mut cards: Vec<&StampCard> = account.stamp_cards.iter().collect();
        cards.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.id.cmp(&b.id)));
        let member = &account.member;
        MemberInfo {
            contact_id: member.contact_id.clone(),
            phone: member.msisdn.e164(),
            name: member.name.clone(),
            email: member.email.clone(),
            joined_at: timestamp(member.joined_at),
            bonus_points: member.bonus_points,
            preferences: member.preferences.into(),
            stamp_cards: cards
                .into_iter()
                .map(|card| StampCardInfo {
                    id: card.id.clone(),
                    title: card.title.clone(),
                    stamps: card.stamps,
                    required: card.required,
                })
                .collect(),
            rewards: account.rewards.iter().map(reward_info).collect(),
        }
    }
}

/// A reward as the register protocol shows it.
fn reward_info(reward: &IssuedReward) -> RewardInfo {
    let (kind, amount) = match reward.kind {
        RewardKind::Coupon => (register::member::RewardKind::Coupon, None),
        RewardKind::BonusCheck { amount } => (
            register::member::RewardKind::BonusCheck,
            Some(amount.into()),
        ),
    };
    RewardInfo {
        id: reward.id.clone(),
        kind,
        title: reward.title.clone(),
        description: reward.description.clone(),
        amount,
        state: match reward.state {
            RewardState::Active => register::member::RewardState::Active,
            RewardState::Redeemed { .. } => register::member::RewardState::Redeemed,
            RewardState::Deleted { .. } => register::member::RewardState::Deleted,
        },
        valid_until: Some(timestamp(reward.valid_until)),
    }
}

/// Runs `attempt` until it is not refused for a revision conflict, at most [`TRIES`] times.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, OpError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OpError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(OpError::Store(StoreError::Conflict(reason))) if tries < TRIES => {
                debug!(
                    tries,
                    "the account changed while it was being updated, redoing: {reason}"
                );
                tries += 1;
            }
            Err(OpError::Store(StoreError::Conflict(reason))) => {
                return Err(OpError::Contended(reason));
            }
            other => return other,
        }
    }
}

/// The writes of one operation, to be applied in one transaction.
#[derive(Debug, Default)]
struct Batch {
    writes: Vec<Write>,
    /// How many of the writes queue a loyalty event.
    events: u64,
}

impl Batch {
    /// Adds a program change: the account (saved over the revision it came from) and its events.
    /// Returns the account.
    fn change(&mut self, change: Change, at: UnixMillis) -> Result<Account, OpError> {
        let Change { account, events } = change;
        self.writes.push(Write::SaveAccount {
            account: account.clone(),
            at,
        });
        for event in events {
            self.event(event, at)?;
        }
        Ok(account)
    }

    /// Adds one event for the outbox. An event the Loyalty API could never take (as the lane's
    /// are, see `driver`) is logged and left out; the change itself stands.
    fn event(&mut self, event: ProgramEvent, at: UnixMillis) -> Result<(), OpError> {
        let item = OutboxItem::Loyalty(event.into());
        match outbox::record(&item, at) {
            Ok(record) => {
                self.writes.push(Write::Enqueue(record));
                self.events += 1;
                Ok(())
            }
            Err(e @ RecordError::Loyalty(_)) => {
                error!(key = item.key(), "loyalty event not queued: {e}");
                Ok(())
            }
            Err(e) => Err(OpError::Record(e)),
        }
    }
}

/// Names administrative operations: `<lane>-<instance>-op<n>`.
#[derive(Debug)]
struct Operations {
    prefix: String,
    counter: AtomicU64,
}

impl Operations {
    /// The longest lane id and instance kept in a reference (as the lane keeps them).
    const MAX_LANE: usize = 16;
    const MAX_INSTANCE: usize = 12;

    fn new(lane: &str, instance: &str) -> Self {
        let lane: String = lane
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(Self::MAX_LANE)
            .collect();
        let instance: String = instance
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(Self::MAX_INSTANCE)
            .collect();
        let lane = if lane.is_empty() {
            "lane".to_owned()
        } else {
            lane
        };
        Self {
            prefix: format!("{lane}-{instance}"),
            counter: AtomicU64::new(0),
        }
    }

    /// The next operation's reference.
    fn next(&self) -> Result<Reference, ReferenceError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        Reference::new(&format!("{}-op{n}", self.prefix))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use flow::program::{Purchase, Reward, StampCardRule};
    use flow::{CommunicationPreferences, Currency, JournalEntry, Money};
    use serde_json::Value;
    use store::OutboxFilter;
    use tokio::sync::mpsc;

    use super::*;

    const MEMBER: &str = "M-1";
    const NUMBER: &str = "4712345678";
    /// A time well in the past, so that rewards issued then have expired by now.
    const LONG_AGO: UnixMillis = UnixMillis(1_600_000_000_000);

    struct Fixture {
        _dir: tempfile::TempDir,
        store: store::Store,
        programs: Programs,
        socket: PathBuf,
        incoming: mpsc::Receiver<register::Incoming>,
    }

    /// One point per krone; a coupon for every three purchases on the coffee card.
    fn program() -> Program {
        Program::new(
            1,
            vec![StampCardRule {
                id: "coffee".to_owned(),
                title: "Coffee card".to_owned(),
                stamps_required: 3,
                min_amount: None,
                reward: Reward::Coupon {
                    title: "A free coffee".to_owned(),
                    description: None,
                    valid_for_days: 30,
                },
            }],
        )
        .expect("valid program")
    }

    /// A real database file with one member, and a real register socket.
    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store::Store::open(&dir.path().join("loyaltyd.db"))
            .await
            .expect("store");
        store
            .upsert_member(&Member {
                contact_id: MEMBER.to_owned(),
                msisdn: Msisdn::new(NUMBER).expect("msisdn"),
                sub: None,
                name: Some("Kari".to_owned()),
                email: None,
                joined_at: LONG_AGO,
                bonus_points: 0,
                preferences: CommunicationPreferences::default(),
            })
            .await
            .expect("seed member");
        let socket = dir.path().join("register.sock");
        let (register, incoming) = register::Server::bind(register::ServerConfig {
            path: socket.clone(),
            ..register::ServerConfig::default()
        })
        .await
        .expect("register socket");
        let programs = Programs::new(
            program(),
            store.clone(),
            crate::directory::Directory::Embedded(store.clone()),
            register,
            Arc::new(Notify::new()),
            &flow::LaneConfig::new("till-1"),
            "abcd1234",
        );
        Fixture {
            _dir: dir,
            store,
            programs,
            socket,
            incoming,
        }
    }

    fn nok(minor: i64) -> Money {
        Money::new(Currency::Nok, minor)
    }

    fn lane(customer: Option<&str>) -> LaneStatus {
        LaneStatus {
            lane_id: "till-1".to_owned(),
            session: customer.map(|_| 1),
            customer: customer.map(|n| Msisdn::new(n).expect("msisdn")),
            membership: None,
            enrolling: false,
            basket: None,
            payment: None,
        }
    }

    impl Fixture {
        async fn account(&self) -> Account {
            self.store
                .account(MEMBER)
                .await
                .expect("readable")
                .expect("the member exists")
        }

        async fn outbox_keys(&self) -> Vec<String> {
            self.store
                .list_outbox(OutboxFilter::All)
                .await
                .expect("outbox")
                .into_iter()
                .map(|row| row.key)
                .collect()
        }

        async fn purchase_state(&self, reference: &str) -> PurchaseState {
            self.store
                .purchase(reference)
                .await
                .expect("readable")
                .expect("recorded")
                .state
        }

        /// Journals a member's payment as the lane does: started, then authorized with the
        /// purchase recorded, then each of `then`.
        async fn payment(&self, reference: &str, minor: i64, then: &[JournalState]) {
            let at = wall_now();
            let progressed = |state| {
                Write::Journal(JournalEntry::Progressed {
                    reference: reference.to_owned(),
                    state,
                    at,
                })
            };
            let mut writes = vec![
                Write::Journal(JournalEntry::Started {
                    reference: reference.to_owned(),
                    idempotency_key: format!("{reference}-create"),
                    amount: nok(minor),
                    lane: "till-1".to_owned(),
                    at,
                }),
                progressed(JournalState::Authorized),
                Write::RecordPurchase(Purchase {
                    reference: Reference::new(reference).expect("reference"),
                    contact_id: MEMBER.to_owned(),
                    amount: nok(minor),
                    at,
                }),
            ];
            writes.extend(then.iter().map(|&state| progressed(state)));
            self.store.write(&writes).await.expect("journaled");
        }

        /// Gives the member two coupons: one that expired long ago, one valid for a month.
        async fn give_coupons(&self) {
            let mut account = self.account().await;
            let coupon = |id: &str, issued_at: UnixMillis| IssuedReward {
                id: id.to_owned(),
                kind: RewardKind::Coupon,
                title: "A free coffee".to_owned(),
                description: None,
                issued_at,
                valid_until: UnixMillis(issued_at.0 + 30 * 86_400_000),
                state: RewardState::Active,
                source_reference: "earlier".to_owned(),
            };
            account.rewards = vec![
                coupon("cpn-old.coffee", LONG_AGO),
                coupon("cpn-new.coffee", wall_now()),
            ];
            account.revision += 1;
            self.store
                .write(&[Write::SaveAccount {
                    account,
                    at: LONG_AGO,
                }])
                .await
                .expect("saved");
        }

        /// Sends `json` as a register would and handles it; returns the answer line.
        async fn ask(&mut self, json: &str, lane: &LaneStatus) -> Value {
            let mut client = register::Client::connect(&self.socket)
                .await
                .expect("connect");
            let programs = &self.programs;
            let incoming = &mut self.incoming;
            let (answer, ()) = tokio::join!(client.send_json(json), async {
                let register::Incoming { request, responder } =
                    tokio::time::timeout(std::time::Duration::from_secs(10), incoming.recv())
                        .await
                        .expect("the command arrives")
                        .expect("the server runs");
                handle(programs, request, responder, lane).await;
            });
            answer.expect("an answer")
        }
    }

    #[tokio::test]
    async fn reconcile_accrues_captured_voids_failed_and_leaves_the_rest() {
        let f = fixture().await;
        f.payment("till-1-r-1", 10_000, &[JournalState::Captured])
            .await;
        f.payment("till-1-r-2", 20_000, &[JournalState::Failed])
            .await;
        f.payment("till-1-r-3", 30_000, &[]).await;

        let done = reconcile(&f.programs).await;
        assert_eq!(
            done,
            Reconciliation {
                accrued: 1,
                voided: 1,
                waiting: 1,
                failed: 0
            }
        );
        assert_eq!(f.purchase_state("till-1-r-1").await, PurchaseState::Accrued);
        assert_eq!(f.purchase_state("till-1-r-2").await, PurchaseState::Void);
        assert_eq!(f.purchase_state("till-1-r-3").await, PurchaseState::Pending);
        let account = f.account().await;
        assert_eq!(account.member.bonus_points, 100);
        assert_eq!(account.stamp_card("coffee").map(|c| c.stamps), Some(1));
        assert_eq!(
            f.outbox_keys().await,
            ["evt-till-1-r-1.points", "evt-till-1-r-1.coffee.card"]
        );

        // A second start finds nothing more to do; a repeated capture report changes nothing.
        let again = reconcile(&f.programs).await;
        assert_eq!(
            again,
            Reconciliation {
                waiting: 1,
                ..Reconciliation::default()
            }
        );
        on_captured(&f.programs, "till-1-r-1").await;
        on_captured(&f.programs, "till-1-unknown").await;
        assert_eq!(f.account().await, account, "nothing accrued twice");
        assert_eq!(f.outbox_keys().await.len(), 2);

        // The waiting payment is captured in this run: accrued then.
        f.store
            .journal(&JournalEntry::Progressed {
                reference: "till-1-r-3".to_owned(),
                state: JournalState::Captured,
                at: wall_now(),
            })
            .await
            .expect("captured");
        on_captured(&f.programs, "till-1-r-3").await;
        assert_eq!(f.purchase_state("till-1-r-3").await, PurchaseState::Accrued);
        let account = f.account().await;
        assert_eq!(account.member.bonus_points, 400);
        assert_eq!(account.stamp_card("coffee").map(|c| c.stamps), Some(2));
    }

    #[tokio::test]
    async fn a_full_card_issues_a_coupon_that_is_redeemed_once() {
        let f = fixture().await;
        for n in 1..=3 {
            let reference = format!("till-1-c-{n}");
            f.payment(&reference, 5_000, &[JournalState::Captured])
                .await;
            on_captured(&f.programs, &reference).await;
        }
        let account = f.account().await;
        assert_eq!(account.stamp_card("coffee").map(|c| c.stamps), Some(0));
        let coupon = "cpn-till-1-c-3.coffee";
        assert!(
            account
                .reward(coupon)
                .is_some_and(|r| r.state == RewardState::Active)
        );
        assert!(
            f.outbox_keys()
                .await
                .contains(&"evt-till-1-c-3.coffee.reward".to_owned())
        );

        let now = wall_now();
        let at_till = lane(Some(NUMBER));
        let (after, redeemed) = f
            .programs
            .redeem(coupon, None, &at_till, now)
            .await
            .expect("redeemed");
        assert_eq!(redeemed.state, RewardState::Redeemed { at: now });
        assert_eq!(after, f.account().await);
        assert!(
            f.outbox_keys()
                .await
                .contains(&format!("evt-{coupon}.redeemed"))
        );
        let again = f.programs.redeem(coupon, None, &at_till, now).await;
        assert!(
            matches!(&again, Err(OpError::RewardUsed(r)) if r == coupon),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn expired_rewards_are_withdrawn_whenever_the_account_is_read() {
        let f = fixture().await;
        f.give_coupons().await;
        let before = f.account().await;
        let now = wall_now();
        let shown = f
            .programs
            .show(
                Some(MemberLookup::ContactId(MEMBER.to_owned())),
                &lane(None),
                now,
            )
            .await
            .expect("shown");
        assert_eq!(shown.revision, before.revision + 1);
        assert_eq!(
            shown.reward("cpn-old.coffee").map(|r| r.state),
            Some(RewardState::Deleted { at: now })
        );
        assert_eq!(
            shown.reward("cpn-new.coffee").map(|r| r.state),
            Some(RewardState::Active)
        );
        assert_eq!(shown, f.account().await, "the withdrawal is stored");
        assert_eq!(f.outbox_keys().await, ["evt-cpn-old.coffee.expired"]);

        // Nothing more to withdraw: a look-up writes nothing.
        let again = f
            .programs
            .show(
                Some(MemberLookup::Phone("123 45 678".to_owned())),
                &lane(None),
                now,
            )
            .await
            .expect("shown by number");
        assert_eq!(again.revision, shown.revision);

        let refused = f
            .programs
            .redeem("cpn-old.coffee", Some(MEMBER.to_owned()), &lane(None), now)
            .await
            .expect_err("expired");
        assert_eq!(refused.code(), ErrorCode::RewardExpired, "{refused}");
    }

    #[tokio::test]
    async fn commands_are_answered_with_the_protocols_codes() {
        let mut f = fixture().await;
        f.give_coupons().await;
        let nobody = lane(None);
        let code = |answer: &Value| answer["code"].as_str().unwrap_or("none").to_owned();

        let answer = f.ask(r#"{"v":1,"id":1,"type":"member"}"#, &nobody).await;
        assert_eq!(code(&answer), "no_customer", "{answer}");
        let answer = f
            .ask(r#"{"v":1,"id":2,"type":"member","phone":"12x"}"#, &nobody)
            .await;
        assert_eq!(code(&answer), "invalid_phone", "{answer}");
        let answer = f
            .ask(
                r#"{"v":1,"id":3,"type":"member","contactId":"M-404"}"#,
                &nobody,
            )
            .await;
        assert_eq!(code(&answer), "not_a_member", "{answer}");
        let stranger = lane(Some("4799999999"));
        let answer = f
            .ask(
                r#"{"v":1,"id":4,"type":"redeem","reward":"cpn-new.coffee"}"#,
                &stranger,
            )
            .await;
        assert_eq!(code(&answer), "not_a_member", "{answer}");

        let at_till = lane(Some(NUMBER));
        let answer = f.ask(r#"{"v":1,"id":5,"type":"member"}"#, &at_till).await;
        let member = &answer["result"]["member"];
        assert_eq!(member["contactId"], MEMBER, "{answer}");
        assert_eq!(member["phone"], "+4712345678", "{answer}");
        assert_eq!(member["rewards"][0]["state"], "deleted", "{answer}");
        assert_eq!(member["rewards"][1]["state"], "active", "{answer}");

        let answer = f
            .ask(
                r#"{"v":1,"id":6,"type":"redeem","reward":"cpn-nope"}"#,
                &at_till,
            )
            .await;
        assert_eq!(code(&answer), "unknown_reward", "{answer}");
        let answer = f
            .ask(
                r#"{"v":1,"id":7,"type":"redeem","reward":"cpn-old.coffee"}"#,
                &at_till,
            )
            .await;
        assert_eq!(code(&answer), "reward_expired", "{answer}");
        let answer = f
            .ask(
                r#"{"v":1,"id":8,"type":"redeem","reward":"cpn-new.coffee"}"#,
                &at_till,
            )
            .await;
        assert_eq!(answer["result"]["state"], "redeemed", "{answer}");
        let answer = f
            .ask(
                r#"{"v":1,"id":9,"type":"redeem","reward":"cpn-new.coffee"}"#,
                &at_till,
            )
            .await;
        assert_eq!(code(&answer), "reward_used", "{answer}");

        let answer = f
            .ask(
                r#"{"v":1,"id":10,"type":"memberUpdate","contactId":"M-1","preferences":{"sms":true}}"#,
                &nobody,
            )
            .await;
        assert_eq!(
            answer["result"]["member"]["preferences"],
            serde_json::json!({"email": false, "sms": true, "postal": false}),
            "{answer}"
        );
        let answer = f
            .ask(
                r#"{"v":1,"id":11,"type":"memberResync","contactId":"M-1"}"#,
                &nobody,
            )
            .await;
        assert_eq!(answer["result"]["events"], 3, "{answer}");
        let mut paying = lane(Some(NUMBER));
        paying.membership = Some(flow::Membership::Member {
            contact_id: MEMBER.to_owned(),
        });
        let answer = f
            .ask(
                r#"{"v":1,"id":12,"type":"memberDelete","contactId":"M-1"}"#,
                &paying,
            )
            .await;
        assert_eq!(code(&answer), "unavailable", "{answer}");
        assert!(f.store.account(MEMBER).await.expect("readable").is_some());
        let answer = f
            .ask(
                r#"{"v":1,"id":12,"type":"memberDelete","contactId":"M-1"}"#,
                &nobody,
            )
            .await;
        assert_eq!(answer["result"]["contactId"], MEMBER, "{answer}");
        let answer = f
            .ask(
                r#"{"v":1,"id":13,"type":"memberDelete","contactId":"M-1"}"#,
                &nobody,
            )
            .await;
        assert_eq!(code(&answer), "not_a_member", "{answer}");
        assert!(f.store.account(MEMBER).await.expect("readable").is_none());

        // Every change went to the outbox with its own event ids; the member.deleted event stays
        // queued after the member is gone.
        let keys = f.outbox_keys().await;
        for key in [
            "evt-cpn-old.coffee.expired",
            "evt-cpn-new.coffee.redeemed",
            "evt-till-1-abcd1234-op1.preferences",
            "evt-till-1-abcd1234-op2.sync-member",
            "evt-till-1-abcd1234-op2.sync-coupons",
            "evt-till-1-abcd1234-op2.sync-cards",
            "evt-till-1-abcd1234-op3.deleted",
        ] {
            assert!(keys.contains(&key.to_owned()), "{key} not in {keys:?}");
        }
        assert_eq!(keys.len(), 7, "{keys:?}");
    }

    #[test]
    fn operations_are_named_like_the_lanes_references() {
        let ops = Operations::new("till-1", "abcd1234");
        assert_eq!(ops.next().expect("valid").as_str(), "till-1-abcd1234-op1");
        assert_eq!(ops.next().expect("valid").as_str(), "till-1-abcd1234-op2");
        let odd = Operations::new("", "ab!cd-e");
        assert_eq!(odd.next().expect("valid").as_str(), "lane-abcde-op1");
        let long = Operations::new(&"l".repeat(40), &"i".repeat(40));
        let reference = long.next().expect("valid");
        assert_eq!(reference.as_str().len(), 16 + 1 + 12 + 4);
    }
}
