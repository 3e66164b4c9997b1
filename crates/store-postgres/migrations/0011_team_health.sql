-- Team health: instruments, recurring checks per team, parent teams.
-- Twin of the SQLite migration with the same name; keep them in step.
-- Team health rounds belong to a team, not a repair, so `rounds.repair_id` becomes optional.
-- The table is copied, rebuilt and refilled as in the SQLite twin (which cannot drop NOT NULL
-- in place), so both keep the same shape; CASCADE drops only the foreign keys that point at
-- rounds, and they are added again below.
CREATE TABLE rounds_copy AS SELECT * FROM rounds;
DROP TABLE rounds CASCADE;
CREATE TABLE rounds (
    id TEXT PRIMARY KEY,
    repair_id TEXT REFERENCES repairs (id),
    kind TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    closes_at BIGINT,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT,
    subject TEXT
);
INSERT INTO rounds (id, repair_id, kind, public_key, fingerprint, status, closes_at, opened_at, closed_at, subject)
    SELECT id, repair_id, kind, public_key, fingerprint, status, closes_at, opened_at, closed_at, subject FROM rounds_copy;
DROP TABLE rounds_copy;
ALTER TABLE round_issued ADD FOREIGN KEY (round_id) REFERENCES rounds (id);
ALTER TABLE round_spent ADD FOREIGN KEY (round_id) REFERENCES rounds (id);
ALTER TABLE round_answers ADD FOREIGN KEY (round_id) REFERENCES rounds (id);
CREATE INDEX rounds_repair ON rounds (repair_id);

-- A team's parent (a department, say): the heat map pairs small teams within a parent.
ALTER TABLE teams ADD COLUMN parent_id TEXT REFERENCES teams (id);

-- Instruments an organisation loaded, kept as the TOML text that was checked.
CREATE TABLE instruments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    instrument_key TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    loaded_at BIGINT NOT NULL
);
CREATE INDEX instruments_org ON instruments (org_id);

-- Days between checks, and the instrument in use (NULL: the built-in one).
ALTER TABLE organisations ADD COLUMN health_every_days BIGINT NOT NULL DEFAULT 14;
ALTER TABLE organisations ADD COLUMN health_instrument_id TEXT REFERENCES instruments (id);

-- Which team a health round asks, with which instrument, in which period (the day, counted
-- from the epoch, on which the organisation's checks opened together).
CREATE TABLE health_rounds (
    round_id TEXT PRIMARY KEY REFERENCES rounds (id),
    org_id TEXT NOT NULL REFERENCES organisations (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    instrument_id TEXT REFERENCES instruments (id),
    period BIGINT NOT NULL
);
CREATE INDEX health_rounds_org ON health_rounds (org_id, period);
CREATE INDEX health_rounds_team ON health_rounds (team_id, period);
