package cinder

import (
	"encoding/json"
	"time"
)

// Attach statuses of volumes and attachments, as Cinder's
// fields.VolumeAttachStatus names them.
const (
	AttachAttached       = "attached"
	AttachAttaching      = "attaching"
	AttachDetached       = "detached"
	AttachReserved       = "reserved"
	AttachErrorAttaching = "error_attaching"
	AttachErrorDetaching = "error_detaching"
)

// Attachment is one row of the volume_attachment table: a volume reserved
// for, or connected to, an instance or host. JSON names are those of the
// RPC payload, Cinder's VolumeAttachment fields.
type Attachment struct {
	ID           string     `json:"id"`
	VolumeID     string     `json:"volume_id"`
	InstanceUUID string     `json:"instance_uuid,omitempty"`
	AttachedHost string     `json:"attached_host,omitempty"`
	Mountpoint   string     `json:"mountpoint,omitempty"`
	AttachTime   *time.Time `json:"attach_time,omitempty"`
	DetachTime   *time.Time `json:"detach_time,omitempty"`
	AttachStatus string     `json:"attach_status"`
	AttachMode   string     `json:"attach_mode,omitempty"` // rw, ro, "null" (none asked), or "" (unset)
	// ConnectionInfo is what the backend answered attachment_update, keys
	// in Cinder's order; nil until then.
	ConnectionInfo json.RawMessage `json:"connection_info,omitempty"`
	Connector      map[string]any  `json:"connector,omitempty"` // the host connector it was made for; nil for none
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      *time.Time      `json:"updated_at,omitempty"`
	DeletedAt      *time.Time      `json:"deleted_at,omitempty"`
	Deleted        bool            `json:"deleted"`
}

// AttachmentNotFound is VolumeAttachmentNotFound (404) for attachment id.
func AttachmentNotFound(id string) *Error {
	return Errorf("VolumeAttachmentNotFound", 404, "Volume attachment could not be found with filter: attachment_id = %s.", id)
}

// Attach is what os-attach asks of a volume's backend (attach_volume):
// record it attached to an instance or a host at a mountpoint.
type Attach struct {
	InstanceUUID string // "" for none
	HostName     string // "" for none
	Mountpoint   string
	Mode         string // rw or ro
}
