-- A committed (or published) version is immutable: its row may only move forward in status, and its shards
-- and samples may not change. Enforced in the database so no code path, script or manual fix can break it.
CREATE FUNCTION forbid_committed_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'version % is % and cannot be deleted', OLD.hash, OLD.status
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND (
    NEW.status = 'draft'
    OR (NEW.hash, NEW.dataset_id, NEW.parents, NEW.pipeline_name, NEW.config_hash, NEW.manifest, NEW.card_sha256, NEW.stats)
      IS DISTINCT FROM
       (OLD.hash, OLD.dataset_id, OLD.parents, OLD.pipeline_name, OLD.config_hash, OLD.manifest, OLD.card_sha256, OLD.stats)
  ) THEN
    RAISE EXCEPTION 'version % is % and immutable', OLD.hash, OLD.status
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER dataset_versions_immutable BEFORE UPDATE OR DELETE ON dataset_versions
  FOR EACH ROW EXECUTE FUNCTION forbid_committed_version_change();
--> statement-breakpoint
CREATE FUNCTION forbid_committed_content_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target text := CASE WHEN TG_OP = 'INSERT' THEN NEW.version_hash ELSE OLD.version_hash END;
  current_status version_status;
BEGIN
  SELECT status INTO current_status FROM dataset_versions WHERE hash = target;
  -- No row: the version itself is being deleted (a draft, by the trigger above) and this is its cascade.
  IF current_status IS NOT NULL AND current_status <> 'draft' THEN
    RAISE EXCEPTION 'version % is % and its % are immutable', target, current_status, TG_TABLE_NAME
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
--> statement-breakpoint
CREATE TRIGGER shards_immutable BEFORE INSERT OR UPDATE OR DELETE ON shards
  FOR EACH ROW EXECUTE FUNCTION forbid_committed_content_change();
--> statement-breakpoint
CREATE TRIGGER samples_immutable BEFORE INSERT OR UPDATE OR DELETE ON samples
  FOR EACH ROW EXECUTE FUNCTION forbid_committed_content_change();
