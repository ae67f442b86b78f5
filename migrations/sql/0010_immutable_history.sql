-- What the registry promises to keep, kept by the database: committed and published versions with their
-- content, the datasets they belong to, and the history tables (publications, Hub pushes, sample revisions,
-- review decisions, the audit log). Every refusal is an integrity_constraint_violation naming what was refused.

-- A content row (shard, sample, rejected record) can neither leave nor join a committed version: an update is
-- checked against the version it comes from and the one it would move to.
CREATE OR REPLACE FUNCTION forbid_committed_content_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  targets text[];
  target text;
  current_status version_status;
BEGIN
  IF TG_OP = 'INSERT' THEN
    targets := ARRAY[NEW.version_hash];
  ELSIF TG_OP = 'DELETE' THEN
    targets := ARRAY[OLD.version_hash];
  ELSE
    targets := ARRAY[OLD.version_hash, NEW.version_hash];
  END IF;
  FOREACH target IN ARRAY targets LOOP
    SELECT status INTO current_status FROM dataset_versions WHERE hash = target;
    -- No row: the version itself is being deleted (a draft, by its own trigger) and this is its cascade.
    IF current_status IS NOT NULL AND current_status <> 'draft' THEN
      RAISE EXCEPTION 'version % is % and its % are immutable', target, current_status, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END LOOP;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
--> statement-breakpoint
-- A committed or published version keeps every column, its status and when it was committed included. A draft
-- becomes committed, or published when publishing a review records it; nothing moves a version on from there: a
-- published version is always a new one (publishing builds it), so a committed version never becomes published.
CREATE OR REPLACE FUNCTION forbid_committed_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'version % is % and cannot be deleted', OLD.hash, OLD.status
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status = 'draft' THEN
    IF NEW.status <> 'draft' AND NEW.committed_at IS NULL THEN
      RAISE EXCEPTION 'version % cannot become % without the time it was committed', OLD.hash, NEW.status
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'version % is % and cannot become %: a version''s status only moves on from draft',
      OLD.hash, OLD.status, NEW.status
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF (NEW.hash, NEW.dataset_id, NEW.parents, NEW.pipeline_name, NEW.config_hash, NEW.manifest, NEW.card_sha256,
      NEW.stats, NEW.created_at, NEW.committed_at)
    IS DISTINCT FROM
     (OLD.hash, OLD.dataset_id, OLD.parents, OLD.pipeline_name, OLD.config_hash, OLD.manifest, OLD.card_sha256,
      OLD.stats, OLD.created_at, OLD.committed_at) THEN
    RAISE EXCEPTION 'version % is % and immutable', OLD.hash, OLD.status
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
-- A committed version's manifest names its dataset and kind: the dataset keeps both once it has one.
CREATE FUNCTION forbid_committed_dataset_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.id, NEW.name, NEW.kind) IS DISTINCT FROM (OLD.id, OLD.name, OLD.kind)
    AND EXISTS (SELECT 1 FROM dataset_versions WHERE dataset_id = OLD.id AND status <> 'draft') THEN
    RAISE EXCEPTION 'dataset % has committed versions: its name and kind (%) cannot change', OLD.name, OLD.kind
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER datasets_immutable BEFORE UPDATE ON datasets
  FOR EACH ROW EXECUTE FUNCTION forbid_committed_dataset_change();
--> statement-breakpoint
-- History is only ever added to: a row of these tables is never changed or removed.
CREATE FUNCTION forbid_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are history: they cannot be %', TG_TABLE_NAME,
    CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END
    USING ERRCODE = 'integrity_constraint_violation';
END $$;
--> statement-breakpoint
CREATE TRIGGER publications_append_only BEFORE UPDATE OR DELETE ON publications
  FOR EACH ROW EXECUTE FUNCTION forbid_history_change();
--> statement-breakpoint
CREATE TRIGGER hub_pushes_append_only BEFORE UPDATE OR DELETE ON hub_pushes
  FOR EACH ROW EXECUTE FUNCTION forbid_history_change();
--> statement-breakpoint
CREATE TRIGGER sample_revisions_append_only BEFORE UPDATE OR DELETE ON sample_revisions
  FOR EACH ROW EXECUTE FUNCTION forbid_history_change();
--> statement-breakpoint
CREATE TRIGGER review_decisions_append_only BEFORE UPDATE OR DELETE ON review_decisions
  FOR EACH ROW EXECUTE FUNCTION forbid_history_change();
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION forbid_history_change();
--> statement-breakpoint
-- TRUNCATE skips row triggers, and TRUNCATE … CASCADE reaches every table that references the one named. Each
-- table's statement trigger refuses when the truncation would remove what the row triggers protect; all of them
-- run before anything is removed. TG_ARGV[0] says what the table holds.
CREATE FUNCTION forbid_history_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kept boolean;
BEGIN
  IF TG_ARGV[0] = 'versions' THEN
    SELECT EXISTS (SELECT 1 FROM dataset_versions WHERE status <> 'draft') INTO kept;
  ELSIF TG_ARGV[0] = 'content' THEN
    EXECUTE format(
      'SELECT EXISTS (SELECT 1 FROM %I c JOIN dataset_versions v ON v.hash = c.version_hash WHERE v.status <> %L)',
      TG_TABLE_NAME, 'draft') INTO kept;
  ELSE
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', TG_TABLE_NAME) INTO kept;
  END IF;
  IF kept THEN
    RAISE EXCEPTION 'truncating % would remove %', TG_TABLE_NAME,
      CASE WHEN TG_ARGV[0] = 'history' THEN 'history, which is only ever added to'
        ELSE 'committed or published versions and their content' END
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER datasets_no_truncate BEFORE TRUNCATE ON datasets
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('versions');
--> statement-breakpoint
CREATE TRIGGER dataset_versions_no_truncate BEFORE TRUNCATE ON dataset_versions
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('versions');
--> statement-breakpoint
CREATE TRIGGER shards_no_truncate BEFORE TRUNCATE ON shards
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('content');
--> statement-breakpoint
CREATE TRIGGER samples_no_truncate BEFORE TRUNCATE ON samples
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('content');
--> statement-breakpoint
CREATE TRIGGER rejected_records_no_truncate BEFORE TRUNCATE ON rejected_records
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('content');
--> statement-breakpoint
CREATE TRIGGER publications_no_truncate BEFORE TRUNCATE ON publications
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('history');
--> statement-breakpoint
CREATE TRIGGER hub_pushes_no_truncate BEFORE TRUNCATE ON hub_pushes
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('history');
--> statement-breakpoint
CREATE TRIGGER sample_revisions_no_truncate BEFORE TRUNCATE ON sample_revisions
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('history');
--> statement-breakpoint
CREATE TRIGGER review_decisions_no_truncate BEFORE TRUNCATE ON review_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('history');
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_history_truncate('history');
