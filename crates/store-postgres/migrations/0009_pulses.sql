-- Trust pulses: several rated items in one anonymous answer, and when rebuilding began.
-- Twin of the SQLite migration with the same name; keep them in step.
CREATE TABLE answer_items (
    answer_id TEXT NOT NULL REFERENCES round_answers (id),
    item TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (answer_id, item)
);
ALTER TABLE repairs ADD COLUMN rebuild_started_at BIGINT;
ALTER TABLE repairs ADD COLUMN pulse_every_days BIGINT NOT NULL DEFAULT 14;
