// Package thin is a volume driver keeping each volume as a sparse file, like
// thin LVM: space is taken on write and the backend may be oversubscribed.
// Snapshots and clones are reflink clones where the volumes directory's
// filesystem can make them (xfs with reflink, btrfs), else sparse copies.
package thin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/volcopy"
)

// Driver stores a backend's volumes and snapshots as sparse files in its
// volumes_dir.
type Driver struct {
	drivers.Files
	reflink bool // files in volumes_dir can be cloned by FICLONE, as Setup found
}

// New returns the driver of backend b served as host (host@backend).
func New(b *conf.Backend, host string) *Driver {
	d := &Driver{Files: drivers.Files{Backend: b, Host: host, Thin: true}}
	d.Storage = d
	return d
}

var _ drivers.Driver = (*Driver)(nil)

// revertSuffix names the clone a revert by reflink makes beside a volume's
// file before renaming it over that file.
const revertSuffix = ".revert"

// Setup prepares volumes_dir, removes the clones of reverts a crash
// interrupted, and probes whether files there can be cloned by reflink.
func (d *Driver) Setup(ctx context.Context) error {
	if err := d.Files.Setup(ctx); err != nil {
		return err
	}
	dir := d.Backend.VolumesDir
	log := slog.With("backend", d.Backend.Name, "volumes_dir", dir)
	leftovers, err := filepath.Glob(filepath.Join(dir, "volume-*"+revertSuffix))
	if err != nil {
		return fmt.Errorf("set up backend %s: %w", d.Backend.Name, err)
	}
	for _, path := range leftovers {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("set up backend %s: remove an interrupted revert's clone: %w", d.Backend.Name, err)
		}
		log.Warn("removed the clone of an interrupted revert", "path", path)
	}
	if err := removeClones(dir); err != nil {
		return fmt.Errorf("set up backend %s: remove an interrupted backup's clone: %w", d.Backend.Name, err)
	}
	err = probeReflink(dir)
	d.reflink = err == nil
	if d.reflink {
		log.Info("snapshots and clones by reflink")
	} else {
		log.Info("snapshots and clones by the copy engine: no reflink in volumes_dir", "err", err)
	}
	return nil
}

// probeReflink clones a file of one block into another, both created
// unnamed in dir (O_TMPFILE) so that nothing is left behind.
func probeReflink(dir string) error {
	tmp := func() (*os.File, error) {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create a file in %s: %w", dir, err)
		}
		return os.NewFile(uintptr(fd), dir), nil
	}
	src, err := tmp()
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }() // unnamed: nothing to keep
	if _, err := src.Write(make([]byte, 4096)); err != nil {
		return fmt.Errorf("write a file in %s: %w", dir, err)
	}
	dst, err := tmp()
	if err != nil {
		return err
	}
	defer func() { _ = dst.Close() }() // unnamed: nothing to keep
	return unix.IoctlFileClone(int(dst.Fd()), int(src.Fd()))
}

// Make creates j.Dst: a reflink clone of j.Src grown to j.Size bytes where
// the filesystem can, else a sparse file of j.Size bytes into which the
// engine writes only j.Src's non-zero data. It removes j.Dst on failure; a
// crash may leave it partly copied, for the delete of its volume or
// snapshot to remove.
func (d *Driver) Make(ctx context.Context, j drivers.Job) error {
	if d.reflink && j.Src != "" {
		return clone(j.Dst, j, os.O_EXCL)
	}
	f, err := os.OpenFile(j.Dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", j.What, err)
	}
	err = f.Truncate(j.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && j.Src != "" {
		err = d.Copy(ctx, j, volcopy.Options{Sparse: true})
	}
	if err != nil {
		_ = os.Remove(j.Dst) // the first error is the one to report
		return fmt.Errorf("%s: %w", j.What, err)
	}
	return nil
}

// clone makes the file at path, opened with flag (O_EXCL or O_TRUNC), a
// reflink clone of j.Src grown to j.Size bytes, and syncs it. It removes
// the file on failure.
func clone(path string, j drivers.Job, flag int) error {
	src, err := os.Open(j.Src)
	if err != nil {
		return fmt.Errorf("%s: %w", j.What, err)
	}
	defer func() { _ = src.Close() }() // read-only: nothing to lose
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", j.What, err)
	}
	err = unix.IoctlFileClone(int(f.Fd()), int(src.Fd()))
	if err == nil {
		err = f.Truncate(j.Size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // the clone's error is the one to report
		return fmt.Errorf("%s: reflink: %w", j.What, err)
	}
	slog.Info("copied volume data", "what", j.What, "by", "reflink")
	return nil
}

// Free removes the file at path; its blocks return to the filesystem, so
// nothing needs clearing.
func (d *Driver) Free(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", filepath.Base(path), err)
	}
	return nil
}

// RevertToSnapshot gives v the bytes of s. By reflink, a clone of s is made
// beside v's file, synced and renamed over it: a crash leaves v's file
// either old or reverted whole (and maybe the clone, which Setup removes).
// Without reflink the engine writes only the blocks that differ, in place.
func (d *Driver) RevertToSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	if !d.reflink {
		return d.Files.RevertToSnapshot(ctx, v, s)
	}
	j, err := d.RevertJob(v, s)
	if err != nil {
		return err
	}
	tmp := j.Dst + revertSuffix
	if err := clone(tmp, j, os.O_TRUNC); err != nil {
		return err
	}
	if err := os.Rename(tmp, j.Dst); err != nil {
		_ = os.Remove(tmp) // the rename's error is the one to report
		return fmt.Errorf("%s: %w", j.What, err)
	}
	if err := syncDir(filepath.Dir(j.Dst)); err != nil {
		return fmt.Errorf("%s: sync volumes_dir: %w", j.What, err)
	}
	return nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
