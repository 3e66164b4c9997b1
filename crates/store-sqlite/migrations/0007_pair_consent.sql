-- In a person↔person repair, whether the affected person lets the accountable person see a
-- coarse direction of their answers. Twin of the PostgreSQL migration with the same name.
ALTER TABLE repairs ADD COLUMN pair_consent BOOLEAN NOT NULL DEFAULT FALSE;
