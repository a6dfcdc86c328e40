package manager

import (
	"context"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/rpc"
)

// Client calls cinder-volume managers over RPC, as cinder/volume/rpcapi.py:
// topic cinder-volume.<host@backend>, server <host>.
type Client struct{ /* owner: manager helper */ }

// NewClient returns a client sending on t.
func NewClient(t *rpc.Transport) *Client { panic("manager: TODO") }

// CreateVolume casts create_volume to the backend of v.Host.
func (c *Client) CreateVolume(ctx context.Context, v *cinder.Volume, spec map[string]any) error {
	panic("manager: TODO")
}

// DeleteVolume casts delete_volume to the backend of v.Host.
func (c *Client) DeleteVolume(ctx context.Context, v *cinder.Volume) error { panic("manager: TODO") }

// ExtendVolume casts extend_volume to the backend of v.Host.
func (c *Client) ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) error {
	panic("manager: TODO")
}

// InitializeConnection calls initialize_connection on the backend of v.Host.
func (c *Client) InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*drivers.ConnectionInfo, error) {
	panic("manager: TODO")
}

// TerminateConnection calls terminate_connection on the backend of v.Host.
func (c *Client) TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error {
	panic("manager: TODO")
}

// GetCapabilities calls get_capabilities on backend host (host@backend,
// a #pool is ignored).
func (c *Client) GetCapabilities(ctx context.Context, host string, discover bool) (map[string]any, error) {
	panic("manager: TODO")
}
