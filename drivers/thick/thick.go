// Package thick is a volume driver keeping each volume as a fully allocated
// file, like thick LVM: storage is reserved at creation and is not zeroed, so
// a new volume may show the bytes of a deleted one unless volume_clear wiped
// them. Snapshots are allocated the same way, and a volume or snapshot made
// from another is a full copy that leaves none of those bytes.
package thick

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/volcopy"
)

// Driver stores a backend's volumes and snapshots as allocated files in its
// volumes_dir. A deleted volume's or snapshot's file moves to
// volumes_dir/.free, released storage that the next file takes as it is,
// as an LVM extent is handed over.
type Driver struct {
	drivers.Files
	mu sync.Mutex // orders the capacity check and allocation of concurrent calls
}

// New returns the driver of backend b served as host (host@backend).
func New(b *conf.Backend, host string) *Driver {
	d := &Driver{Files: drivers.Files{Backend: b, Host: host, Released: filepath.Join(b.VolumesDir, ".free")}}
	d.Storage = d
	return d
}

var _ drivers.Driver = (*Driver)(nil)

// Make gives j.Dst a released file resized to j.Size bytes if there is one,
// else a newly allocated file reading as zeros, and copies j.Src onto it in
// full, zeroing the rest, so that no byte of released storage survives (never
// by reflink: shared extents would not stay allocated to the copy). It
// fails with VolumeBackendAPIException when the backend lacks the space. A
// failed copy releases j.Dst as DeleteVolume does; a crash may leave it
// partly copied, for the delete of its volume or snapshot to release.
func (d *Driver) Make(ctx context.Context, j drivers.Job) error {
	if err := d.take(j.Dst, j.Size); err != nil {
		return err
	}
	if j.Src == "" {
		return nil
	}
	err := d.Copy(ctx, j, volcopy.Options{ZeroTail: true})
	if err == nil {
		return nil
	}
	if ferr := d.Free(context.WithoutCancel(ctx), j.Dst); ferr != nil {
		slog.Error("cannot release the storage of a failed copy", "what", j.What, "path", j.Dst, "err", ferr)
	}
	return fmt.Errorf("%s: %w", j.What, err)
}

// take gives path a released file resized to size bytes if there is one,
// else a newly allocated file reading as zeros.
func (d *Driver) take(path string, size int64) error {
	name := filepath.Base(path)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch _, err := os.Lstat(path); {
	case err == nil:
		return fmt.Errorf("create %s: %w", name, fs.ErrExist)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := d.reserve(name, size); err != nil {
		return err
	}
	extent, err := d.released(size)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if extent == "" {
		return allocate(name, path, size)
	}
	if err := resize(extent, size); err != nil {
		return allocationError(name, err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, extent, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE); err != nil {
		return fmt.Errorf("create %s: take released storage: %w", name, err)
	}
	return nil
}

// reserve checks that the backend has n bytes free for the file name.
func (d *Driver) reserve(name string, n int64) error {
	c, err := d.Capacity()
	if err != nil {
		return err
	}
	if c.Free < n {
		return cinder.VolumeBackendAPIException("backend %s has %.2f GiB free, %s needs %.2f GiB",
			d.Backend.Name, float64(c.Free)/drivers.GiB, name, float64(n)/drivers.GiB)
	}
	return nil
}

// released picks the released file to reuse for size bytes: the smallest
// that is large enough, else the largest. It returns "" when there is none.
func (d *Driver) released(size int64) (string, error) {
	entries, err := os.ReadDir(d.Released)
	if err != nil {
		return "", err
	}
	var best string
	var bestSize int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if s := info.Size(); best == "" || better(s, bestSize, size) {
			best, bestSize = e.Name(), s
		}
	}
	if best == "" {
		return "", nil
	}
	return filepath.Join(d.Released, best), nil
}

// better reports whether a released file of s bytes suits a volume of size
// bytes better than one of t bytes: fitting beats not fitting, then the
// smaller fitting file or the larger non-fitting one wins.
func better(s, t, size int64) bool {
	if fits := s >= size; fits != (t >= size) {
		return fits
	}
	if s >= size {
		return s < t
	}
	return s > t
}

// resize cuts the file at path to size bytes or allocates its growth.
func resize(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err == nil {
		switch cur := info.Size(); {
		case size < cur:
			err = f.Truncate(size)
		case size > cur:
			err = unix.Fallocate(int(f.Fd()), 0, cur, size-cur)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// allocate creates path, the file name, with size bytes allocated but not written.
func allocate(name, path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // the allocation's error is the one to report
		return allocationError(name, err)
	}
	return nil
}

// allocationError reports a failed allocation of the file name, as
// VolumeBackendAPIException when the filesystem is full.
func allocationError(name string, err error) error {
	if errors.Is(err, unix.ENOSPC) {
		return cinder.VolumeBackendAPIException("no space left to allocate %s", name)
	}
	return fmt.Errorf("allocate %s: %w", name, err)
}

// Free releases the file at path to the next volume or snapshot, first
// writing zeros over volume_clear_size MiB of it (all of it when 0) if
// volume_clear is zero, as the LVM driver clears a thick snapshot too.
func (d *Driver) Free(ctx context.Context, path string) error {
	name := filepath.Base(path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	err = d.clear(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("delete %s: clear: %w", name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := release(path, d.Released); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// clear writes zeros over the start of f as volume_clear and volume_clear_size
// say, with real writes of volume_dd_blocksize, then syncs them to disk.
func (d *Driver) clear(ctx context.Context, f *os.File) error {
	if d.Backend.VolumeClear != "zero" {
		return nil
	}
	bs := cmp.Or(d.Backend.VolumeDDBlocksize, 1<<20)
	info, err := f.Stat()
	if err != nil {
		return err
	}
	n := info.Size()
	if d.Backend.VolumeClearSize > 0 {
		n = min(n, int64(d.Backend.VolumeClearSize)<<20)
	}
	zeros := make([]byte, min(bs, n))
	for off := int64(0); off < n; off += int64(len(zeros)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), n-off)], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// release moves the file at path into the released directory under a fresh name.
func release(path, dir string) error {
	slot, err := os.CreateTemp(dir, "extent-*")
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := slot.Close(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.Rename(path, slot.Name()); err != nil {
		_ = os.Remove(slot.Name()) // the rename's error is the one to report
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// ExtendVolume allocates v's file up to newSize GiB, keeping its bytes.
func (d *Driver) ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) (err error) {
	size, err := drivers.Bytes(newSize)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, cur, err := d.Open(v)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	switch {
	case size < cur:
		return cinder.InvalidInput("cannot shrink %s from %d to %d bytes", v.Name(), cur, size)
	case size == cur:
		return nil
	}
	if err := d.reserve(v.Name(), size-cur); err != nil {
		return err
	}
	if err := unix.Fallocate(int(f.Fd()), 0, cur, size-cur); err != nil {
		return allocationError(v.Name(), err)
	}
	return nil
}
