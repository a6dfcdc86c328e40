-- What GET /volumes/summary and with_count tell of a project's volumes
-- (not deleted), kept as quota_usages are: a volume's write moves them in
-- its own transaction, so a crash leaves them equal to the rows. A
-- project's row is made the first time it is read, by counting its volumes
-- (so volumes written before this migration count); project_id '' totals
-- every project. targets are migration targets (migration_status
-- target:…), which lists hide from non-admins.
CREATE TABLE volume_totals (
    project_id VARCHAR(255) PRIMARY KEY,
    volumes INTEGER NOT NULL,
    gigabytes BIGINT NOT NULL,
    targets INTEGER NOT NULL,
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27)
);

-- How many of a project's volumes hold each metadata pair: the summary's
-- metadata (3.36). Complete for a project once its volume_totals row is;
-- a pair no volume holds any more goes.
CREATE TABLE volume_metadata_totals (
    project_id VARCHAR(255) NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    volumes INTEGER NOT NULL,
    PRIMARY KEY (project_id, key, value)
);

-- The summary read these to count; it reads the totals now.
DROP INDEX volumes_project_size_idx;
DROP INDEX volumes_project_metadata_idx;
