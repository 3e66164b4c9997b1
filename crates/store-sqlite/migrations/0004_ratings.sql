-- Rating rounds (how genuine an acknowledgment felt, 1 to 7). Twin of the PostgreSQL migration
-- with the same name; keep them in step.
ALTER TABLE round_answers ADD COLUMN rating BIGINT;
