-- The lessons library: what a rebuilt repair teaches, anonymised before it is stored.
-- Twin of the PostgreSQL migration with the same name; keep them in step.
-- repair_id only stops a second lesson from the same repair; the library never shows it.
CREATE TABLE lessons (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    repair_id TEXT NOT NULL UNIQUE REFERENCES repairs (id),
    breach TEXT NOT NULL,
    title TEXT NOT NULL,
    what_broke TEXT NOT NULL,
    causes TEXT NOT NULL,
    what_worked TEXT NOT NULL,
    figures TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE INDEX lessons_org ON lessons (org_id, published_at);
