-- Quotas, as Cinder's quotas, quota_classes, quota_usages and reservations
-- tables; rows are deleted rather than soft-deleted. No default class rows:
-- until an admin sets the default class, the quota_* options are the
-- defaults. A usage row is made the first time a project's resource is
-- reserved or shown, by counting the project's rows, so volumes, snapshots
-- and backups made before this migration count.
CREATE TABLE quotas (
    id {{autoid}},
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(300) NOT NULL,
    hard_limit INTEGER NOT NULL,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27)
);
CREATE UNIQUE INDEX quotas_project_resource_idx ON quotas (project_id, resource);

CREATE TABLE quota_classes (
    id {{autoid}},
    class_name VARCHAR(255) NOT NULL,
    resource VARCHAR(300) NOT NULL,
    hard_limit INTEGER NOT NULL,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27)
);
CREATE UNIQUE INDEX quota_classes_name_resource_idx ON quota_classes (class_name, resource);

-- in_use follows the rows it counts, in their own transactions; reserved is
-- the sum of the live positive reservations on the row.
CREATE TABLE quota_usages (
    id {{autoid}},
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(300) NOT NULL,
    in_use INTEGER NOT NULL,
    reserved INTEGER NOT NULL DEFAULT 0,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27)
);
CREATE UNIQUE INDEX quota_usages_project_resource_idx ON quota_usages (project_id, resource);

-- A reservation holds room for the change of one object (object_id: a
-- volume, snapshot or backup) until that change is written or given up.
CREATE TABLE reservations (
    id {{autoid}},
    uuid VARCHAR(36) NOT NULL,
    usage_id BIGINT NOT NULL REFERENCES quota_usages (id),
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(300) NOT NULL,
    delta INTEGER NOT NULL,
    object_id VARCHAR(36) NOT NULL,
    expire VARCHAR(27) NOT NULL,
    created_at VARCHAR(27) NOT NULL
);
CREATE UNIQUE INDEX reservations_uuid_idx ON reservations (uuid);
CREATE INDEX reservations_usage_id_idx ON reservations (usage_id);
CREATE INDEX reservations_object_id_idx ON reservations (object_id);
