-- Volume transfers, as Cinder's transfers table: the auth key is kept as a
-- salt and the HMAC-SHA1 of the key under it, never in clear.
CREATE TABLE transfers (
    id VARCHAR(36) PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    display_name VARCHAR(255) NOT NULL DEFAULT '',
    salt VARCHAR(255) NOT NULL,
    crypt_hash VARCHAR(255) NOT NULL,
    no_snapshots BOOLEAN NOT NULL DEFAULT FALSE,
    source_project_id VARCHAR(255) NOT NULL DEFAULT '',
    destination_project_id VARCHAR(255) NOT NULL DEFAULT '',
    accepted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX transfers_volume_id_idx ON transfers (volume_id);

-- A frozen backend refuses modification operations (freeze_host).
ALTER TABLE services ADD COLUMN frozen BOOLEAN NOT NULL DEFAULT FALSE;

-- Clusters of cinder-volume services, as Cinder's clusters table; a
-- cluster's hosts are the services whose cluster_name is its name.
CREATE TABLE clusters (
    id {{autoid}},
    name VARCHAR(255) NOT NULL,
    "binary" VARCHAR(255) NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason VARCHAR(255) NOT NULL DEFAULT '',
    frozen BOOLEAN NOT NULL DEFAULT FALSE,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE UNIQUE INDEX clusters_name_binary_idx ON clusters (name, "binary") WHERE deleted = FALSE;
