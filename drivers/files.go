package drivers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
)

// GiB is the unit of volume sizes.
const GiB = 1 << 30

// maxSizeGB bounds a volume's size so that its byte count cannot overflow.
const maxSizeGB = 1 << 30

// Files keeps a backend's volumes as files named volume-<id> in its
// VolumesDir, and its snapshots as files named snapshot-<id> beside them:
// what the thin and thick drivers share.
type Files struct {
	Backend  *conf.Backend
	Host     string  // host@backend, for location_info
	Thin     bool    // sparse files and oversubscription; else fully allocated files
	Released string  // when set, a directory of released files whose space counts as free
	Storage  Storage // the driver's way to make and free files; set by the driver
}

// Bytes converts a size in GiB to bytes, refusing sizes below 1 GiB.
func Bytes(sizeGB int) (int64, error) {
	if sizeGB < 1 || sizeGB > maxSizeGB {
		return 0, cinder.InvalidInput("volume size %d GiB is out of range", sizeGB)
	}
	return int64(sizeGB) * GiB, nil
}

// Path returns the file holding v's bytes. It refuses a data id that is not
// a UUID, so that no other name ever reaches the filesystem.
func (f *Files) Path(v *cinder.Volume) (string, error) {
	if v == nil {
		return "", cinder.InvalidVolume("no volume given")
	}
	if !IsUUID(v.DataID()) {
		return "", cinder.InvalidVolume("volume id %q is not a UUID", v.DataID())
	}
	return filepath.Join(f.Backend.VolumesDir, v.Name()), nil
}

// SnapshotPath returns the file holding s's bytes. It refuses an id that is
// not a UUID, as Path.
func (f *Files) SnapshotPath(s *cinder.Snapshot) (string, error) {
	if s == nil {
		return "", invalidSnapshot("no snapshot given")
	}
	if !IsUUID(s.ID) {
		return "", invalidSnapshot("snapshot id %q is not a UUID", s.ID)
	}
	return filepath.Join(f.Backend.VolumesDir, s.Name()), nil
}

// invalidSnapshot is cinder.exception.InvalidSnapshot (400).
func invalidSnapshot(format string, args ...any) *cinder.Error {
	return cinder.Errorf("InvalidSnapshot", 400, format, args...)
}

// IsUUID reports whether s is a UUID in its 8-4-4-4-12 hex form: the ids
// that file names may carry.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			hex := '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
			if !hex {
				return false
			}
		}
	}
	return true
}

// Setup creates VolumesDir (and the released area) and checks its filesystem.
func (f *Files) Setup(ctx context.Context) error {
	for _, dir := range []string{f.Backend.VolumesDir, f.Released} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("set up backend %s: %w", f.Backend.Name, err)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(f.Backend.VolumesDir, &st); err != nil {
		return fmt.Errorf("set up backend %s: statfs %s: %w", f.Backend.Name, f.Backend.VolumesDir, err)
	}
	return nil
}

// Open opens v's file for reading and writing and returns its size in bytes.
func (f *Files) Open(v *cinder.Volume) (*os.File, int64, error) {
	path, err := f.Path(v)
	if err != nil {
		return nil, 0, err
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("open volume: %w", err)
	}
	info, err := file.Stat()
	if err != nil {
		_ = file.Close() // nothing was written through it
		return nil, 0, fmt.Errorf("open volume: %w", err)
	}
	return file, info.Size(), nil
}

// InitializeConnection gives the path of v's file, which holds exactly its bytes.
func (f *Files) InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error) {
	path, err := f.Path(v)
	if err != nil {
		return nil, err
	}
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("initialize connection: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, cinder.VolumeBackendAPIException("%s is not a regular file", path)
	}
	return localConnection(path), nil
}

// TerminateConnection does nothing: a local file needs no export.
func (f *Files) TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error {
	return nil
}

// InitializeConnectionSnapshot gives the path of s's file, which holds
// exactly its bytes; SnapshotNotFound when s has no file.
func (f *Files) InitializeConnectionSnapshot(ctx context.Context, s *cinder.Snapshot, connector map[string]any) (*cinder.ConnectionInfo, error) {
	file, err := f.snapshotFile(s)
	if err != nil {
		return nil, err
	}
	return localConnection(file.path), nil
}

// TerminateConnectionSnapshot does nothing: a local file needs no export.
func (f *Files) TerminateConnectionSnapshot(ctx context.Context, s *cinder.Snapshot, connector map[string]any) error {
	return nil
}

// RemoveExportSnapshot does nothing: a local file has no export.
func (f *Files) RemoveExportSnapshot(ctx context.Context, s *cinder.Snapshot) error {
	return nil
}

// localConnection is the connection info of a file on this host.
func localConnection(path string) *cinder.ConnectionInfo {
	return &cinder.ConnectionInfo{DriverVolumeType: "local", Data: map[string]any{"device_path": path}}
}

// UpdateMigratedVolume renames newVolume's file to volume's own name when
// volume was available, as the LVM driver, so that volume keeps no _name_id;
// otherwise, or when that name is taken, volume takes newVolume's data id.
func (f *Files) UpdateMigratedVolume(ctx context.Context, volume, newVolume *cinder.Volume, status string) (string, error) {
	from, err := f.Path(newVolume)
	if err != nil {
		return "", err
	}
	if status != cinder.StatusAvailable {
		return newVolume.DataID(), nil
	}
	to, err := f.Path(&cinder.Volume{ID: volume.ID})
	if err != nil {
		return "", err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE); err != nil {
		slog.Warn("cannot give the migrated volume its own name; keeping the destination's",
			"volume_id", volume.ID, "from", from, "to", to, "err", err)
		return newVolume.DataID(), nil
	}
	return "", nil
}

