-- A repair's version: every write that changes what its page shows bumps it, so a server
-- may keep what it read for a repair and check one number instead of reading it again
-- (web::repairs::Snapshots). Triggers, not application code, so that it holds for every
-- write path and across several servers. Twin of the PostgreSQL migration with the same
-- name; keep the lists of tables in step.
--
-- Not here, on purpose: answers (`round_answers`, `answer_items`), token issue and spend
-- marks. Nothing of an open round's answers is shown, and a round's close, which releases
-- them, updates `rounds`. So the anonymous path never touches the repair's row.
ALTER TABLE repairs ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER repairs_update_bumps_repair AFTER UPDATE ON repairs WHEN NEW.version = OLD.version BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.id;
END;
-- Names shown on the page (participants, authors, owners, teams). Nothing renames today;
-- this keeps a future rename from showing an old name.
CREATE TRIGGER people_rename_bumps_repairs AFTER UPDATE OF name ON people BEGIN
    UPDATE repairs SET version = version + 1 WHERE org_id = NEW.org_id;
END;
CREATE TRIGGER teams_rename_bumps_repairs AFTER UPDATE OF name ON teams BEGIN
    UPDATE repairs SET version = version + 1 WHERE org_id = NEW.org_id;
END;
CREATE TRIGGER repair_participants_insert_bumps_repair AFTER INSERT ON repair_participants BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER repair_participants_update_bumps_repair AFTER UPDATE ON repair_participants BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER repair_participants_delete_bumps_repair AFTER DELETE ON repair_participants BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER repair_teams_insert_bumps_repair AFTER INSERT ON repair_teams BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER repair_teams_update_bumps_repair AFTER UPDATE ON repair_teams BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER repair_teams_delete_bumps_repair AFTER DELETE ON repair_teams BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER acknowledgments_insert_bumps_repair AFTER INSERT ON acknowledgments BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER acknowledgments_update_bumps_repair AFTER UPDATE ON acknowledgments BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER acknowledgments_delete_bumps_repair AFTER DELETE ON acknowledgments BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER causes_insert_bumps_repair AFTER INSERT ON causes BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER causes_update_bumps_repair AFTER UPDATE ON causes BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER causes_delete_bumps_repair AFTER DELETE ON causes BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER updates_insert_bumps_repair AFTER INSERT ON updates BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER updates_update_bumps_repair AFTER UPDATE ON updates BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER updates_delete_bumps_repair AFTER DELETE ON updates BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER commitments_insert_bumps_repair AFTER INSERT ON commitments BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER commitments_update_bumps_repair AFTER UPDATE ON commitments BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER commitments_delete_bumps_repair AFTER DELETE ON commitments BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER rounds_insert_bumps_repair AFTER INSERT ON rounds WHEN NEW.repair_id IS NOT NULL BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER rounds_update_bumps_repair AFTER UPDATE ON rounds WHEN NEW.repair_id IS NOT NULL BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = NEW.repair_id;
END;
CREATE TRIGGER rounds_delete_bumps_repair AFTER DELETE ON rounds WHEN OLD.repair_id IS NOT NULL BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = OLD.repair_id;
END;
CREATE TRIGGER update_versions_insert_bumps_repair AFTER INSERT ON update_versions BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM updates WHERE id = NEW.update_id);
END;
CREATE TRIGGER update_versions_update_bumps_repair AFTER UPDATE ON update_versions BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM updates WHERE id = NEW.update_id);
END;
CREATE TRIGGER update_versions_delete_bumps_repair AFTER DELETE ON update_versions BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM updates WHERE id = OLD.update_id);
END;
CREATE TRIGGER occurrences_insert_bumps_repair AFTER INSERT ON occurrences BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM commitments WHERE id = NEW.commitment_id);
END;
CREATE TRIGGER occurrences_update_bumps_repair AFTER UPDATE ON occurrences BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM commitments WHERE id = NEW.commitment_id);
END;
CREATE TRIGGER occurrences_delete_bumps_repair AFTER DELETE ON occurrences BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM commitments WHERE id = OLD.commitment_id);
END;
CREATE TRIGGER confirmations_insert_bumps_repair AFTER INSERT ON confirmations BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM commitments WHERE id = NEW.commitment_id);
END;
CREATE TRIGGER confirmations_update_bumps_repair AFTER UPDATE ON confirmations BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM commitments WHERE id = NEW.commitment_id);
END;
CREATE TRIGGER confirmations_delete_bumps_repair AFTER DELETE ON confirmations BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM commitments WHERE id = OLD.commitment_id);
END;
CREATE TRIGGER cause_support_insert_bumps_repair AFTER INSERT ON cause_support BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM causes WHERE id = NEW.cause_id);
END;
CREATE TRIGGER cause_support_update_bumps_repair AFTER UPDATE ON cause_support BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM causes WHERE id = NEW.cause_id);
END;
CREATE TRIGGER cause_support_delete_bumps_repair AFTER DELETE ON cause_support BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT repair_id FROM causes WHERE id = OLD.cause_id);
END;
CREATE TRIGGER answer_replies_insert_bumps_repair AFTER INSERT ON answer_replies BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT r.repair_id FROM round_answers a JOIN rounds r ON r.id = a.round_id WHERE a.id = NEW.answer_id);
END;
CREATE TRIGGER answer_replies_update_bumps_repair AFTER UPDATE ON answer_replies BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT r.repair_id FROM round_answers a JOIN rounds r ON r.id = a.round_id WHERE a.id = NEW.answer_id);
END;
CREATE TRIGGER answer_replies_delete_bumps_repair AFTER DELETE ON answer_replies BEGIN
    UPDATE repairs SET version = version + 1 WHERE id = (SELECT r.repair_id FROM round_answers a JOIN rounds r ON r.id = a.round_id WHERE a.id = OLD.answer_id);
END;
