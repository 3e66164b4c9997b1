-- Exact sums of each closed team health round, per dimension, written in the transaction
-- that closes the round, so the dashboard never reads answers.
-- Twin of the SQLite migration with the same name; keep them in step.
CREATE TABLE health_rollups (
    round_id TEXT NOT NULL REFERENCES rounds (id),
    org_id TEXT NOT NULL REFERENCES organisations (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    period BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    dimension_name TEXT NOT NULL,
    total BIGINT NOT NULL,
    value_count BIGINT NOT NULL,
    respondents BIGINT NOT NULL,
    scale_min BIGINT NOT NULL,
    scale_max BIGINT NOT NULL,
    PRIMARY KEY (round_id, dimension)
);
CREATE INDEX health_rollups_org ON health_rollups (org_id, period);
CREATE INDEX health_rollups_team ON health_rollups (team_id, period);

-- The same sums over the whole organisation per period, added to as each round closes.
CREATE TABLE health_org_rollups (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    period BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    dimension_name TEXT NOT NULL,
    total BIGINT NOT NULL,
    value_count BIGINT NOT NULL,
    respondents BIGINT NOT NULL,
    scale_min BIGINT NOT NULL,
    scale_max BIGINT NOT NULL,
    PRIMARY KEY (org_id, period, dimension)
);

-- The sweep looks for open rounds on every pass; closed ones are the vast majority.
CREATE INDEX rounds_status ON rounds (status, kind);
