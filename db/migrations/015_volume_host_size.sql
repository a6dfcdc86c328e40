-- Every backend sums the sizes of its pools' volumes each
-- backend_stats_polling_interval (allocated_capacity_gb): with host, deleted
-- and size in one index that sum reads the pools' index entries alone,
-- never the volumes' rows. It serves lookups by host as the index it
-- replaces did.
DROP INDEX volumes_host_idx;
CREATE INDEX volumes_host_size_idx ON volumes (host, deleted, size);
