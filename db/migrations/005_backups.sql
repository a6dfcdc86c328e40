-- Volume backups, as Cinder's backups table (metadata inline as JSON).
CREATE TABLE backups (
    id VARCHAR(36) PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    user_id VARCHAR(255) NOT NULL DEFAULT '',
    project_id VARCHAR(255) NOT NULL DEFAULT '',
    host VARCHAR(255) NOT NULL DEFAULT '',
    availability_zone VARCHAR(255) NOT NULL DEFAULT '',
    display_name VARCHAR(255) NOT NULL DEFAULT '',
    display_description VARCHAR(255) NOT NULL DEFAULT '',
    container VARCHAR(255) NOT NULL DEFAULT '',
    status VARCHAR(255) NOT NULL DEFAULT '',
    fail_reason VARCHAR(255) NOT NULL DEFAULT '',
    service_metadata VARCHAR(255) NOT NULL DEFAULT '',
    service VARCHAR(255) NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    parent_id VARCHAR(36) NOT NULL DEFAULT '',
    snapshot_id VARCHAR(36) NOT NULL DEFAULT '',
    data_timestamp VARCHAR(27) NOT NULL,
    restore_volume_id VARCHAR(36) NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX backups_volume_id_idx ON backups (volume_id);
CREATE INDEX backups_project_id_idx ON backups (project_id);
CREATE INDEX backups_parent_id_idx ON backups (parent_id);
