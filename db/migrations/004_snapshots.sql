-- Volume snapshots, as Cinder's snapshots table (metadata inline as JSON).
CREATE TABLE snapshots (
    id VARCHAR(36) PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    user_id VARCHAR(255) NOT NULL DEFAULT '',
    project_id VARCHAR(255) NOT NULL DEFAULT '',
    status VARCHAR(255) NOT NULL DEFAULT '',
    progress VARCHAR(255) NOT NULL DEFAULT '',
    volume_size INTEGER NOT NULL DEFAULT 0,
    display_name VARCHAR(255) NOT NULL DEFAULT '',
    display_description VARCHAR(255) NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    provider_location VARCHAR(255) NOT NULL DEFAULT '',
    volume_type_id VARCHAR(36) NOT NULL DEFAULT '',
    group_snapshot_id VARCHAR(36) NOT NULL DEFAULT '',
    use_quota BOOLEAN NOT NULL DEFAULT TRUE,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX snapshots_volume_id_idx ON snapshots (volume_id);
CREATE INDEX snapshots_project_id_idx ON snapshots (project_id);
