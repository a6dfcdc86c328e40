// Package cinder holds the domain words every service shares: volumes,
// services, volume types, hosts, request contexts and Cinder's exceptions.
// It imports nothing of the project, so every package may import it.
package cinder

import (
	"strings"
	"time"
)

// Volume statuses, as Cinder names them.
const (
	StatusCreating    = "creating"
	StatusAvailable   = "available"
	StatusInUse       = "in-use"
	StatusDeleting    = "deleting"
	StatusDeleted     = "deleted"
	StatusError       = "error"
	StatusErrorDelete = "error_deleting"
	StatusExtending   = "extending"
	StatusErrorExtend = "error_extending"
	StatusMaintenance = "maintenance"
	StatusRetyping    = "retyping"
	StatusAttaching   = "attaching"
	StatusDetaching   = "detaching"
	StatusReserved    = "reserved"
	StatusReverting   = "reverting"

	StatusAwaitingTransfer = "awaiting-transfer"
)

// Migration statuses; a migration target row carries MigrationTarget(sourceID).
const (
	MigrationStarting   = "starting"
	MigrationMigrating  = "migrating"
	MigrationCompleting = "completing"
	MigrationSuccess    = "success"
	MigrationError      = "error"
	MigrationDeleting   = "deleting"
)

// Migration policies of a retype (os-retype's migration_policy).
const (
	MigrationPolicyNever    = "never"     // the volume keeps its pool, or the retype fails
	MigrationPolicyOnDemand = "on-demand" // the volume migrates when its pool cannot serve the new type
)

// MigrationTarget is the migration_status of the temporary destination row of
// a migration of volume sourceID.
func MigrationTarget(sourceID string) string { return migrationTargetPrefix + sourceID }

// IsMigrationTarget reports whether migrationStatus is a migration target's.
func IsMigrationTarget(migrationStatus string) bool {
	return strings.HasPrefix(migrationStatus, migrationTargetPrefix)
}

const migrationTargetPrefix = "target:"

// Service binaries and their RPC topics.
const (
	BinaryAPI       = "cinder-api"
	BinaryScheduler = "cinder-scheduler"
	BinaryVolume    = "cinder-volume"
	BinaryBackup    = "cinder-backup"

	TopicScheduler = "cinder-scheduler"
	TopicVolume    = "cinder-volume"
	TopicBackup    = "cinder-backup"
)

// DefaultVolumeType is the name of the volume type Cinder creates at install.
const DefaultVolumeType = "__DEFAULT__"

// DefaultAvailabilityZone is storage_availability_zone's default.
const DefaultAvailabilityZone = "nova"

// Volume is one row of the volumes table. JSON names are those of the RPC
// payload, close to Cinder's versioned object fields.
type Volume struct {
	ID                 string            `json:"id"`
	NameID             string            `json:"_name_id,omitempty"` // where the data lives when it differs from ID (after a migration)
	UserID             string            `json:"user_id"`
	ProjectID          string            `json:"project_id"`
	Size               int               `json:"size"` // GiB
	AvailabilityZone   string            `json:"availability_zone"`
	Status             string            `json:"status"`
	PreviousStatus     string            `json:"previous_status,omitempty"`
	AttachStatus       string            `json:"attach_status"`
	MigrationStatus    string            `json:"migration_status,omitempty"`
	Host               string            `json:"host,omitempty"` // host@backend#pool once scheduled
	ClusterName        string            `json:"cluster_name,omitempty"`
	ServiceUUID        string            `json:"service_uuid,omitempty"`
	DisplayName        string            `json:"display_name,omitempty"`
	DisplayDescription string            `json:"display_description,omitempty"`
	VolumeTypeID       string            `json:"volume_type_id"`
	Metadata           map[string]string `json:"metadata"`
	AdminMetadata      map[string]string `json:"admin_metadata"`  // Cinder's volume_admin_metadata: readonly, attached_mode
	GlanceMetadata     map[string]string `json:"glance_metadata"` // Cinder's volume_glance_metadata: the properties of its image
	ProviderLocation   string            `json:"provider_location,omitempty"`
	SnapshotID         string            `json:"snapshot_id,omitempty"`
	SourceVolID        string            `json:"source_volid,omitempty"`
	GroupID            string            `json:"group_id,omitempty"` // the generic volume group (3.13) holding it
	Bootable           bool              `json:"bootable"`
	Multiattach        bool              `json:"multiattach"`
	UseQuota           bool              `json:"use_quota"`
	ReplicationStatus  string            `json:"replication_status,omitempty"`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          *time.Time        `json:"updated_at,omitempty"`
	DeletedAt          *time.Time        `json:"deleted_at,omitempty"`
	Deleted            bool              `json:"deleted"`
}

