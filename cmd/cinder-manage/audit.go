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
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/service"
)

const auditUsage = `usage: cinder-manage [--config-file PATH]... volume audit
  Compares the volumes table with the storage of every backend this
  cinder.conf enables and prints each difference: a volume without the
  storage its status requires, storage of the wrong size, storage that no
  volume on its backend names. A volume creating, deleting, error or
  error_deleting may hold storage or not; one extending may have grown
  already; any other must hold storage of its size. Volumes with no host or
  on backends this cinder.conf does not enable are not checked. Safe while
  the services run: a difference must show in two reads of the database
  around the read of the storage.
  Exit status: 0 when they agree, 1 when they differ, 2 when the audit fails.`

// errDiffer says the audit found differences; it is not a failure.
var errDiffer = errors.New("the database and the storage differ")

// storage is what the audit needs of a driver: the volumes its backend
// stores, data id → size in bytes (drivers.Files has it).
type storage interface {
	Volumes(ctx context.Context) (map[string]int64, error)
}

// backendStorage is one enabled backend with what it stores.
type backendStorage struct {
	dir     string           // volumes_dir, to name files
	volumes map[string]int64 // data id → size in bytes
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
	before, err := store.ListVolumes(ctx, db.VolumeFilter{})
	if err != nil {
		return err
	}
	stored, err := listStorage(ctx, cfg)
	if err != nil {
		return err
	}
	after, err := store.ListVolumes(ctx, db.VolumeFilter{})
	if err != nil {
		return err
	}
	// A difference seen in one read only is an operation that ran meanwhile.
	seen := map[difference]bool{}
	for _, d := range compare(before, stored) {
		seen[d] = true
	}
	var diffs []difference
	for _, d := range compare(after, stored) {
		if seen[d] {
			diffs = append(diffs, d)
		}
	}
	w := bufio.NewWriter(out)
	for _, d := range diffs {
		fmt.Fprintf(w, "%s: %s\n", d.backend, d.text)
	}
	if others := unchecked(after, stored); len(others) > 0 {
		fmt.Fprintf(w, "not checked: volumes on %s, which this cinder.conf does not enable\n", strings.Join(others, ", "))
	}
	if len(diffs) == 0 {
		fmt.Fprintf(w, "the database and the storage of %d backends agree\n", len(stored))
		return w.Flush()
	}
	fmt.Fprintf(w, "%d differences between the database and the storage of %d backends\n", len(diffs), len(stored))
	if err := w.Flush(); err != nil {
		return err
	}
	return errDiffer
}

// listStorage lists the volumes each enabled backend stores, by host@backend.
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
		stored[host] = backendStorage{dir: b.VolumesDir, volumes: vols}
	}
	return stored, nil
}

// difference is one disagreement between the database and a backend.
type difference struct {
	backend string // host@backend
	text    string
}

// expect says whether a volume in status must hold storage, and whether that
// storage must be of the volume's size: see auditUsage.
func expect(status string) (required, sized bool) {
	switch status {
	case cinder.StatusCreating, cinder.StatusDeleting, cinder.StatusError, cinder.StatusErrorDelete:
		return false, false
	case cinder.StatusExtending:
		return true, false
	}
	return true, true
}

// compare returns the differences between vols, the volumes rows, and
// stored, ordered by backend and text.
func compare(vols []*cinder.Volume, stored map[string]backendStorage) []difference {
	var diffs []difference
	named := map[string]map[string]bool{} // host@backend → data ids its volumes name
	for _, v := range vols {
		backend := cinder.ExtractHost(v.Host, cinder.LevelBackend)
		st, checked := stored[backend]
		if !checked {
			continue
		}
		if named[backend] == nil {
			named[backend] = map[string]bool{}
		}
		named[backend][v.DataID()] = true
		size, ok := st.volumes[v.DataID()]
		required, sized := expect(v.Status)
		switch want := int64(v.Size) * drivers.GiB; {
		case !ok && required:
			diffs = append(diffs, difference{backend, fmt.Sprintf("volume %s (%s, %d GiB) has no storage: %s is missing",
				v.ID, v.Status, v.Size, filepath.Join(st.dir, v.Name()))})
		case ok && sized && size != want:
			diffs = append(diffs, difference{backend, fmt.Sprintf("volume %s (%s, %d GiB) has storage of the wrong size: %s holds %d bytes, not %d",
				v.ID, v.Status, v.Size, filepath.Join(st.dir, v.Name()), size, want)})
		}
	}
	for backend, st := range stored {
		for id, size := range st.volumes {
			if !named[backend][id] {
				diffs = append(diffs, difference{backend, fmt.Sprintf("storage %s (%d bytes) belongs to no volume",
					filepath.Join(st.dir, (&cinder.Volume{ID: id}).Name()), size)})
			}
		}
	}
	slices.SortFunc(diffs, func(a, b difference) int {
		return cmp.Or(strings.Compare(a.backend, b.backend), strings.Compare(a.text, b.text))
	})
	return diffs
}

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
