-- Group snapshots (3.14), as Cinder's group_snapshots; their snapshots
-- name them by snapshots.group_snapshot_id.
CREATE TABLE group_snapshots (
    id VARCHAR(36) PRIMARY KEY,
    group_id VARCHAR(36) NOT NULL,
    user_id VARCHAR(255) NOT NULL DEFAULT '',
    project_id VARCHAR(255) NOT NULL DEFAULT '',
    name VARCHAR(255) NOT NULL DEFAULT '',
    description VARCHAR(255) NOT NULL DEFAULT '',
    status VARCHAR(255) NOT NULL DEFAULT '',
    group_type_id VARCHAR(36) NOT NULL DEFAULT '',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX group_snapshots_group_id_idx ON group_snapshots (group_id);
CREATE INDEX group_snapshots_project_id_idx ON group_snapshots (project_id);
CREATE INDEX snapshots_group_snapshot_id_idx ON snapshots (group_snapshot_id);
