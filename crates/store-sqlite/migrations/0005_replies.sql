-- Anonymous two-way replies. Twin of the PostgreSQL migration with the same name; keep them in step.
-- A thread hangs off an answer's random id. The author is recognised only by a capability
-- whose SHA-256 the answer carries (round_answers.reply_check); there are no timestamps.
CREATE TABLE answer_replies (
    id TEXT PRIMARY KEY,
    answer_id TEXT NOT NULL REFERENCES round_answers (id),
    from_author BOOLEAN NOT NULL,
    body TEXT NOT NULL,
    seq BIGINT NOT NULL,
    UNIQUE (answer_id, seq)
);
