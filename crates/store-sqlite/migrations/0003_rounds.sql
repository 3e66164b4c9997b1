-- Anonymous rounds. Twin of the PostgreSQL migration with the same name; keep them in step.
-- Nothing here joins an answer to a person: `round_issued` knows who got a token (with no
-- time), `round_spent` knows which tokens were used, `round_answers` holds what was said.
-- None references another. Ids are random, and there are no timestamps on answers.
CREATE TABLE rounds (
    id TEXT PRIMARY KEY,
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    kind TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    closes_at BIGINT,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX rounds_repair ON rounds (repair_id);

CREATE TABLE round_issued (
    round_id TEXT NOT NULL REFERENCES rounds (id),
    person_id TEXT NOT NULL REFERENCES people (id),
    PRIMARY KEY (round_id, person_id)
);

-- WITHOUT ROWID: rows are stored in key order (random), not in the order they arrived.
CREATE TABLE round_spent (
    round_id TEXT NOT NULL REFERENCES rounds (id),
    mark TEXT NOT NULL,
    PRIMARY KEY (round_id, mark)
) WITHOUT ROWID;

CREATE TABLE round_answers (
    id TEXT PRIMARY KEY,
    round_id TEXT NOT NULL REFERENCES rounds (id),
    category TEXT,
    comment TEXT,
    reply_check TEXT
) WITHOUT ROWID;
CREATE INDEX round_answers_round ON round_answers (round_id);
