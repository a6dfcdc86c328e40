package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/backup/posix"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/service"
)

const auditUsage = `usage: cinder-manage [--config-file PATH]... volume audit
  Compares the volumes and snapshots tables with the storage of every
  backend this cinder.conf enables and prints each difference: a volume or
  snapshot without the storage its status requires, storage of the wrong
  size, storage that no volume or snapshot on its backend names. One
  creating, deleting, error or error_deleting may hold storage or not; a
  volume extending may have grown already; any other must hold storage of
  its size. Volumes with no host or on backends this cinder.conf does not
  enable are not checked; a snapshot is on its volume's backend. Only files
  named volume-<uuid> and snapshot-<uuid> are storage Cinder owns: a file
  of any other name is foreign, such as one waiting to be managed or one
  unmanaged (unmanaged-volume-<uuid>, unmanaged-snapshot-<uuid>: storage
  the operator asked Cinder to let go and keep), and is not reported; a
  managed file takes its volume's or snapshot's name and is checked.
  Compares the backups table with the containers under backup_posix_path,
  which every cinder-backup shares: a backup available or restoring whose
  files are not a whole backup (metadata, sha256file and every object the
  metadata lists), and files named for a backup that no backup owns in that
  container (what a crash or a lost row leaves). One creating, deleting,
  error or error_deleting may hold files or not. Safe while the services
  run: a difference must show in two reads of the database around the read
  of the storage.
  Exit status: 0 when they agree, 1 when they differ, 2 when the audit fails.`

// errDiffer says the audit found differences; it is not a failure.
var errDiffer = errors.New("the database and the storage differ")

// storage is what the audit needs of a driver: the volumes and snapshots
// its backend stores, id → size in bytes (drivers.Files has it).
type storage interface {
	Volumes(ctx context.Context) (map[string]int64, error)
	Snapshots(ctx context.Context) (map[string]int64, error)
}

// backendStorage is one enabled backend with what it stores.
type backendStorage struct {
	dir       string           // volumes_dir, to name files
	volumes   map[string]int64 // data id → size in bytes
	snapshots map[string]int64 // snapshot id → size in bytes
}

// item is a volume or a snapshot as the audit compares it with storage.
type item struct {
	kind, id  string // "volume" or "snapshot", and its id
	stored    string // the id its storage carries (a volume's data id)
	file      string // its storage's name
	status    string
	size      int    // GiB
	backend   string // host@backend
	snapshots bool   // in backendStorage.snapshots rather than volumes
}

// items are the volumes and snapshots of vols and snaps to compare; a
// snapshot is on its volume's backend, and one of no volume in vols is not
// checked.
func items(vols []*cinder.Volume, snaps []*cinder.Snapshot) []item {
	var out []item
	backends := map[string]string{}
	for _, v := range vols {
		backend := cinder.ExtractHost(v.Host, cinder.LevelBackend)
		backends[v.ID] = backend
		out = append(out, item{kind: "volume", id: v.ID, stored: v.DataID(), file: v.Name(), status: v.Status, size: v.Size, backend: backend})
	}
	for _, s := range snaps {
		if backend, ok := backends[s.VolumeID]; ok {
			out = append(out, item{kind: "snapshot", id: s.ID, stored: s.ID, file: s.Name(), status: s.Status,
				size: s.VolumeSize, backend: backend, snapshots: true})
		}
	}
	return out
}

