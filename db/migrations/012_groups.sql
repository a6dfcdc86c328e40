-- Group types (3.11), as Cinder's group_types with their group_type_specs
-- inline as JSON, as volume_types keep their extra specs.
CREATE TABLE group_types (
    id VARCHAR(36) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL DEFAULT '',
    is_public BOOLEAN NOT NULL DEFAULT TRUE,
    group_specs TEXT NOT NULL DEFAULT '{}',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE UNIQUE INDEX group_types_name_idx ON group_types (name) WHERE deleted = FALSE;

-- Generic volume groups (3.13), as Cinder's groups, with their volume
-- types as Cinder's group_volume_type_mapping (rows deleted with the group).
CREATE TABLE groups (
    id VARCHAR(36) PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL DEFAULT '',
    project_id VARCHAR(255) NOT NULL DEFAULT '',
    host VARCHAR(255) NOT NULL DEFAULT '',
    availability_zone VARCHAR(255) NOT NULL DEFAULT '',
    name VARCHAR(255) NOT NULL DEFAULT '',
    description VARCHAR(255) NOT NULL DEFAULT '',
    group_type_id VARCHAR(36) NOT NULL,
    status VARCHAR(255) NOT NULL DEFAULT '',
    group_snapshot_id VARCHAR(36) NOT NULL DEFAULT '',
    source_group_id VARCHAR(36) NOT NULL DEFAULT '',
    replication_status VARCHAR(255) NOT NULL DEFAULT '',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX groups_project_id_idx ON groups (project_id);
CREATE INDEX groups_group_type_id_idx ON groups (group_type_id);
CREATE TABLE group_volume_type_mapping (
    group_id VARCHAR(36) NOT NULL,
    volume_type_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (group_id, volume_type_id)
);
CREATE INDEX group_volume_type_mapping_volume_type_id_idx ON group_volume_type_mapping (volume_type_id);

-- The group holding a volume.
ALTER TABLE volumes ADD COLUMN group_id VARCHAR(36) NOT NULL DEFAULT '';
CREATE INDEX volumes_group_id_idx ON volumes (group_id);
