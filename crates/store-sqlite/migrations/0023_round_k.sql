-- k is fixed per round when it opens, and a team health period is released once, in the
-- layout it had when its last check closed (issue 14, items 4 and 5).
-- Twin of the PostgreSQL migration with the same name; keep them in step.

-- Each round's k, written when it opens. Rounds already stored take their organisation's k
-- as it is now: the best that can be known of it.
ALTER TABLE rounds ADD COLUMN k BIGINT NOT NULL DEFAULT 5;
UPDATE rounds SET k = (SELECT o.k_threshold FROM organisations o JOIN repairs r ON r.org_id = o.id WHERE r.id = rounds.repair_id)
    WHERE repair_id IS NOT NULL;
UPDATE rounds SET k = (SELECT o.k_threshold FROM organisations o JOIN health_rounds h ON h.org_id = o.id WHERE h.round_id = rounds.id)
    WHERE repair_id IS NULL AND id IN (SELECT round_id FROM health_rounds);

-- A released team health period: its k, and when it was released. Written in the
-- transaction that closes the period's last check; never written again.
CREATE TABLE health_releases (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    period BIGINT NOT NULL,
    k BIGINT NOT NULL,
    released_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, period)
);

-- What a released period shows, per cell (a team, or 'organisation') and dimension: the
-- team's parent at release, and either the exact sums or nothing (hidden). The dashboard
-- reads only these rows, so a later change of parents re-publishes nothing.
CREATE TABLE health_released (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    period BIGINT NOT NULL,
    cell TEXT NOT NULL,
    parent_id TEXT,
    hidden BOOLEAN NOT NULL,
    dimension TEXT NOT NULL,
    dimension_name TEXT NOT NULL,
    total BIGINT,
    value_count BIGINT,
    respondents BIGINT,
    scale_min BIGINT NOT NULL,
    scale_max BIGINT NOT NULL,
    PRIMARY KEY (org_id, period, cell, dimension)
);
CREATE INDEX health_released_cell ON health_released (org_id, cell, period);
