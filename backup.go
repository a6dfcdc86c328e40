package cinder

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Backup statuses, as Cinder's fields.BackupStatus names them.
const (
	BackupCreating      = "creating"
	BackupAvailable     = "available"
	BackupDeleting      = "deleting"
	BackupDeleted       = "deleted"
	BackupError         = "error"
	BackupErrorDeleting = "error_deleting"
	BackupRestoring     = "restoring"
)

// Volume statuses of a backup's source and of a restore's target.
const (
	StatusBackingUp       = "backing-up"
	StatusRestoringBackup = "restoring-backup"
	StatusErrorRestoring  = "error_restoring"
)

// BackupServicePosix is the service column of a posix backup: Cinder's
// driver class, so that records export and import between the two.
const BackupServicePosix = "cinder.backup.drivers.posix.PosixBackupDriver"

// Backup is one row of the backups table: a copy of a volume's bytes kept
// by cinder-backup outside the volume's backend. JSON names are those of the
// RPC payload, close to Cinder's versioned object fields.
type Backup struct {
	ID                  string            `json:"id"`
	VolumeID            string            `json:"volume_id"`
	UserID              string            `json:"user_id"`
	ProjectID           string            `json:"project_id"`
	Host                string            `json:"host,omitempty"` // the cinder-backup host keeping it
	AvailabilityZone    string            `json:"availability_zone,omitempty"`
	DisplayName         string            `json:"display_name,omitempty"`
	DisplayDescription  string            `json:"display_description,omitempty"`
	Container           string            `json:"container,omitempty"`
	Status              string            `json:"status"`
	FailReason          string            `json:"fail_reason,omitempty"`
	ServiceMetadata     string            `json:"service_metadata,omitempty"` // the posix object prefix
	Service             string            `json:"service,omitempty"`
	Size                int               `json:"size"` // GiB, the volume's
	ObjectCount         int               `json:"object_count"`
	ParentID            string            `json:"parent_id,omitempty"`
	NumDependentBackups int               `json:"num_dependent_backups"`
	SnapshotID          string            `json:"snapshot_id,omitempty"`
	DataTimestamp       time.Time         `json:"data_timestamp"`
	RestoreVolumeID     string            `json:"restore_volume_id,omitempty"`
	Metadata            map[string]string `json:"metadata"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           *time.Time        `json:"updated_at,omitempty"`
	DeletedAt           *time.Time        `json:"deleted_at,omitempty"`
	Deleted             bool              `json:"deleted"`
}

// IsIncremental reports whether b holds only the blocks changed since its parent.
func (b *Backup) IsIncremental() bool { return b.ParentID != "" }

// InvalidBackup is InvalidBackup (400): the backup's state forbids the action.
func InvalidBackup(format string, args ...any) *Error {
	return Errorf("InvalidBackup", 400, "Invalid backup: "+format, args...)
}

// BackupNotFound is BackupNotFound (404) for backup id.
func BackupNotFound(id string) *Error {
	return Errorf("BackupNotFound", 404, "Backup %s could not be found.", id)
}

// BackupRecord is an exported backup, as export_record answers and
// import_record takes: the driver's name and the row, encoded.
type BackupRecord struct {
	Service string `json:"backup_service"`
	URL     string `json:"backup_url"`
}

// ExportBackup returns b's record: Cinder's driver name and the row as
// base64-encoded JSON, as Backup.encode_record.
func ExportBackup(b *Backup) (BackupRecord, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return BackupRecord{}, fmt.Errorf("encode backup %s: %w", b.ID, err)
	}
	return BackupRecord{Service: BackupServicePosix, URL: base64.StdEncoding.EncodeToString(data)}, nil
}

// Backup returns the backup row r holds: ServiceNotFound (404) for
// another driver's record, InvalidInput when it cannot be read.
func (r BackupRecord) Backup() (*Backup, error) {
	if r.Service != BackupServicePosix && r.Service != "posix" {
		return nil, Errorf("ServiceNotFound", 404, "Service %s could not be found.", r.Service)
	}
	data, err := base64.StdEncoding.DecodeString(r.URL)
	var b Backup
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err == nil && len(b.ID) < 4 {
		err = errors.New("no backup id")
	}
	if err != nil {
		return nil, InvalidInput("Can't parse backup record: %v", err)
	}
	return &b, nil
}
