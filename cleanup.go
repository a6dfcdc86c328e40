package cinder

import "time"

// CleanupRequest is a workers cleanup (POST /workers/cleanup, 3.24) as it
// crosses RPC, Cinder's CleanupRequest object: which services to clean
// (empty strings and nil pointers select any), which of their resources,
// and up to when. cinder-scheduler fills the service fields per service.
type CleanupRequest struct {
	ServiceID    *int64     `json:"service_id"`
	ClusterName  string     `json:"cluster_name,omitempty"`
	Host         string     `json:"host,omitempty"`
	Binary       string     `json:"binary,omitempty"`
	IsUp         bool       `json:"is_up"`              // services up (true) or down (false, the default)
	Disabled     *bool      `json:"disabled,omitempty"` // services disabled or enabled; nil for both
	ResourceID   string     `json:"resource_id,omitempty"`
	ResourceType string     `json:"resource_type,omitempty"` // Volume or Snapshot; "" for both
	Until        *time.Time `json:"until,omitempty"`         // resources last changed before; nil for now
}

// Cleanable resource types, as Cinder's cleanable_resource_types.
const (
	CleanableVolume   = "Volume"
	CleanableSnapshot = "Snapshot"
)
