-- Which non-essential emails each person wants (a missing row means yes). Twin of the
-- SQLite migration with the same name; keep them in step.
CREATE TABLE email_preferences (
    person_id TEXT NOT NULL REFERENCES people (id),
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (person_id, kind)
);

-- One-click unsubscribe links (RFC 8058): a random token per email, stored only as its hash.
CREATE TABLE unsubscribe_links (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people (id),
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX unsubscribe_links_person ON unsubscribe_links (person_id);
