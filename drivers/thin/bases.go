package thin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/internal/extents"
)

// Change tracking for incremental backups, as Cinder's Ceph backup driver
// keeps a base snapshot on the source volume and sends only what changed
// since it (rbd export-diff --from-snap). cinder-backup, which may run on
// another host, asks for it through the connection it opens anyway: a
// connector with a "backup" entry ({"id", "parent_id"}) makes
// InitializeConnection expose a reflink clone of the volume, a point in
// time, rather than the volume, and, when a base tagged with parent_id
// exists, report in the connection info the ranges where the clone may
// differ from it ("changed_ranges", "changed_since"), from the two files'
// extent maps. TerminateConnection with "keep" true then renames the clone
// into the volume's base, tagged with the backup's id, or else removes it.
// Bases live in volumes_dir/.backup-bases, out of the volumes and
// snapshots the backend lists (capacity, audit, manageable volumes), and
// go with their volume (delete, unmanage, a migration's source cleanup).
// Without reflink, nothing of this happens: the backup reads the volume.

// basesDir is the directory of volumes_dir holding the backup bases,
// <volume name>.<backup id>, and the clones being backed up, the same with
// tmpSuffix. A crash leaves a clone, never a base that did not complete.
const (
	basesDir  = ".backup-bases"
	tmpSuffix = ".tmp"
)

// maxRanges bounds the changed ranges a connection reports; more means a
// volume changed all over, which the backup reads in full instead.
const maxRanges = 1 << 16

// backupRequest is the "backup" entry of a connector.
type backupRequest struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id"`
	Keep     bool   `json:"keep"`
}

// request returns the backup entry of connector, if it has a valid one.
func request(connector map[string]any) (backupRequest, bool) {
	m, ok := connector["backup"].(map[string]any)
	if !ok {
		return backupRequest{}, false
	}
	var r backupRequest
	r.ID, _ = m["id"].(string)
	r.ParentID, _ = m["parent_id"].(string)
	r.Keep, _ = m["keep"].(bool)
	return r, drivers.IsUUID(r.ID) && (r.ParentID == "" || drivers.IsUUID(r.ParentID))
}

// base is the path of v's base for backup id.
func (d *Driver) base(v *cinder.Volume, id string) string {
	return filepath.Join(d.Backend.VolumesDir, basesDir, v.Name()+"."+id)
}

// InitializeConnection gives the path of v's file, or, for a backup on
// reflink, of a clone of it with the ranges changed since the base of the
// backup's parent, when there is one.
func (d *Driver) InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error) {
	info, err := d.Files.InitializeConnection(ctx, v, connector)
	r, ok := request(connector)
	if err != nil || !ok || !d.reflink {
		return info, err
	}
	src, _ := info.DevicePath() // Files' answer has one
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("initialize connection: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(d.Backend.VolumesDir, basesDir), 0o750); err != nil {
		return nil, fmt.Errorf("initialize connection: %w", err)
	}
	tmp := d.base(v, r.ID) + tmpSuffix
	j := drivers.Job{What: "clone " + v.Name() + " for backup " + r.ID, Src: src, Dst: tmp, SrcSize: st.Size(), Size: st.Size()}
	if err := clone(tmp, j, os.O_EXCL); err != nil {
		slog.Warn("cannot clone the volume for its backup: the backup reads the volume itself", "volume_id", v.ID, "err", err)
		return info, nil
	}
	info.Data["device_path"] = tmp
	if r.ParentID == "" {
		return info, nil
	}
	log := slog.With("volume_id", v.ID, "backup_id", r.ID, "parent_id", r.ParentID)
	base := d.base(v, r.ParentID)
	if _, err := os.Stat(base); err != nil {
		log.Info("no backup base of the parent: the backup reads the whole volume", "err", err)
		return info, nil
	}
	changed, err := extents.Changed(ctx, base, tmp, st.Size())
	switch {
	case err != nil:
		log.Warn("cannot compare the volume with its backup base: the backup reads the whole volume", "err", err)
	case len(changed) > maxRanges:
		log.Info("the volume changed in too many places to list: the backup reads the whole volume", "ranges", len(changed))
	default:
		info.Data["changed_ranges"], info.Data["changed_since"] = changed, r.ParentID
		var n int64
		for _, c := range changed {
			n += c.Length
		}
		log.Info("changes since the backup base", "ranges", len(changed), "changed_bytes", n)
	}
	return info, nil
}

// TerminateConnection ends a backup's connection on reflink: it renames the
// clone into the volume's base when the connector says keep (the backup is
// available), replacing the bases before, or else removes the clone. A volume deleted
// meanwhile keeps no base: DeleteVolume removes the file, then the bases,
// and a base renamed after the file went is removed here.
func (d *Driver) TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error {
	r, ok := request(connector)
	if !ok || !d.reflink {
		return d.Files.TerminateConnection(ctx, v, connector)
	}
	path, err := d.Path(v)
	if err != nil {
		return err
	}
	tmp, base := d.base(v, r.ID)+tmpSuffix, d.base(v, r.ID)
	if !r.Keep {
		return d.Free(ctx, tmp)
	}
	if err := os.Rename(tmp, base); errors.Is(err, fs.ErrNotExist) {
		return nil // no clone: the backup read the volume, or a delete removed it
	} else if err != nil {
		return fmt.Errorf("keep the backup base of %s: %w", v.Name(), err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return d.dropBases(v, "")
	}
	if err := d.dropBases(v, base); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(base)); err != nil {
		return fmt.Errorf("keep the backup base of %s: %w", v.Name(), err)
	}
	slog.Info("kept the backup base", "volume_id", v.ID, "backup_id", r.ID)
	return nil
}

// dropBases removes v's bases and clones but keep.
func (d *Driver) dropBases(v *cinder.Volume, keep string) error {
	paths, err := filepath.Glob(filepath.Join(d.Backend.VolumesDir, basesDir, v.Name()+".*"))
	if err != nil {
		return fmt.Errorf("backup bases of %s: %w", v.Name(), err)
	}
	for _, p := range paths {
		if p == keep {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove a backup base of %s: %w", v.Name(), err)
		}
	}
	return nil
}

// DeleteVolume releases v's file and its backup bases.
func (d *Driver) DeleteVolume(ctx context.Context, v *cinder.Volume) error {
	if err := d.Files.DeleteVolume(ctx, v); err != nil {
		return err
	}
	return d.dropBases(v, "")
}

// Unmanage lets v's file go as foreign storage, and removes its backup bases.
func (d *Driver) Unmanage(ctx context.Context, v *cinder.Volume) error {
	if err := d.Files.Unmanage(ctx, v); err != nil {
		return err
	}
	return d.dropBases(v, "")
}

// removeClones removes the clones of backups a crash interrupted; a base
// stays, for the next incremental.
func removeClones(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, basesDir, "*"+tmpSuffix))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		slog.Warn("removed the clone of an interrupted backup", "path", p)
	}
	return nil
}
