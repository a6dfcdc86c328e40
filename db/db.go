// Package db keeps Cinder's state (services, volumes, volume types) in SQLite
// or PostgreSQL through database/sql, with versioned schema migrations.
package db

import (
	"context"

	"github.com/cinder-go/cinder"
)

// DB is an open Cinder database.
type DB struct{ /* owner: db helper */ }

// Open connects to connection, an oslo.db-style URL: sqlite:///abs/path.db
// (sqlite:// prefix, a plain file path also accepted) or postgresql://….
// It does not migrate; call Sync.
func Open(ctx context.Context, connection string) (*DB, error) { panic("db: TODO") }

// Close closes the database.
func (db *DB) Close() error { panic("db: TODO") }

// Sync applies every schema migration not yet applied (cinder-manage db
// sync) and returns the resulting schema version. Safe to run concurrently
// from several processes.
func (db *DB) Sync(ctx context.Context) (int, error) { panic("db: TODO") }

// Version returns the applied schema version, 0 for an empty database.
func (db *DB) Version(ctx context.Context) (int, error) { panic("db: TODO") }

// CreateVolume inserts v; an empty ID gets a new UUID, a zero CreatedAt now.
func (db *DB) CreateVolume(ctx context.Context, v *cinder.Volume) error { panic("db: TODO") }

// GetVolume returns the volume id (not deleted), or cinder.VolumeNotFound.
func (db *DB) GetVolume(ctx context.Context, id string) (*cinder.Volume, error) {
	panic("db: TODO")
}

// VolumeFilter selects volumes for ListVolumes; zero values select all.
type VolumeFilter struct {
	ProjectID      string   // only this project's volumes
	Host           string   // host@backend: volumes on that backend, any pool
	Statuses       []string // only these statuses
	HideTargets    bool     // leave out migration targets (migration_status target:…)
	Name           string   // display_name equals
	Marker         string   // id after which to start, in the sort order
	Limit          int      // at most this many; 0 = no limit
	SortKey        string   // a column: created_at (default), id, size, status, display_name, updated_at
	SortDescending bool     // default true, as Cinder
}

// ListVolumes returns the volumes (not deleted) that f selects, sorted by
// f.SortKey then id.
func (db *DB) ListVolumes(ctx context.Context, f VolumeFilter) ([]*cinder.Volume, error) {
	panic("db: TODO")
}

// CountVolumes returns how many volumes ListVolumes would return without
// Marker and Limit.
func (db *DB) CountVolumes(ctx context.Context, f VolumeFilter) (int, error) { panic("db: TODO") }

// UpdateVolume reads volume id in a transaction, lets fn change it and
// writes it back (UpdatedAt set to now) unless fn returns an error, which
// UpdateVolume then returns unchanged. This is Cinder's conditional_update:
// fn checks preconditions and fails with e.g. cinder.InvalidVolume. Returns
// the volume as written.
func (db *DB) UpdateVolume(ctx context.Context, id string, fn func(v *cinder.Volume) error) (*cinder.Volume, error) {
	panic("db: TODO")
}

// DestroyVolume soft-deletes volume id: deleted, status deleted, deleted_at now.
func (db *DB) DestroyVolume(ctx context.Context, id string) error { panic("db: TODO") }

// AllocatedCapacity returns the sum of sizes (GiB) of the volumes on each
// host@backend#pool, for a backend's stats (allocated_capacity_gb).
func (db *DB) AllocatedCapacity(ctx context.Context, backend string) (map[string]int, error) {
	panic("db: TODO")
}

// CreateService inserts s (new UUID if empty) and sets s.ID.
func (db *DB) CreateService(ctx context.Context, s *cinder.Service) error { panic("db: TODO") }

// GetService returns the service of binary on host, or cinder.ServiceNotFound.
func (db *DB) GetService(ctx context.Context, host, binary string) (*cinder.Service, error) {
	panic("db: TODO")
}

// ListServices returns services, filtered by host (host or host@backend,
// exact) and binary when not empty, ordered by id.
func (db *DB) ListServices(ctx context.Context, host, binary string) ([]*cinder.Service, error) {
	panic("db: TODO")
}

// UpdateService is UpdateVolume for service id.
func (db *DB) UpdateService(ctx context.Context, id int64, fn func(s *cinder.Service) error) (*cinder.Service, error) {
	panic("db: TODO")
}

// Heartbeat records that service id is alive: report_count+1, updated_at now.
func (db *DB) Heartbeat(ctx context.Context, id int64) error { panic("db: TODO") }

// CreateVolumeType inserts t (new UUID if empty); a duplicate name is cinder.Conflict.
func (db *DB) CreateVolumeType(ctx context.Context, t *cinder.VolumeType) error {
	panic("db: TODO")
}

// GetVolumeType returns the type with this id, or cinder.VolumeTypeNotFound.
func (db *DB) GetVolumeType(ctx context.Context, id string) (*cinder.VolumeType, error) {
	panic("db: TODO")
}

// GetVolumeTypeByName returns the type with this name, or cinder.VolumeTypeNotFound.
func (db *DB) GetVolumeTypeByName(ctx context.Context, name string) (*cinder.VolumeType, error) {
	panic("db: TODO")
}

// ListVolumeTypes returns every volume type (not deleted), by name.
func (db *DB) ListVolumeTypes(ctx context.Context) ([]*cinder.VolumeType, error) {
	panic("db: TODO")
}

// UpdateVolumeType is UpdateVolume for volume type id (extra specs included).
func (db *DB) UpdateVolumeType(ctx context.Context, id string, fn func(t *cinder.VolumeType) error) (*cinder.VolumeType, error) {
	panic("db: TODO")
}

// DeleteVolumeType soft-deletes type id; a type in use by a volume is cinder.Invalid.
func (db *DB) DeleteVolumeType(ctx context.Context, id string) error { panic("db: TODO") }
