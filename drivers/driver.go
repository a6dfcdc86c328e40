// Package drivers defines what a volume driver does for a cinder-volume
// manager, and builds the driver a backend section names.
package drivers

import (
	"context"

	"github.com/cinder-go/cinder"
)

// Driver owns a backend's bytes: it creates, deletes, grows and exposes
// volumes and reports the backend's capabilities.
type Driver interface {
	// Setup prepares the backend and checks it is usable (check_for_setup_error).
	Setup(ctx context.Context) error
	// CreateVolume allocates storage for v.Size GiB under v.Name().
	CreateVolume(ctx context.Context, v *cinder.Volume) error
	// DeleteVolume releases v's storage; deleting a volume with no storage succeeds.
	DeleteVolume(ctx context.Context, v *cinder.Volume) error
	// ExtendVolume grows v to newSize GiB, keeping its bytes.
	ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) error
	// InitializeConnection exposes v to a connector and says where its bytes are.
	InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error)
	// TerminateConnection withdraws what InitializeConnection exposed.
	TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error
	// Stats reports the backend's capabilities and pools, as get_volume_stats.
	Stats(ctx context.Context) (Stats, error)
	// UpdateMigratedVolume runs on the destination of a migration once
	// newVolume holds volume's bytes, as update_migrated_volume: it returns
	// the _name_id volume must take ("" when the storage now carries
	// volume's own name). status is volume's status before the migration.
	UpdateMigratedVolume(ctx context.Context, volume, newVolume *cinder.Volume, status string) (nameID string, err error)

	// CreateSnapshot keeps v's bytes as they are now under s.Name().
	CreateSnapshot(ctx context.Context, s *cinder.Snapshot, v *cinder.Volume) error
	// DeleteSnapshot releases s's storage; one with no storage succeeds.
	DeleteSnapshot(ctx context.Context, s *cinder.Snapshot) error
	// CreateVolumeFromSnapshot makes v (v.Size ≥ s.VolumeSize GiB) hold s's
	// bytes, the rest reading as zeros.
	CreateVolumeFromSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	// CreateClonedVolume makes v (v.Size ≥ src.Size GiB) hold src's bytes,
	// the rest reading as zeros.
	CreateClonedVolume(ctx context.Context, v, src *cinder.Volume) error
	// RevertToSnapshot gives v back the bytes of s, its latest snapshot.
	RevertToSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	// InitializeConnectionSnapshot exposes s to a connector and says where
	// its bytes are, as a backup of the snapshot reads them.
	InitializeConnectionSnapshot(ctx context.Context, s *cinder.Snapshot, connector map[string]any) (*cinder.ConnectionInfo, error)
	// TerminateConnectionSnapshot withdraws what InitializeConnectionSnapshot exposed.
	TerminateConnectionSnapshot(ctx context.Context, s *cinder.Snapshot, connector map[string]any) error
	// RemoveExportSnapshot removes the export InitializeConnectionSnapshot made.
	RemoveExportSnapshot(ctx context.Context, s *cinder.Snapshot) error

	// ManageExistingGetSize is the size in GiB, rounded up, of the storage
	// ref names ({"source-name": …}), as manage_existing_get_size.
	ManageExistingGetSize(ctx context.Context, ref map[string]any) (int, error)
	// ManageExisting makes the storage ref names v's (manage_existing).
	ManageExisting(ctx context.Context, v *cinder.Volume, ref map[string]any) error
	// ManageExistingSnapshot makes the storage ref names s's.
	ManageExistingSnapshot(ctx context.Context, s *cinder.Snapshot, ref map[string]any) error
	// Unmanage lets v's storage go as foreign storage, its bytes kept.
	Unmanage(ctx context.Context, v *cinder.Volume) error
	// UnmanageSnapshot lets s's storage go as foreign storage, its bytes kept.
	UnmanageSnapshot(ctx context.Context, s *cinder.Snapshot) error
	// Manageable lists the storage a volume, or with snapshots a snapshot,
	// could take; known holds the ids of those Cinder has on the backend.
	Manageable(ctx context.Context, snapshots bool, known map[string]bool) ([]Manageable, error)
}

// Stats is a driver's get_volume_stats answer: top-level capabilities
// (volume_backend_name, vendor_name, driver_version, storage_protocol,
// sparse_copy_volume, …) and "pools", a list of pool dicts.
type Stats map[string]any
