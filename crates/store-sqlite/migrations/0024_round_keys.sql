-- Round keys in the database, sealed: each open round's secret key, encrypted with AES-256-GCM
-- by the application under a key-encryption key that the database never holds (the setting
-- `key_encryption_key`, or a file in the data directory), with the round's id as associated
-- data. So every server that shares the database can issue tokens, and a dump or backup alone
-- opens no key. Twin of the PostgreSQL migration with the same name.
--
-- No foreign key: a key is stored just before its round, so a round is never open without it.
CREATE TABLE round_keys (
    round_id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL
);

-- Closing a round destroys its key in the closing transaction, whichever code closes it.
CREATE TRIGGER rounds_close_deletes_key AFTER UPDATE OF status ON rounds WHEN NEW.status <> 'open' BEGIN
    DELETE FROM round_keys WHERE round_id = NEW.id;
END;
CREATE TRIGGER rounds_delete_deletes_key AFTER DELETE ON rounds BEGIN
    DELETE FROM round_keys WHERE round_id = OLD.id;
END;
