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
