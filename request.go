package cinder

import "fmt"

// TimeLayout is how Cinder writes times in its views and RPC payloads:
// ISO 8601 with microseconds and no zone, always UTC.
const TimeLayout = "2006-01-02T15:04:05.000000"

// RequestSpec is what create_volume, migrate_volume and retype ask of
// cinder-scheduler; in a retype, VolumeType is the new type.
type RequestSpec struct {
	VolumeID          string      `json:"volume_id"`
	Size              int         `json:"size"`
	VolumeType        *VolumeType `json:"volume_type,omitempty"`
	AvailabilityZone  string      `json:"availability_zone,omitempty"`
	AvailabilityZones []string    `json:"availability_zones,omitempty"` // create: any of these, when AvailabilityZone is ""
	MigrationPolicy   string      `json:"migration_policy,omitempty"`   // retype: never or on-demand
	SnapshotID        string      `json:"snapshot_id,omitempty"`        // create: from this snapshot
	SourceVolID       string      `json:"source_volid,omitempty"`       // create: a clone of this volume
	ResourceBackend   string      `json:"resource_backend,omitempty"`   // create: only on this host@backend, the source's
}

// Pool is one entry of the scheduler's get_pools: a pool and its latest
// reported capabilities.
type Pool struct {
	Name         string         `json:"name"` // host@backend#pool
	Capabilities map[string]any `json:"capabilities"`
}

// ConnectionInfo is what initialize_connection answers: how a connector
// reaches a volume's bytes.
type ConnectionInfo struct {
	DriverVolumeType string         `json:"driver_volume_type"`
	Data             map[string]any `json:"data"`
}

// DevicePath is where a local connection reaches the volume's bytes: its
// data's device_path.
func (c *ConnectionInfo) DevicePath() (string, error) {
	if path, _ := c.Data["device_path"].(string); path != "" {
		return path, nil
	}
	return "", fmt.Errorf("connection info of type %q has no device_path", c.DriverVolumeType)
}
