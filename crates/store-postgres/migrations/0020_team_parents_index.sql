-- A team's trend reads its siblings (the teams under the same parent), not every team of a
-- large organisation.
CREATE INDEX teams_parent ON teams (parent_id);
