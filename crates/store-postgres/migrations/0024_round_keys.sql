-- Round keys in the database, sealed: each open round's secret key, encrypted with AES-256-GCM
-- by the application under a key-encryption key that the database never holds (the setting
-- `key_encryption_key`, or a file in the data directory), with the round's id as associated
-- data. So every server that shares the database can issue tokens, and a dump or backup alone
-- opens no key. Twin of the SQLite migration with the same name.
--
-- No foreign key: a key is stored just before its round, so a round is never open without it.
CREATE TABLE round_keys (
    round_id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL
);

-- Closing a round destroys its key in the closing transaction, whichever code closes it.
CREATE FUNCTION round_gone_deletes_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM round_keys WHERE round_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER rounds_close_deletes_key AFTER UPDATE OF status ON rounds
    FOR EACH ROW WHEN (NEW.status <> 'open') EXECUTE FUNCTION round_gone_deletes_key();
CREATE TRIGGER rounds_delete_deletes_key AFTER DELETE ON rounds
    FOR EACH ROW EXECUTE FUNCTION round_gone_deletes_key();
