-- Which anonymous comments support a named cause. Twin of the SQLite migration with the same
-- name; keep them in step. It joins causes to answers, never to people.
CREATE TABLE cause_support (
    cause_id TEXT NOT NULL REFERENCES causes (id),
    answer_id TEXT NOT NULL REFERENCES round_answers (id),
    PRIMARY KEY (cause_id, answer_id)
);
