// Package thin is a volume driver keeping each volume as a sparse file, like
// thin LVM: space is taken on write and the backend may be oversubscribed.
package thin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
)

// Driver stores a backend's volumes as sparse files in its volumes_dir.
type Driver struct {
	drivers.Files
}

// New returns the driver of backend b served as host (host@backend).
func New(b *conf.Backend, host string) *Driver {
	return &Driver{drivers.Files{Backend: b, Host: host, Thin: true}}
}

var _ drivers.Driver = (*Driver)(nil)

// CreateVolume makes a sparse file of v.Size GiB, reading as zeros.
func (d *Driver) CreateVolume(ctx context.Context, v *cinder.Volume) error {
	path, err := d.Path(v)
	if err != nil {
		return err
	}
	size, err := drivers.Bytes(v.Size)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", v.Name(), err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // the truncation's error is the one to report
		return fmt.Errorf("create %s: %w", v.Name(), err)
	}
	return nil
}

// DeleteVolume removes v's file; its blocks return to the filesystem, so
// nothing needs clearing.
func (d *Driver) DeleteVolume(ctx context.Context, v *cinder.Volume) error {
	path, err := d.Path(v)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", v.Name(), err)
	}
	return nil
}

// ExtendVolume grows v's file to newSize GiB; the new range is a hole.
func (d *Driver) ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) (err error) {
	size, err := drivers.Bytes(newSize)
	if err != nil {
		return err
	}
	f, cur, err := d.Open(v)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if size < cur {
		return cinder.InvalidInput("cannot shrink %s from %d to %d bytes", v.Name(), cur, size)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("extend %s: %w", v.Name(), err)
	}
	return nil
}
