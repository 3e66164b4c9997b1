-- What a round asks about, for rounds about one thing (a commitment occurrence:
-- "commitment-id:YYYY-MM-DD"). Twin of the PostgreSQL migration with the same name.
ALTER TABLE rounds ADD COLUMN subject TEXT;