// Capacity is a backend's space, in bytes. Snapshots count as volumes do,
// as the LVM driver's provisioned capacity counts snapshot LVs.
type Capacity struct {
	Total       int64 // total_capacity_gb, else the filesystem's size
	Free        int64 // what new volumes may still take
	Provisioned int64 // the sum of the volumes' and snapshots' sizes
	Allocated   int64 // the bytes the volumes' and snapshots' files occupy
	Volumes     int
	Snapshots   int
}

// Capacity measures the backend. Volumes and snapshots use their allocated
// bytes when thin (a reflinked extent counts once per file sharing it) and
// their full size when thick; released files count as free. Free never
// exceeds what the filesystem still has plus the released files.
func (f *Files) Capacity() (Capacity, error) {
	var c Capacity
	var st unix.Statfs_t
	if err := unix.Statfs(f.Backend.VolumesDir, &st); err != nil {
		return c, fmt.Errorf("capacity of backend %s: %w", f.Backend.Name, err)
	}
	c.Total = int64(st.Blocks) * st.Bsize
	if f.Backend.TotalCapacityGB > 0 {
		c.Total = int64(f.Backend.TotalCapacityGB * GiB)
	}
	err := scan(f.Backend.VolumesDir, func(name string, size, allocated int64) {
		_, vol := cutID(name, "volume-")
		_, snap := cutID(name, "snapshot-")
		switch {
		case vol:
			c.Volumes++
		case snap:
			c.Snapshots++
		default:
			return
		}
		c.Provisioned += size
		c.Allocated += allocated
	})
	if err != nil {
		return c, fmt.Errorf("capacity of backend %s: %w", f.Backend.Name, err)
	}
	var released int64
	if f.Released != "" {
		err := scan(f.Released, func(_ string, _, allocated int64) { released += allocated })
		if err != nil {
			return c, fmt.Errorf("capacity of backend %s: %w", f.Backend.Name, err)
		}
	}
	used := c.Provisioned
	if f.Thin {
		used = c.Allocated
	}
	c.Free = max(0, min(c.Total-used, int64(st.Bavail)*st.Bsize+released))
	return c, nil
}

// cutID returns the id a file's name carries after prefix, as volume-<uuid>
// or snapshot-<uuid>, and whether name is such a name.
func cutID(name, prefix string) (string, bool) {
	id, ok := strings.CutPrefix(name, prefix)
	return id, ok && IsUUID(id)
}

// Volumes lists the volumes the backend stores: the data id of each
// volume-<uuid> file in VolumesDir, with its size in bytes. Released files
// are not volumes. cinder-manage volume audit compares it with the database.
func (f *Files) Volumes(ctx context.Context) (map[string]int64, error) {
	return f.stored("volume-")
}

// Snapshots lists the snapshots the backend stores, as Volumes does for
// volumes: the id of each snapshot-<uuid> file, with its size in bytes.
func (f *Files) Snapshots(ctx context.Context) (map[string]int64, error) {
	return f.stored("snapshot-")
}

// stored maps the id of each prefix<uuid> file in VolumesDir to its size.
func (f *Files) stored(prefix string) (map[string]int64, error) {
	files := map[string]int64{}
	err := scan(f.Backend.VolumesDir, func(name string, size, _ int64) {
		if id, ok := cutID(name, prefix); ok {
			files[id] = size
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list the %sfiles of backend %s: %w", prefix, f.Backend.Name, err)
	}
	return files, nil
}

// scan calls fn with the name, size and allocated bytes of each regular file in dir.
func scan(dir string, fn func(name string, size, allocated int64)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		fn(e.Name(), info.Size(), info.Sys().(*syscall.Stat_t).Blocks*512)
	}
	return nil
}

// Stats reports the backend as get_volume_stats, with one pool named after
// volume_backend_name. Capacities are GiB rounded to two decimals.
func (f *Files) Stats(ctx context.Context) (Stats, error) {
	c, err := f.Capacity()
	if err != nil {
		return nil, err
	}
	kind := "thick"
	if f.Thin {
		kind = "thin"
	}
	b := f.Backend
	return Stats{
		"volume_backend_name": b.VolumeBackendName,
		"vendor_name":         "Open Source",
		"driver_version":      "1.0.0",
		"storage_protocol":    "local",
		"sparse_copy_volume":  f.Thin,
		"pools": []any{map[string]any{
			"pool_name":                   b.VolumeBackendName,
			"total_capacity_gb":           gb(c.Total),
			"free_capacity_gb":            gb(c.Free),
			"provisioned_capacity_gb":     gb(c.Provisioned),
			"reserved_percentage":         b.ReservedPercentage,
			"max_over_subscription_ratio": b.MaxOverSubscriptionRatio,
			"thin_provisioning_support":   f.Thin,
			"thick_provisioning_support":  !f.Thin,
			"total_volumes":               c.Volumes,
			"QoS_support":                 false,
			"multiattach":                 true, // a file takes any number of connections, as LVM's volumes
			"location_info":               kind + ":" + f.Host + ":" + b.VolumesDir,
			"backend_state":               "up",
		}},
	}, nil
}

// gb converts bytes to GiB rounded to two decimals.
func gb(n int64) float64 { return math.Round(float64(n)/GiB*100) / 100 }
