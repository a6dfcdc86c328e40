package cinder

import "time"

// Cluster is one row of the clusters table, with the summary of its
// services (cinder-volume services sharing a cluster_name) Cinder derives.
type Cluster struct {
	ID             int64
	Name           string
	Binary         string
	Disabled       bool
	DisabledReason string
	Frozen         bool
	CreatedAt      time.Time
	UpdatedAt      *time.Time
	LastHeartbeat  *time.Time // the latest updated_at of its services; nil without services
	NumHosts       int        // its services
	NumDownHosts   int        // its services not heard from within service_down_time
}

// ClusterNotFound is ClusterNotFound (404); what names the cluster looked
// for, as Cinder prints the filters of its lookup.
func ClusterNotFound(what string) *Error {
	return Errorf("ClusterNotFound", 404, "Cluster %s could not be found.", what)
}