// volumeAudit runs "volume audit": it prints each difference between the
// database and the storage of cfg's backends and returns errDiffer when
// there is one.
func volumeAudit(ctx context.Context, cfg *conf.Config, args []string, out io.Writer) (err error) {
	if len(args) > 0 {
		return fmt.Errorf("volume audit takes no arguments, not %q\n%s", args, auditUsage)
	}
	store, err := db.Open(ctx, cfg.DatabaseConnection)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	}()
	before, err := readRows(ctx, store)
	if err != nil {
		return err
	}
	stored, err := listStorage(ctx, cfg)
	if err != nil {
		return err
	}
	attempts, err := posix.Scan(ctx, posix.Options{Path: cfg.BackupPosixPath})
	if err != nil {
		return err
	}
	after, err := readRows(ctx, store)
	if err != nil {
		return err
	}
	// A difference seen in one read only is an operation that ran meanwhile.
	seen := map[difference]bool{}
	for _, d := range before.compare(stored, attempts, cfg.BackupPosixPath) {
		seen[d] = true
	}
	var diffs []difference
	for _, d := range after.compare(stored, attempts, cfg.BackupPosixPath) {
		if seen[d] {
			diffs = append(diffs, d)
		}
	}
	w := bufio.NewWriter(out)
	for _, d := range diffs {
		fmt.Fprintf(w, "%s: %s\n", d.backend, d.text)
	}
	if others := unchecked(after.vols, stored); len(others) > 0 {
		fmt.Fprintf(w, "not checked: volumes on %s, which this cinder.conf does not enable\n", strings.Join(others, ", "))
	}
	if len(diffs) == 0 {
		fmt.Fprintf(w, "the database and the storage of %d backends and backup_posix_path agree\n", len(stored))
		return w.Flush()
	}
	fmt.Fprintf(w, "%d differences between the database and the storage of %d backends and backup_posix_path\n", len(diffs), len(stored))
	if err := w.Flush(); err != nil {
		return err
	}
	return errDiffer
}

// rows are one read of the volumes, snapshots and backups tables.
type rows struct {
	items   []item // the volumes and snapshots to compare
	vols    []*cinder.Volume
	backups []*cinder.Backup
}

// readRows reads the volumes, snapshots and backups tables.
func readRows(ctx context.Context, store *db.DB) (rows, error) {
	vols, err := store.ListVolumes(ctx, db.VolumeFilter{})
	if err != nil {
		return rows{}, err
	}
	snaps, err := store.ListSnapshots(ctx, db.SnapshotFilter{})
	if err != nil {
		return rows{}, err
	}
	backups, err := store.ListBackups(ctx, db.BackupFilter{})
	if err != nil {
		return rows{}, err
	}
	return rows{items: items(vols, snaps), vols: vols, backups: backups}, nil
}

// compare returns the differences between r and the storage: stored, of
// the backends, and attempts, under backup_posix_path path; ordered by
// backend and text.
func (r rows) compare(stored map[string]backendStorage, attempts []posix.Attempt, path string) []difference {
	diffs := append(compare(r.items, stored), compareBackups(r.backups, attempts, path)...)
	slices.SortFunc(diffs, func(a, b difference) int {
		return cmp.Or(strings.Compare(a.backend, b.backend), strings.Compare(a.text, b.text))
	})
	return diffs
}

// listStorage lists the volumes and snapshots each enabled backend
// stores, by host@backend.
func listStorage(ctx context.Context, cfg *conf.Config) (map[string]backendStorage, error) {
	stored := map[string]backendStorage{}
	for _, b := range cfg.Backends {
		host := cfg.ServiceHost(b)
		drv, err := service.NewDriver(b, host)
		if err != nil {
			return nil, err
		}
		lister, ok := drv.(storage)
		if !ok {
			return nil, fmt.Errorf("backend %s: driver %s cannot list its volumes", host, b.VolumeDriver)
		}
		vols, err := lister.Volumes(ctx)
		if err != nil {
			return nil, err
		}
		snaps, err := lister.Snapshots(ctx)
		if err != nil {
			return nil, err
		}
		stored[host] = backendStorage{dir: b.VolumesDir, volumes: vols, snapshots: snaps}
	}
	return stored, nil
}

// difference is one disagreement between the database and a backend or
// backup_posix_path.
type difference struct {
	backend string // host@backend, or backup_posix_path
	text    string
}

// expect says whether a volume or snapshot in status must hold storage,
// and whether that storage must be of its size: see auditUsage. The
// snapshot statuses creating, deleting, error and error_deleting are the
// volume's.
func expect(status string) (required, sized bool) {
	switch status {
	case cinder.StatusCreating, cinder.StatusDeleting, cinder.StatusError, cinder.StatusErrorDelete:
		return false, false
	case cinder.StatusExtending:
		return true, false
	}
	return true, true
}

