-- Indexes that let a list read its page rather than its project: each leads
-- with the columns lists compare for equality (project_id, deleted, then a
-- common filter) and ends with Cinder's default sort (created_at, id), so a
-- page, and a marker's page, is a seek and a scan of the page's own rows,
-- forward or backward. The plain project_id indexes they lead with go.
DROP INDEX volumes_project_id_idx;
CREATE INDEX volumes_project_created_idx ON volumes (project_id, deleted, created_at, id);
CREATE INDEX volumes_created_idx ON volumes (deleted, created_at, id);
CREATE INDEX volumes_project_status_idx ON volumes (project_id, deleted, status, created_at, id);
CREATE INDEX volumes_project_name_idx ON volumes (project_id, deleted, display_name, created_at, id);
-- The volume summary: count and size from the index alone, and metadata
-- read only from the volumes that have some.
CREATE INDEX volumes_project_size_idx ON volumes (project_id, deleted, size);
CREATE INDEX volumes_project_metadata_idx ON volumes (project_id, deleted) WHERE deleted = FALSE AND metadata <> '{}';

DROP INDEX snapshots_project_id_idx;
CREATE INDEX snapshots_project_created_idx ON snapshots (project_id, deleted, created_at, id);
CREATE INDEX snapshots_created_idx ON snapshots (deleted, created_at, id);

DROP INDEX backups_project_id_idx;
CREATE INDEX backups_project_created_idx ON backups (project_id, deleted, created_at, id);
CREATE INDEX backups_created_idx ON backups (deleted, created_at, id);
