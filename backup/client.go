package backup

import (
	"context"
	"fmt"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// Client calls cinder-backup managers over RPC, as cinder/backup/rpcapi.py:
// topic cinder-backup, server the backup's host.
type Client struct {
	rpc *rpc.Client
}

// NewClient returns a client sending on t.
func NewClient(t *rpc.Transport) *Client {
	return &Client{rpc: rpc.NewClient(t, rpc.Target{Topic: cinder.TopicBackup, Version: "2.0"}, 0)}
}

// cast casts method with args to the cinder-backup of host, asking for
// version ("" keeps the client's 2.0).
func (c *Client) cast(ctx context.Context, host, method, version string, args map[string]any) error {
	if err := c.rpc.Prepare("", host, version, 0).Cast(ctx, method, args); err != nil {
		return fmt.Errorf("cast %s to cinder-backup %q: %w", method, host, err)
	}
	return nil
}

// CreateBackup casts create_backup to b.Host: back up b's volume, which is
// backing-up, into b, creating.
func (c *Client) CreateBackup(ctx context.Context, b *cinder.Backup) error {
	return c.cast(ctx, b.Host, "create_backup", "", map[string]any{"backup": b})
}

// DeleteBackup casts delete_backup to b.Host: remove b's objects, then its row.
func (c *Client) DeleteBackup(ctx context.Context, b *cinder.Backup) error {
	return c.cast(ctx, b.Host, "delete_backup", "", map[string]any{"backup": b})
}

// RestoreBackup casts restore_backup (version 2.4 for volume_is_new) to
// host: write b, restoring, into volume volumeID, restoring-backup.
// volumeIsNew says the volume was created for the restore and still reads
// as zeros.
func (c *Client) RestoreBackup(ctx context.Context, host string, b *cinder.Backup, volumeID string, volumeIsNew bool) error {
	return c.cast(ctx, host, "restore_backup", "2.4", map[string]any{
		"backup": b, "volume_id": volumeID, "volume_is_new": volumeIsNew,
	})
}

// ExportRecord calls export_record on b.Host and returns what imports b
// elsewhere.
func (c *Client) ExportRecord(ctx context.Context, b *cinder.Backup) (*cinder.BackupRecord, error) {
	var r cinder.BackupRecord
	if err := c.rpc.Prepare("", b.Host, "", 0).Call(ctx, "export_record", map[string]any{"backup": b}, &r); err != nil {
		return nil, fmt.Errorf("call export_record on cinder-backup %q: %w", b.Host, err)
	}
	return &r, nil
}

// ImportRecord casts import_record to host: fill b, creating, from r and
// make it available once its objects are found.
func (c *Client) ImportRecord(ctx context.Context, host string, b *cinder.Backup, r cinder.BackupRecord) error {
	return c.cast(ctx, host, "import_record", "", map[string]any{
		"backup": b, "backup_service": r.Service, "backup_url": r.URL, "backup_hosts": []string{},
	})
}