// compare returns the differences between rows, the volumes and
// snapshots, and stored.
func compare(rows []item, stored map[string]backendStorage) []difference {
	var diffs []difference
	named := map[string]map[string]bool{} // host@backend → "kind id" its rows name
	for _, it := range rows {
		st, checked := stored[it.backend]
		if !checked {
			continue
		}
		if named[it.backend] == nil {
			named[it.backend] = map[string]bool{}
		}
		named[it.backend][it.kind+" "+it.stored] = true
		files := st.volumes
		if it.snapshots {
			files = st.snapshots
		}
		size, ok := files[it.stored]
		required, sized := expect(it.status)
		switch want := int64(it.size) * drivers.GiB; {
		case !ok && required:
			diffs = append(diffs, difference{it.backend, fmt.Sprintf("%s %s (%s, %d GiB) has no storage: %s is missing",
				it.kind, it.id, it.status, it.size, filepath.Join(st.dir, it.file))})
		case ok && sized && size != want:
			diffs = append(diffs, difference{it.backend, fmt.Sprintf("%s %s (%s, %d GiB) has storage of the wrong size: %s holds %d bytes, not %d",
				it.kind, it.id, it.status, it.size, filepath.Join(st.dir, it.file), size, want)})
		}
	}
	for backend, st := range stored {
		for kind, files := range map[string]map[string]int64{"volume": st.volumes, "snapshot": st.snapshots} {
			for id, size := range files {
				if !named[backend][kind+" "+id] {
					diffs = append(diffs, difference{backend, fmt.Sprintf("storage %s (%d bytes) belongs to no %s",
						filepath.Join(st.dir, kind+"-"+id), size, kind)})
				}
			}
		}
	}
	return diffs
}

// compareBackups returns the differences between the backups and the
// attempts at backups found under backup_posix_path path: see auditUsage.
// A backup whose service_metadata is not recorded yet owns every attempt
// at it in its container.
func compareBackups(backups []*cinder.Backup, attempts []posix.Attempt, path string) []difference {
	var diffs []difference
	add := func(format string, args ...any) {
		diffs = append(diffs, difference{"backup_posix_path", fmt.Sprintf(format, args...)})
	}
	byKey := map[[2]string]*cinder.Backup{} // container, id
	for _, b := range backups {
		byKey[[2]string{container(b), b.ID}] = b
	}
	owned := map[string][]posix.Attempt{} // backup id → its attempts
	for _, a := range attempts {
		b := byKey[[2]string{a.Container, a.BackupID}]
		if b == nil || b.ServiceMetadata != "" && b.ServiceMetadata != a.Prefix {
			add("files %s* (%d files, %d bytes) belong to no backup",
				filepath.Join(path, a.Container, a.Prefix), len(a.Files), a.Bytes)
			continue
		}
		owned[b.ID] = append(owned[b.ID], a)
	}
	for _, b := range backups {
		if b.Status != cinder.BackupAvailable && b.Status != cinder.BackupRestoring {
			continue
		}
		mine := owned[b.ID]
		switch {
		case len(mine) == 0:
			add("backup %s (%s, %d GiB) has no files: %s is missing",
				b.ID, b.Status, b.Size, filepath.Join(path, container(b), cmp.Or(b.ServiceMetadata, "*")+"_metadata"))
		case !slices.ContainsFunc(mine, func(a posix.Attempt) bool { return a.Incomplete == nil }):
			add("backup %s (%s, %d GiB) is not whole: %v", b.ID, b.Status, b.Size, mine[0].Incomplete)
		}
	}
	return diffs
}

// container is backup b's container under backup_posix_path.
func container(b *cinder.Backup) string { return cmp.Or(b.Container, posix.DefaultContainer(b.ID)) }

// unchecked returns, sorted, the backends of vols that stored does not hold.
func unchecked(vols []*cinder.Volume, stored map[string]backendStorage) []string {
	others := map[string]bool{}
	for _, v := range vols {
		backend := cinder.ExtractHost(v.Host, cinder.LevelBackend)
		if _, ok := stored[backend]; v.Host != "" && !ok {
			others[backend] = true
		}
	}
	return slices.Sorted(maps.Keys(others))
}
