package drivers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
)

// Manageable is a file of volumes_dir as get_manageable_volumes and
// get_manageable_snapshots list it: its reference, its size in GiB rounded
// up, and whether a volume or snapshot may take it (reason when not; the id
// of the one that owns it when Cinder knows it).
type Manageable struct {
	Reference       map[string]any `json:"reference"`
	Size            int            `json:"size"`
	SafeToManage    bool           `json:"safe_to_manage"`
	ReasonNotSafe   *string        `json:"reason_not_safe"`
	CinderID        *string        `json:"cinder_id"`
	ExtraInfo       map[string]any `json:"extra_info"`
	SourceReference map[string]any `json:"source_reference,omitempty"` // snapshots only: never known for a file
}

// manageInvalidRef is ManageExistingInvalidReference (400).
func manageInvalidRef(ref any, format string, args ...any) *cinder.Error {
	return cinder.Errorf("ManageExistingInvalidReference", 400,
		"Manage existing volume failed due to invalid backend reference %v: %s", ref, fmt.Sprintf(format, args...))
}

// ManageExistingAlreadyManaged (400) says that the file ref names already
// holds a volume's or snapshot's bytes.
func ManageExistingAlreadyManaged(ref string) *cinder.Error {
	return cinder.Errorf("ManageExistingAlreadyManaged", 400, "Unable to manage existing volume. Volume %s already managed.", ref)
}

// SourceName returns the file name ref's "source-name" gives, refusing
// anything but one plain name inside volumes_dir: no separator, no "." or
// "..", no hidden file (the driver's own areas, as .free, start with a dot).
// source-id is refused: a file has no id apart from its name.
func SourceName(ref map[string]any) (string, error) {
	raw, ok := ref["source-name"]
	if !ok {
		return "", manageInvalidRef(ref, "Reference must contain source-name element.")
	}
	name, ok := raw.(string)
	switch {
	case !ok || name == "":
		return "", manageInvalidRef(ref, "source-name must be a non-empty string.")
	case strings.ContainsAny(name, "/\x00") || name == "." || name == "..":
		return "", manageInvalidRef(ref, "source-name must name a file inside the volumes directory, not a path.")
	case strings.HasPrefix(name, "."):
		return "", manageInvalidRef(ref, "source-name must not name a hidden file.")
	}
	return name, nil
}

// ManagedID is the id a file name carries as volume-<id> or snapshot-<id>,
// the names this project gives, or "".
func ManagedID(name string) string {
	for _, prefix := range []string{"volume-", "snapshot-"} {
		if id, ok := cutID(name, prefix); ok {
			return id
		}
	}
	return ""
}

// source returns the path and size in bytes of the regular file ref names;
// a symbolic link, device, directory or missing file is an invalid reference.
func (f *Files) source(ref map[string]any) (string, int64, error) {
	name, err := SourceName(ref)
	if err != nil {
		return "", 0, err
	}
	path := filepath.Join(f.Backend.VolumesDir, name)
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, manageInvalidRef(name, "Specified file does not exist.")
	}
	if err != nil {
		return "", 0, fmt.Errorf("manage %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return "", 0, manageInvalidRef(name, "Specified file is not a regular file (%s).", info.Mode().Type())
	}
	if info.Size() == 0 {
		return "", 0, manageInvalidRef(name, "Specified file is empty.")
	}
	return path, info.Size(), nil
}

// ManageExistingGetSize is the size in GiB, rounded up as LVM's
// manage_existing_get_size, of the file ref names.
func (f *Files) ManageExistingGetSize(ctx context.Context, ref map[string]any) (int, error) {
	_, size, err := f.source(ref)
	if err != nil {
		return 0, err
	}
	return int((size + GiB - 1) / GiB), nil
}

// ManageExisting grows the file ref names to whole GiB (zeros, allocated
// when thick) and renames it to v's name, as LVM renames the LV. The rename
// never replaces a file; a failed growth is undone and nothing is renamed,
// and a crash leaves the file under one of its two names.
func (f *Files) ManageExisting(ctx context.Context, v *cinder.Volume, ref map[string]any) error {
	to, err := f.Path(v)
	if err != nil {
		return err
	}
	return f.adopt(ref, to, true)
}

