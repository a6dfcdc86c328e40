package drivers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/drivers/volcopy"
)

// Storage is how a driver allocates and releases the files Files keeps.
type Storage interface {
	// Make creates j.Dst, j.Size bytes holding j.Src's first j.SrcSize
	// bytes (none when j.Src is "") and zeros after them.
	Make(ctx context.Context, j Job) error
	// Free releases the file at path; a missing file is no error.
	Free(ctx context.Context, path string) error
}

// Job is a file a driver fills from another: the first SrcSize bytes of the
// file at Src go to the file at Dst, which holds Size ≥ SrcSize bytes and
// reads as zeros past SrcSize.
type Job struct {
	What     string // the operation, for errors and logs: "create snapshot-<id> of volume-<id>"
	Src, Dst string
	SrcSize  int64
	Size     int64
}

// CreateVolume makes v's file of v.Size GiB, reading as zeros.
func (f *Files) CreateVolume(ctx context.Context, v *cinder.Volume) error {
	return f.makeVolume(ctx, v, stored{})
}

// DeleteVolume releases v's file; deleting a volume with no file succeeds.
func (f *Files) DeleteVolume(ctx context.Context, v *cinder.Volume) error {
	path, err := f.Path(v)
	if err != nil {
		return err
	}
	return f.Storage.Free(ctx, path)
}

// CreateSnapshot makes s's file, a copy of v's as it is now. It fails with
// VolumeNotFound when v has no file.
func (f *Files) CreateSnapshot(ctx context.Context, s *cinder.Snapshot, v *cinder.Volume) error {
	src, err := f.volumeFile(v)
	if err != nil {
		return err
	}
	dst, err := f.SnapshotPath(s)
	if err != nil {
		return err
	}
	return f.Storage.Make(ctx, Job{What: "create " + s.Name() + " of " + src.name, Src: src.path, Dst: dst, SrcSize: src.size, Size: src.size})
}

// DeleteSnapshot releases s's file; deleting a snapshot with no file succeeds.
func (f *Files) DeleteSnapshot(ctx context.Context, s *cinder.Snapshot) error {
	path, err := f.SnapshotPath(s)
	if err != nil {
		return err
	}
	return f.Storage.Free(ctx, path)
}

// CreateVolumeFromSnapshot makes v's file, v.Size GiB, holding s's bytes
// and zeros after them. It fails with SnapshotNotFound when s has no file.
func (f *Files) CreateVolumeFromSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	src, err := f.snapshotFile(s)
	if err != nil {
		return err
	}
	return f.makeVolume(ctx, v, src)
}

// CreateClonedVolume makes v's file, v.Size GiB, holding src's bytes and
// zeros after them. It fails with VolumeNotFound when src has no file.
func (f *Files) CreateClonedVolume(ctx context.Context, v, src *cinder.Volume) error {
	file, err := f.volumeFile(src)
	if err != nil {
		return err
	}
	return f.makeVolume(ctx, v, file)
}

// makeVolume makes v's file holding src's bytes (none when src is zero),
// refusing a v too small to hold them.
func (f *Files) makeVolume(ctx context.Context, v *cinder.Volume, src stored) error {
	path, err := f.Path(v)
	if err != nil {
		return err
	}
	size, err := Bytes(v.Size)
	if err != nil {
		return err
	}
	what := "create " + v.Name()
	if src.path != "" {
		what += " from " + src.name
	}
	if size < src.size {
		return cinder.InvalidInput("%s: %d GiB cannot hold the %d bytes of %s", what, v.Size, src.size, src.name)
	}
	return f.Storage.Make(ctx, Job{What: what, Src: src.path, Dst: path, SrcSize: src.size, Size: size})
}

// RevertToSnapshot writes s's bytes over v's file, which keeps its size
// (zeros past s's), with the engine comparing the two: only the 4 KiB blocks
// that differ are written or zeroed. A crash leaves v part reverted, part
// not; reverting again completes it.
func (f *Files) RevertToSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	j, err := f.RevertJob(v, s)
	if err != nil {
		return err
	}
	if err := f.Copy(ctx, j, volcopy.Options{Compare: true, ZeroTail: true}); err != nil {
		return fmt.Errorf("%s: %w", j.What, err)
	}
	return nil
}

// RevertJob is the job of writing s's bytes over v's file, which keeps its
// size; it refuses a file smaller than s's.
func (f *Files) RevertJob(v *cinder.Volume, s *cinder.Snapshot) (Job, error) {
	src, err := f.snapshotFile(s)
	if err != nil {
		return Job{}, err
	}
	dst, err := f.volumeFile(v)
	if err != nil {
		return Job{}, err
	}
	what := "revert " + dst.name + " to " + src.name
	if dst.size < src.size {
		return Job{}, cinder.InvalidInput("%s: the volume's %d bytes cannot hold the snapshot's %d", what, dst.size, src.size)
	}
	return Job{What: what, Src: src.path, Dst: dst.path, SrcSize: src.size, Size: dst.size}, nil
}

// stored is a volume's or a snapshot's file.
type stored struct {
	name, path string
	size       int64
}

// volumeFile returns v's file, or VolumeNotFound.
func (f *Files) volumeFile(v *cinder.Volume) (stored, error) {
	path, err := f.Path(v)
	if err != nil {
		return stored{}, err
	}
	return stat(v.Name(), path, cinder.VolumeNotFound(v.ID))
}

// snapshotFile returns s's file, or SnapshotNotFound.
func (f *Files) snapshotFile(s *cinder.Snapshot) (stored, error) {
	path, err := f.SnapshotPath(s)
	if err != nil {
		return stored{}, err
	}
	return stat(s.Name(), path, cinder.SnapshotNotFound(s.ID))
}

// stat returns the regular file at path, or notFound when there is none.
func stat(name, path string, notFound error) (stored, error) {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return stored{}, notFound
	case err != nil:
		return stored{}, fmt.Errorf("stat %s: %w", name, err)
	case !info.Mode().IsRegular():
		return stored{}, cinder.VolumeBackendAPIException("%s is not a regular file", path)
	}
	return stored{name: name, path: path, size: info.Size()}, nil
}

// Copy carries out j with the copy engine in the mode opts say, at the
// backend's volume_dd_blocksize and volume_copy_bps_limit, and logs it.
func (f *Files) Copy(ctx context.Context, j Job, opts volcopy.Options) error {
	opts.BlockSize, opts.BPSLimit, opts.Size = f.Backend.VolumeDDBlocksize, f.Backend.VolumeCopyBPSLimit, j.SrcSize
	mode := "full"
	switch {
	case opts.Sparse:
		mode = "sparse"
	case opts.Compare:
		mode = "compare"
	}
	st, err := volcopy.Copy(ctx, j.Src, j.Dst, opts)
	if err != nil {
		return err
	}
	slog.Info("copied volume data", "what", j.What, "by", "engine", "mode", mode, "size_bytes", st.Size, "read_bytes", st.Read,
		"written_bytes", st.Written, "zeroed_bytes", st.Zeroed, "skipped_bytes", st.Skipped, "elapsed", st.Elapsed)
	return nil
}
