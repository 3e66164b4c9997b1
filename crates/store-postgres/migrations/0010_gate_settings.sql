-- The recovery gate's settings, per organisation. Twin of the SQLite migration with the same name.
ALTER TABLE organisations ADD COLUMN gate_pulses BIGINT NOT NULL DEFAULT 3;
ALTER TABLE organisations ADD COLUMN gate_target_cap BIGINT NOT NULL DEFAULT 55;
ALTER TABLE organisations ADD COLUMN gate_min_change BIGINT NOT NULL DEFAULT 5;
ALTER TABLE organisations ADD COLUMN gate_follow_through BIGINT NOT NULL DEFAULT 90;
ALTER TABLE organisations ADD COLUMN gate_min_weeks BIGINT NOT NULL DEFAULT 6;
ALTER TABLE organisations ADD COLUMN gate_deception_weeks BIGINT NOT NULL DEFAULT 6;