// Name is the volume's storage name, volume-<name_id>, as volume_name_template.
func (v *Volume) Name() string { return "volume-" + v.DataID() }

// DataID is the id naming the volume's data: _name_id when set, else id.
func (v *Volume) DataID() string {
	if v.NameID != "" {
		return v.NameID
	}
	return v.ID
}

// Readonly reports whether an admin flagged v readonly
// (os-update_readonly_flag): it is then attached ro only.
func (v *Volume) Readonly() bool { return v.AdminMetadata["readonly"] == "True" }

// AccessMode is how a connector may use v, as Cinder's manager tells it in
// connection_info: the attached_mode of its attachment, else ro when an
// admin flagged it readonly, else rw.
func (v *Volume) AccessMode() string {
	if mode := v.AdminMetadata["attached_mode"]; mode != "" {
		return mode
	}
	if v.Readonly() {
		return "ro"
	}
	return "rw"
}

// EndRetype ends v's retype, with or without a new type: v gets back the
// status it had before (previous_status). It fails with InvalidVolume, and
// leaves v as it is, when v is no longer retyping. A func for UpdateVolume.
func EndRetype(v *Volume) error {
	if v.Status != StatusRetyping {
		return InvalidVolume("volume %s is %s, no longer %s", v.ID, v.Status, StatusRetyping)
	}
	v.Status = v.PreviousStatus
	if v.Status == "" {
		v.Status = StatusAvailable
	}
	return nil
}

// Service is one row of the services table: a running binary on a host.
type Service struct {
	ID               int64      `json:"id"`
	UUID             string     `json:"uuid"`
	Host             string     `json:"host"` // host, or host@backend for cinder-volume
	Binary           string     `json:"binary"`
	Topic            string     `json:"topic"`
	AvailabilityZone string     `json:"availability_zone"`
	Disabled         bool       `json:"disabled"`
	DisabledReason   string     `json:"disabled_reason,omitempty"`
	Frozen           bool       `json:"frozen"` // modification operations refused on its backend (freeze_host)
	ReportCount      int64      `json:"report_count"`
	ClusterName      string     `json:"cluster_name,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        *time.Time `json:"updated_at,omitempty"`
}

// Up reports whether the service has heartbeaten within downTime of now.
func (s *Service) Up(now time.Time, downTime time.Duration) bool {
	last := s.CreatedAt
	if s.UpdatedAt != nil {
		last = *s.UpdatedAt
	}
	return now.Sub(last) <= downTime
}

// VolumeType is a volume type with its extra specs, the QoS specs it is
// associated with, and whether it has an encryption.
type VolumeType struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	IsPublic    bool              `json:"is_public"`
	ExtraSpecs  map[string]string `json:"extra_specs"`
	QoSSpecsID  string            `json:"qos_specs_id,omitempty"`
	Encrypted   bool              `json:"-"` // read from the encryption table, never written with the type
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   *time.Time        `json:"updated_at,omitempty"`
}

// Multiattach reports whether volumes of type t may attach to several
// instances at once (extra spec multiattach "<is> True").
func (t *VolumeType) Multiattach() bool { return t.ExtraSpecs["multiattach"] == "<is> True" }

// Message is a user message (GET /v3/{project_id}/messages): how Cinder
// tells a user why an asynchronous request failed.
type Message struct {
	ID           string    `json:"id"`
	ProjectID    string    `json:"project_id"`
	RequestID    string    `json:"request_id"`
	ResourceType string    `json:"resource_type"` // VOLUME
	ResourceUUID string    `json:"resource_uuid"`
	EventID      string    `json:"event_id"` // VOLUME_<resource>_<action>_<detail>
	Level        string    `json:"message_level"`
	UserMessage  string    `json:"user_message"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}
