package cinder

import "time"

// GroupType is a group type (3.11), as Cinder's group_types row with its
// group specs: what generic volume groups of that type ask of a backend.
type GroupType struct {
	ID          string
	Name        string
	Description string
	IsPublic    bool
	GroupSpecs  map[string]string
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// GroupTypeNotFound is Cinder's fault for a group type id that names none.
func GroupTypeNotFound(id string) *Error {
	return Errorf("GroupTypeNotFound", 404, "Group type %s could not be found.", id)
}

// Group statuses, as Cinder's GroupStatus.
const (
	GroupCreating  = "creating"
	GroupAvailable = "available"
	GroupUpdating  = "updating"
	GroupDeleting  = "deleting"
	GroupError     = "error"
)

// Group is a generic volume group (3.13), as Cinder's groups row with the
// volume types of its group_volume_type_mapping.
type Group struct {
	ID                string     `json:"id"`
	UserID            string     `json:"user_id"`
	ProjectID         string     `json:"project_id"`
	Host              string     `json:"host,omitempty"` // host@backend#pool once scheduled
	AvailabilityZone  string     `json:"availability_zone"`
	Name              string     `json:"name,omitempty"`
	Description       string     `json:"description,omitempty"`
	GroupTypeID       string     `json:"group_type_id"`
	Status            string     `json:"status"`
	GroupSnapshotID   string     `json:"group_snapshot_id,omitempty"`
	SourceGroupID     string     `json:"source_group_id,omitempty"`
	ReplicationStatus string     `json:"replication_status,omitempty"`
	VolumeTypeIDs     []string   `json:"volume_type_ids"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         *time.Time `json:"updated_at,omitempty"`
	Deleted           bool       `json:"deleted"`
}

// GroupNotFound is Cinder's fault for a group id that names none.
func GroupNotFound(id string) *Error {
	return Errorf("GroupNotFound", 404, "Group %s could not be found.", id)
}

// InvalidGroup is Cinder's InvalidGroup (400).
func InvalidGroup(format string, args ...any) *Error {
	return Errorf("InvalidGroup", 400, "Invalid Group: "+format, args...)
}

// Group snapshot statuses, as Cinder's GroupSnapshotStatus.
const (
	GroupSnapshotCreating      = "creating"
	GroupSnapshotAvailable     = "available"
	GroupSnapshotDeleting      = "deleting"
	GroupSnapshotError         = "error"
	GroupSnapshotErrorDeleting = "error_deleting"
)

// GroupSnapshotStatuses are the statuses a group snapshot may be reset to,
// as GroupSnapshotStatus.ALL.
var GroupSnapshotStatuses = []string{GroupSnapshotError, GroupSnapshotAvailable, GroupSnapshotCreating,
	GroupSnapshotDeleting, "deleted", "updating", GroupSnapshotErrorDeleting}

// GroupSnapshot is a group snapshot (3.14), as Cinder's group_snapshots
// row: the snapshots, one per volume of its group, taken together. Host is
// its group's, where the snapshots are (not a column).
type GroupSnapshot struct {
	ID          string     `json:"id"`
	GroupID     string     `json:"group_id"`
	UserID      string     `json:"user_id"`
	ProjectID   string     `json:"project_id"`
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	Status      string     `json:"status"`
	GroupTypeID string     `json:"group_type_id"`
	Host        string     `json:"host,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
	Deleted     bool       `json:"deleted"`
}

// GroupSnapshotNotFound is Cinder's fault for a group snapshot id that
// names none.
func GroupSnapshotNotFound(id string) *Error {
	return Errorf("GroupSnapshotNotFound", 404, "GroupSnapshot %s could not be found.", id)
}

// InvalidGroupSnapshot is Cinder's InvalidGroupSnapshot (400).
func InvalidGroupSnapshot(format string, args ...any) *Error {
	return Errorf("InvalidGroupSnapshot", 400, "Invalid GroupSnapshot: "+format, args...)
}
