-- Cinder's core tables. Times are UTC text with microseconds (see timeLayout);
-- strings Cinder keeps NULL are '' here.
CREATE TABLE services (
    id {{autoid}},
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    "binary" VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL DEFAULT '',
    availability_zone VARCHAR(255) NOT NULL DEFAULT '',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason VARCHAR(255) NOT NULL DEFAULT '',
    report_count BIGINT NOT NULL DEFAULT 0,
    cluster_name VARCHAR(255) NOT NULL DEFAULT '',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE UNIQUE INDEX services_uuid_idx ON services (uuid);
CREATE INDEX services_host_binary_idx ON services (host, "binary");

CREATE TABLE volumes (
    id VARCHAR(36) PRIMARY KEY,
    name_id VARCHAR(36) NOT NULL DEFAULT '',
    user_id VARCHAR(255) NOT NULL DEFAULT '',
    project_id VARCHAR(255) NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    availability_zone VARCHAR(255) NOT NULL DEFAULT '',
    status VARCHAR(255) NOT NULL DEFAULT '',
    previous_status VARCHAR(255) NOT NULL DEFAULT '',
    attach_status VARCHAR(255) NOT NULL DEFAULT '',
    migration_status VARCHAR(255) NOT NULL DEFAULT '',
    host VARCHAR(255) NOT NULL DEFAULT '',
    cluster_name VARCHAR(255) NOT NULL DEFAULT '',
    service_uuid VARCHAR(36) NOT NULL DEFAULT '',
    display_name VARCHAR(255) NOT NULL DEFAULT '',
    display_description VARCHAR(255) NOT NULL DEFAULT '',
    volume_type_id VARCHAR(36) NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    provider_location VARCHAR(255) NOT NULL DEFAULT '',
    snapshot_id VARCHAR(36) NOT NULL DEFAULT '',
    source_volid VARCHAR(36) NOT NULL DEFAULT '',
    bootable BOOLEAN NOT NULL DEFAULT FALSE,
    multiattach BOOLEAN NOT NULL DEFAULT FALSE,
    use_quota BOOLEAN NOT NULL DEFAULT TRUE,
    replication_status VARCHAR(255) NOT NULL DEFAULT '',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX volumes_project_id_idx ON volumes (project_id);
CREATE INDEX volumes_host_idx ON volumes (host);
CREATE INDEX volumes_volume_type_id_idx ON volumes (volume_type_id);

CREATE TABLE volume_types (
    id VARCHAR(36) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL DEFAULT '',
    is_public BOOLEAN NOT NULL DEFAULT TRUE,
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE UNIQUE INDEX volume_types_name_idx ON volume_types (name) WHERE deleted = FALSE;
