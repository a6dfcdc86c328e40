package cinder

import "time"

// Snapshot statuses, as Cinder's fields.SnapshotStatus names them.
const (
	SnapshotCreating      = "creating"
	SnapshotAvailable     = "available"
	SnapshotDeleting      = "deleting"
	SnapshotDeleted       = "deleted"
	SnapshotError         = "error"
	SnapshotErrorDeleting = "error_deleting"
	SnapshotRestoring     = "restoring"
	SnapshotBackingUp     = "backing-up"
	SnapshotUpdating      = "updating"
	SnapshotUnmanaging    = "unmanaging"
)

// Snapshot is one row of the snapshots table: a volume's bytes at one point
// in time, kept by the volume's backend. JSON names are those of the RPC
// payload, close to Cinder's versioned object fields.
type Snapshot struct {
	ID                 string            `json:"id"`
	VolumeID           string            `json:"volume_id"`
	UserID             string            `json:"user_id"`
	ProjectID          string            `json:"project_id"`
	Status             string            `json:"status"`
	Progress           string            `json:"progress"`    // "0%" to "100%"
	VolumeSize         int               `json:"volume_size"` // GiB, the volume's when taken
	DisplayName        string            `json:"display_name,omitempty"`
	DisplayDescription string            `json:"display_description,omitempty"`
	Metadata           map[string]string `json:"metadata"`
	GlanceMetadata     map[string]string `json:"-"` // its bootable volume's image metadata when taken, for volumes made from it
	ProviderLocation   string            `json:"provider_location,omitempty"`
	VolumeTypeID       string            `json:"volume_type_id"`
	GroupSnapshotID    string            `json:"group_snapshot_id,omitempty"`
	UseQuota           bool              `json:"use_quota"`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          *time.Time        `json:"updated_at,omitempty"`
	DeletedAt          *time.Time        `json:"deleted_at,omitempty"`
	Deleted            bool              `json:"deleted"`
}

// Name is the snapshot's storage name, snapshot-<id>, as
// snapshot_name_template.
func (s *Snapshot) Name() string { return "snapshot-" + s.ID }

// SnapshotNotFound is SnapshotNotFound (404) for snapshot id.
func SnapshotNotFound(id string) *Error {
	return Errorf("SnapshotNotFound", 404, "Snapshot %s could not be found.", id)
}