// ManageExistingSnapshot renames the file ref names to s's name; a snapshot
// keeps its bytes as they are.
func (f *Files) ManageExistingSnapshot(ctx context.Context, s *cinder.Snapshot, ref map[string]any) error {
	to, err := f.SnapshotPath(s)
	if err != nil {
		return err
	}
	return f.adopt(ref, to, false)
}

// adopt renames the regular file ref names to the path to, first grown to
// whole GiB if grow.
func (f *Files) adopt(ref map[string]any, to string, grow bool) error {
	from, size, err := f.source(ref)
	if err != nil {
		return err
	}
	if want := (size + GiB - 1) / GiB * GiB; grow && want != size {
		if err := f.grow(from, size, want); err != nil {
			return cinder.VolumeBackendAPIException("Failed to extend %s to %d bytes: %v", filepath.Base(from), want, err)
		}
	}
	if from == to {
		return nil
	}
	if err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE); err != nil {
		return cinder.VolumeBackendAPIException("Failed to rename %s to %s: %v", filepath.Base(from), filepath.Base(to), err)
	}
	return nil
}

// grow extends the file at path from size to want bytes, allocating the
// tail when thick; on failure it truncates the file back to size.
func (f *Files) grow(path string, size, want int64) (err error) {
	file, err := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = file.Truncate(size) // the growth's error is the one to report
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}()
	if f.Thin {
		return file.Truncate(want)
	}
	return unix.Fallocate(int(file.Fd()), 0, size, want-size)
}

// UnmanagedPrefix starts the name a file takes when its volume or snapshot
// is unmanaged: unmanaged-volume-<id>, unmanaged-snapshot-<id>. Storage
// the operator asked Cinder to let go is then foreign by its name, which
// cinder-manage volume audit does not take for an orphan volume-<id>.
const UnmanagedPrefix = "unmanaged-"

// Unmanage renames v's file to unmanaged-volume-<id>, its bytes kept; a
// volume without a file has nothing to keep. LVM leaves the LV's name as it
// is; the rename keeps the audit truthful (see UnmanagedPrefix).
func (f *Files) Unmanage(ctx context.Context, v *cinder.Volume) error {
	path, err := f.Path(v)
	if err != nil {
		return err
	}
	return unmanage(path)
}

// UnmanageSnapshot renames s's file to unmanaged-snapshot-<id>.
func (f *Files) UnmanageSnapshot(ctx context.Context, s *cinder.Snapshot) error {
	path, err := f.SnapshotPath(s)
	if err != nil {
		return err
	}
	return unmanage(path)
}

// unmanage renames the file at path to UnmanagedPrefix and its name,
// never replacing a file; a missing file is no error.
func unmanage(path string) error {
	to := filepath.Join(filepath.Dir(path), UnmanagedPrefix+filepath.Base(path))
	err := unix.Renameat2(unix.AT_FDCWD, path, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cinder.VolumeBackendAPIException("Failed to rename %s to %s: %v", filepath.Base(path), filepath.Base(to), err)
	}
	return nil
}

// Manageable lists the regular files of volumes_dir that a snapshot
// (snapshot-<uuid> files, unmanaged or not) or else a volume (every other
// file) could take;
// known maps the ids of the volumes (by data id) and snapshots Cinder has
// on the backend: their files are listed not safe, "already managed".
func (f *Files) Manageable(ctx context.Context, snapshots bool, known map[string]bool) ([]Manageable, error) {
	var list []Manageable
	err := scan(f.Backend.VolumesDir, func(name string, size, _ int64) {
		if _, snap := cutID(strings.TrimPrefix(name, UnmanagedPrefix), "snapshot-"); snap != snapshots {
			return
		}
		m := Manageable{Reference: map[string]any{"source-name": name}, Size: int((size + GiB - 1) / GiB), SafeToManage: true}
		reason := ""
		switch id := ManagedID(name); {
		case known[id]:
			reason, m.CinderID = "already managed", &id
		case size == 0:
			reason = "empty file"
		}
		if reason != "" {
			m.SafeToManage, m.ReasonNotSafe = false, &reason
		}
		if snapshots {
			m.SourceReference = map[string]any{"source-name": nil}
		}
		list = append(list, m)
	})
	if err != nil {
		return nil, fmt.Errorf("list the manageable files of backend %s: %w", f.Backend.Name, err)
	}
	return list, nil
}
