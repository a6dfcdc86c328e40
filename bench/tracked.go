package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/google/uuid"

	cin "github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/backup/posix"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers/thin"
	"github.com/cinder-go/cinder/internal/extents"
)

// Names of case B's rows on xfs with reflink, where the thin driver tracks
// changes for incremental backups.
const (
	caseBReflinkFull = "B full backup, zlib, xfs reflink"
	caseBReflinkIncr = "B incremental, 1% changed, xfs reflink (change tracking)"

	toolBackupThin = "thin backup connection + posix.Create"
)

// trackedBackups is case B with the volume a thin volume on a fresh xfs
// with reflink: b.runs rounds of a full backup, 1% of the volume changed,
// and an incremental on top, each made as cinder-backup makes it through
// the driver's backup connection (a reflink clone; for the incremental,
// only the ranges changed since the full backup's base are read).
func (b *bench) trackedBackups(ctx context.Context, opts posix.Options) []row {
	mnt, unmount, err := b.mountXFS(ctx)
	if err != nil {
		slog.Warn("skipping backups on xfs with reflink", "err", err)
		return []row{{Case: caseBReflinkIncr, Note: "skipped: " + err.Error()}}
	}
	defer unmount()
	rows, err := b.trackedCase(ctx, opts, filepath.Join(mnt, "volumes"))
	if err != nil {
		rows = append(rows, b.broken(caseBReflinkIncr, err))
	}
	return rows
}

func (b *bench) trackedCase(ctx context.Context, opts posix.Options, dir string) ([]row, error) {
	d := thin.New(&conf.Backend{Name: "bench", VolumeDriver: "thin", VolumesDir: dir}, "bench@thin")
	if err := d.Setup(ctx); err != nil {
		return nil, err
	}
	defer remove(dir)
	v := &cin.Volume{ID: uuid.NewString(), Size: b.size.volumeGiB}
	path, err := d.Path(v)
	if err != nil {
		return nil, err
	}
	slog.Info("building inputs", "case", caseBReflinkIncr)
	src, err := makeSparse(path, int64(v.Size)*gib, 0.05, seedS)
	if err != nil {
		return nil, err
	}
	offs := pickExtents(src.size, int(src.size/extent/100), seedB)
	var fulls, incrs series
	var last posix.Backup
	for r := range b.runs {
		full := posix.Backup{ID: uuid.NewString(), VolumeID: v.ID}
		x, err := b.timed(func() error { return backupThrough(ctx, d, v, opts, &full, src.size) })
		if err != nil {
			return nil, err
		}
		fulls.add(x)
		slog.Info("backed up", "case", caseBReflinkFull, "round", r+1, "seconds", round3(x.elapsed.Seconds()))
		if err := writeExtents(path, offs, seedB+uint64(r)); err != nil {
			return nil, err
		}
		last = posix.Backup{ID: uuid.NewString(), VolumeID: v.ID, Parent: &full}
		x, err = b.timed(func() error { return backupThrough(ctx, d, v, opts, &last, src.size) })
		if err != nil {
			return nil, err
		}
		incrs.add(x)
		slog.Info("backed up", "case", caseBReflinkIncr, "round", r+1, "seconds", round3(x.elapsed.Seconds()),
			"changed_bytes", changedBytes(last.Changed))
	}
	dst := filepath.Join(b.dir, "b-restored-xfs")
	defer remove(dst)
	if err := newTarget(dst, src.size); err != nil {
		return nil, err
	}
	if _, err := posix.Restore(ctx, opts, last, dst, src.size, true); err != nil {
		return nil, err
	}
	var x sample
	if err := x.verify(src, dst); err != nil {
		return nil, err
	}
	incrs.check = x.check
	command := "thin.InitializeConnection(backup), posix.Create(zlib"
	return []row{
		seriesRow(caseBReflinkFull, toolBackupThin, command+"), thin.TerminateConnection(keep)", &fulls, 0),
		b.checked(seriesRow(caseBReflinkIncr, toolBackupThin, command+", parent, changed ranges), thin.TerminateConnection(keep)", &incrs, 0)),
	}, nil
}

// backupThrough makes backup pb of v as cinder-backup does on d: it reads
// the connection's clone, only the ranges changed since pb's parent when
// the connection reports them, and keeps the clone as the base once done.
func backupThrough(ctx context.Context, d *thin.Driver, v *cin.Volume, opts posix.Options, pb *posix.Backup, size int64) error {
	parent := ""
	if pb.Parent != nil {
		parent = pb.Parent.ID
	}
	info, err := d.InitializeConnection(ctx, v, map[string]any{"host": "bench", "backup": map[string]any{"id": pb.ID, "parent_id": parent}})
	if err != nil {
		return err
	}
	path, err := info.DevicePath()
	if err != nil {
		return err
	}
	if rs, ok := info.Data["changed_ranges"].([]extents.Range); ok && pb.Parent != nil {
		pb.Changed = append([]extents.Range{}, rs...) // nil would mean unknown: a full scan
	} else if pb.Parent != nil {
		return fmt.Errorf("backup %s: no changed ranges since %s", pb.ID, parent)
	}
	st, err := posix.Create(ctx, opts, *pb, path, size)
	pb.Prefix = st.Prefix
	return errors.Join(err, d.TerminateConnection(ctx, v, map[string]any{"host": "bench", "backup": map[string]any{"id": pb.ID, "keep": err == nil}}))
}

// changedBytes adds up the lengths of rs.
func changedBytes(rs []extents.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Length
	}
	return n
}
