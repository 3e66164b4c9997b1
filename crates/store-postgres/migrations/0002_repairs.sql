-- Repairs and everything around them: sides, acknowledgments, causes, the update log,
-- commitments with their occurrences and confirmations, notifications and the audit log.
-- Twin of the SQLite migration with the same name; keep them in step.
-- Calendar dates are TEXT 'YYYY-MM-DD'; instants are BIGINT seconds since the epoch.
CREATE TABLE repairs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    breach TEXT NOT NULL,
    scope TEXT NOT NULL,
    stage TEXT NOT NULL,
    facilitator_id TEXT NOT NULL REFERENCES people (id),
    update_cadence_days BIGINT NOT NULL,
    deception BOOLEAN NOT NULL,
    no_round_reason TEXT,
    closed_reason TEXT,
    override_reason TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX repairs_org ON repairs (org_id);

-- Everyone in a repair, with their side; teams named as a side are expanded into people here.
CREATE TABLE repair_participants (
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    person_id TEXT NOT NULL REFERENCES people (id),
    side TEXT NOT NULL,
    PRIMARY KEY (repair_id, person_id)
);
CREATE INDEX repair_participants_person ON repair_participants (person_id);

CREATE TABLE repair_teams (
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    side TEXT NOT NULL,
    PRIMARY KEY (repair_id, team_id)
);

CREATE TABLE acknowledgments (
    id TEXT PRIMARY KEY,
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    author_id TEXT NOT NULL REFERENCES people (id),
    body TEXT NOT NULL,
    score BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX acknowledgments_repair ON acknowledgments (repair_id);

CREATE TABLE causes (
    id TEXT PRIMARY KEY,
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX causes_repair ON causes (repair_id);

-- The update log is append-only: an edit adds a version, never changes one.
CREATE TABLE updates (
    id TEXT PRIMARY KEY,
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    author_id TEXT REFERENCES people (id),
    created_at BIGINT NOT NULL,
    UNIQUE (repair_id, seq)
);

CREATE TABLE update_versions (
    update_id TEXT NOT NULL REFERENCES updates (id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT,
    editor_id TEXT REFERENCES people (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (update_id, version)
);

CREATE TABLE commitments (
    id TEXT PRIMARY KEY,
    repair_id TEXT NOT NULL REFERENCES repairs (id),
    owner_id TEXT NOT NULL REFERENCES people (id),
    statement TEXT NOT NULL,
    cadence TEXT,
    occurrence_count BIGINT NOT NULL,
    first_due TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX commitments_repair ON commitments (repair_id);
CREATE INDEX commitments_owner ON commitments (owner_id);

CREATE TABLE occurrences (
    commitment_id TEXT NOT NULL REFERENCES commitments (id),
    due TEXT NOT NULL,
    done_on TEXT,
    missed_announced BOOLEAN NOT NULL,
    PRIMARY KEY (commitment_id, due)
);

-- What the affected side said, kept apart from who said it: `confirmations` has no person,
-- `confirmation_receipts` only stops a person confirming twice. Anonymous tokens can later
-- replace the receipts without touching the answers.
CREATE TABLE confirmations (
    id TEXT PRIMARY KEY,
    commitment_id TEXT NOT NULL,
    due TEXT NOT NULL,
    happened BOOLEAN NOT NULL,
    confirmed_on TEXT NOT NULL,
    FOREIGN KEY (commitment_id, due) REFERENCES occurrences (commitment_id, due)
);
CREATE INDEX confirmations_occurrence ON confirmations (commitment_id, due);

CREATE TABLE confirmation_receipts (
    commitment_id TEXT NOT NULL,
    due TEXT NOT NULL,
    person_id TEXT NOT NULL REFERENCES people (id),
    PRIMARY KEY (commitment_id, due, person_id)
);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people (id),
    repair_id TEXT REFERENCES repairs (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen BOOLEAN NOT NULL
);
CREATE INDEX notifications_person ON notifications (person_id);

-- Who changed what and when. Never confidential input.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    actor_id TEXT REFERENCES people (id),
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, at);

-- Secret feed URLs (Atom, iCalendar), one per person, replaceable. Only a hash is kept.
CREATE TABLE feed_tokens (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL UNIQUE REFERENCES people (id),
    created_at BIGINT NOT NULL
);
