-- The outbox of repair events: a change that causes an event stores it here in its own
-- transaction, with the job that fans it out (webhook deliveries and whatever else the event
-- needs), so a crash after the commit loses no event. `fanned_out_at` is set in the
-- transaction that writes the fan-out, so a second fan-out writes nothing. Every read is by
-- id, so no index but the key. No page reads events: not in migration 0021's triggers.
-- Twin of the PostgreSQL migration with the same name; keep them in step.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    -- e.g. `repair.update`, `round.opened`.
    event TEXT NOT NULL,
    -- The round a `round.opened` event is about.
    round_id TEXT,
    -- The repair's stage right after the change.
    stage TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    fanned_out_at BIGINT
);
