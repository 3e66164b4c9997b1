-- Answers sealed in epochs, and a key that can be replaced once (issue 14). Twin of the other
-- backend's migration with the same name; keep them in step.

-- One replacement key per member and round: a member who lost the key their first device
-- fetched gets one more. Only the count reaches the results ("2 keys were replaced"); which
-- token came from which request is unknowable, as before.
ALTER TABLE round_issued ADD COLUMN replaced BOOLEAN NOT NULL DEFAULT FALSE;

-- The servers that hold answers waiting for their epoch, each with when it was last seen
-- running. A member's page re-sends a waiting answer only when the server that holds it is
-- gone, so a normal visit sends nothing that names an answer.
CREATE TABLE mixers (
    id TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
