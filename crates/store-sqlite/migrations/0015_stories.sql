-- Anonymous stories: trust scenarios people want help with, and facilitators' answers.
-- Twin of the PostgreSQL migration with the same name; keep them in step.
-- A story has no author and no time (only the week it arrived, for ordering); its author is
-- recognised only by a capability whose SHA-256 is reply_check, as with answers in rounds.
CREATE TABLE stories (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    week BIGINT NOT NULL,
    reply_check TEXT NOT NULL UNIQUE,
    hidden BOOLEAN NOT NULL
) WITHOUT ROWID;
CREATE INDEX stories_org ON stories (org_id, week);

CREATE TABLE story_answers (
    id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL REFERENCES stories (id),
    author_id TEXT NOT NULL REFERENCES people (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX story_answers_story ON story_answers (story_id);
