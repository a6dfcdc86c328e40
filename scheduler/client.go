package scheduler

import (
	"context"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// Client calls cinder-scheduler over RPC, as cinder/scheduler/rpcapi.py.
type Client struct{ /* owner: scheduler helper */ }

// NewClient returns a client sending on t.
func NewClient(t *rpc.Transport) *Client { panic("scheduler: TODO") }

// RequestSpec is what create_volume asks of the scheduler.
type RequestSpec struct {
	VolumeID         string             `json:"volume_id"`
	Size             int                `json:"size"`
	VolumeType       *cinder.VolumeType `json:"volume_type,omitempty"`
	AvailabilityZone string             `json:"availability_zone,omitempty"`
}

// CreateVolume casts create_volume: the scheduler picks a pool, records it
// as the volume's host and casts create_volume to that backend; with no valid
// backend it sets the volume to error.
func (c *Client) CreateVolume(ctx context.Context, v *cinder.Volume, spec RequestSpec) error {
	panic("scheduler: TODO")
}

// Pool is one entry of get_pools.
type Pool struct {
	Name         string         `json:"name"` // host@backend#pool
	Capabilities map[string]any `json:"capabilities"`
}

// GetPools calls get_pools: the latest stats of every pool whose backend is up.
func (c *Client) GetPools(ctx context.Context) ([]Pool, error) { panic("scheduler: TODO") }
