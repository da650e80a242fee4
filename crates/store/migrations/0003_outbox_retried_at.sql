-- When a person last put a dead letter back in the queue (`queueRetry`). An item's age limit
-- (`give_up_after`) counts from then, not from when it was first queued: otherwise an old item,
-- retried by hand, would be given up again at its first failure.
ALTER TABLE outbox ADD COLUMN retried_at INTEGER;
