package posix

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// Attempt is what a container holds of one attempt at a backup: the files
// named with one prefix, a whole backup or what a failure or a crash left.
type Attempt struct {
	Container string   // the directory, relative to Options.Path
	BackupID  string   // the id the names carry
	Prefix    string   // the object name prefix (service_metadata)
	Files     []string // the names, sorted
	Bytes     int64    // the files' sizes, added up
	// Incomplete says why the files are not a whole backup (no metadata, a
	// missing sha256file, an object missing or not listed); nil when whole.
	Incomplete error
}

// Scan walks the backup path and returns the attempts at backups it holds,
// sorted by container and prefix, checking each against its metadata as a
// restore would, without reading objects. Files of other names are not
// backups' and are left out; a missing backup path holds none.
func Scan(ctx context.Context, opts Options) ([]Attempt, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	re := nameRE(`.{4,}`)
	byKey := map[[2]string]*Attempt{} // container, prefix
	err = filepath.WalkDir(o.Path, func(path string, e fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist): // the path, or a container removed meanwhile
			return nil
		case err != nil:
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case path == o.Path && !e.IsDir():
			return errors.New("not a directory")
		case !e.Type().IsRegular():
			return nil
		}
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) { // removed meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		container, err := filepath.Rel(o.Path, filepath.Dir(path))
		if err != nil {
			return err
		}
		a := byKey[[2]string{container, m[1]}]
		if a == nil {
			a = &Attempt{Container: container, BackupID: m[2], Prefix: m[1]}
			byKey[[2]string{container, m[1]}] = a
		}
		a.Files = append(a.Files, e.Name())
		a.Bytes += info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan backup path %s: %w", o.Path, err)
	}
	out := make([]Attempt, 0, len(byKey))
	for _, a := range byKey {
		a.Incomplete = o.check(a)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Attempt) int {
		return cmp.Or(strings.Compare(a.Container, b.Container), strings.Compare(a.Prefix, b.Prefix))
	})
	return out, nil
}

// check says why attempt a is not a whole backup, nil when it is.
func (o *options) check(a *Attempt) error {
	b := &Backup{ID: a.BackupID, Container: a.Container}
	l := &layer{b: b, prefix: a.Prefix, dir: o.dir(b)}
	for _, name := range []string{a.Prefix + "_metadata", a.Prefix + "_sha256file"} {
		if !slices.Contains(a.Files, name) {
			return fmt.Errorf("backup %s: %s is missing", a.BackupID, filepath.Join(l.dir, name))
		}
	}
	var err error
	if l.md, err = readMetadata(filepath.Join(l.dir, a.Prefix+"_metadata")); err != nil {
		return fmt.Errorf("backup %s: %w", a.BackupID, err)
	}
	if l.objs, err = l.md.objects(); err != nil {
		return fmt.Errorf("backup %s: %w", a.BackupID, err)
	}
	return o.checkObjects(l)
}
