-- Private volume types' access lists, as Cinder's volume_type_projects
-- (rows are deleted, not soft-deleted: nothing reads a removed access).
CREATE TABLE volume_type_projects (
    volume_type_id VARCHAR(36) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    created_at VARCHAR(27) NOT NULL,
    PRIMARY KEY (volume_type_id, project_id)
);
CREATE INDEX volume_type_projects_project_id_idx ON volume_type_projects (project_id);

-- Volume types' encryption, as Cinder's encryption table; cipher and
-- key_size are NULL when not given.
CREATE TABLE encryption (
    encryption_id VARCHAR(36) PRIMARY KEY,
    volume_type_id VARCHAR(36) NOT NULL,
    provider VARCHAR(255) NOT NULL,
    cipher VARCHAR(255),
    key_size INTEGER,
    control_location VARCHAR(255) NOT NULL,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27)
);
CREATE UNIQUE INDEX encryption_volume_type_id_idx ON encryption (volume_type_id);

-- Projects' default volume types (3.62), as Cinder's default_volume_types.
CREATE TABLE default_volume_types (
    project_id VARCHAR(255) PRIMARY KEY,
    volume_type_id VARCHAR(36) NOT NULL,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27)
);
CREATE INDEX default_volume_types_volume_type_id_idx ON default_volume_types (volume_type_id);

-- QoS specs, one row each with their specs as JSON (Cinder keeps a row per
-- key under a root row), and the QoS specs a volume type is associated with.
CREATE TABLE quality_of_service_specs (
    id VARCHAR(36) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    consumer VARCHAR(255) NOT NULL,
    specs TEXT NOT NULL DEFAULT '{}',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE UNIQUE INDEX quality_of_service_specs_name_idx ON quality_of_service_specs (name) WHERE deleted = FALSE;
ALTER TABLE volume_types ADD COLUMN qos_specs_id VARCHAR(36) NOT NULL DEFAULT '';
CREATE INDEX volume_types_qos_specs_id_idx ON volume_types (qos_specs_id);
