-- A repair's version: every write that changes what its page shows bumps it, so a server
-- may keep what it read for a repair and check one number instead of reading it again
-- (web::repairs::Snapshots). Triggers, not application code, so that it holds for every
-- write path and across several servers. Twin of the SQLite migration with the same name;
-- keep the lists of tables in step.
--
-- Not here, on purpose: answers (`round_answers`, `answer_items`), token issue and spend
-- marks. Nothing of an open round's answers is shown, and a round's close, which releases
-- them, updates `rounds`. So the anonymous path never touches the repair's row.
ALTER TABLE repairs ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- The repair's own row: any change but the version's own bumps it.
CREATE FUNCTION repair_row_bumps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER repairs_update_bumps_repair BEFORE UPDATE ON repairs
    FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION repair_row_bumps();

-- A child row: TG_ARGV[0] says how to find its repair.
CREATE FUNCTION child_bumps_repair() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END; rid TEXT;
BEGIN
    CASE TG_ARGV[0]
        WHEN 'repair' THEN rid := r->>'repair_id';
        WHEN 'update' THEN SELECT repair_id INTO rid FROM updates WHERE id = r->>'update_id';
        WHEN 'commitment' THEN SELECT repair_id INTO rid FROM commitments WHERE id = r->>'commitment_id';
        WHEN 'cause' THEN SELECT repair_id INTO rid FROM causes WHERE id = r->>'cause_id';
        WHEN 'answer' THEN
            SELECT rd.repair_id INTO rid FROM round_answers a JOIN rounds rd ON rd.id = a.round_id
            WHERE a.id = r->>'answer_id';
    END CASE;
    IF rid IS NOT NULL THEN
        UPDATE repairs SET version = version + 1 WHERE id = rid;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER repair_participants_bump_repair AFTER INSERT OR UPDATE OR DELETE ON repair_participants
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER repair_teams_bump_repair AFTER INSERT OR UPDATE OR DELETE ON repair_teams
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER acknowledgments_bump_repair AFTER INSERT OR UPDATE OR DELETE ON acknowledgments
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER causes_bump_repair AFTER INSERT OR UPDATE OR DELETE ON causes
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER updates_bump_repair AFTER INSERT OR UPDATE OR DELETE ON updates
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER commitments_bump_repair AFTER INSERT OR UPDATE OR DELETE ON commitments
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER rounds_bump_repair AFTER INSERT OR UPDATE OR DELETE ON rounds
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('repair');
CREATE TRIGGER update_versions_bump_repair AFTER INSERT OR UPDATE OR DELETE ON update_versions
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('update');
CREATE TRIGGER occurrences_bump_repair AFTER INSERT OR UPDATE OR DELETE ON occurrences
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('commitment');
CREATE TRIGGER confirmations_bump_repair AFTER INSERT OR UPDATE OR DELETE ON confirmations
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('commitment');
CREATE TRIGGER cause_support_bump_repair AFTER INSERT OR UPDATE OR DELETE ON cause_support
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('cause');
CREATE TRIGGER answer_replies_bump_repair AFTER INSERT OR UPDATE OR DELETE ON answer_replies
    FOR EACH ROW EXECUTE FUNCTION child_bumps_repair('answer');

-- Names shown on the page (participants, authors, owners, teams). Nothing renames today;
-- this keeps a future rename from showing an old name.
CREATE FUNCTION rename_bumps_repairs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repairs SET version = version + 1 WHERE org_id = NEW.org_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER people_rename_bumps_repairs AFTER UPDATE OF name ON people
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION rename_bumps_repairs();
CREATE TRIGGER teams_rename_bumps_repairs AFTER UPDATE OF name ON teams
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION rename_bumps_repairs();
