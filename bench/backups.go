package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/backup/posix"
)

// Names of case B's rows and tools.
const (
	caseBFull    = "B full backup, zlib"
	caseBIncr    = "B incremental, 1% changed"
	caseBRestore = "B restore of the full backup"

	toolBackup      = "posix.Create (library)"
	toolRestore     = "posix.Restore (library)"
	toolQcow2       = "qemu-img convert -c -O qcow2"
	toolCinderPosix = "Cinder's PosixBackupDriver"

	// cinderPython is Debian's python3, which imports python3-cinder.
	cinderPython = "/usr/bin/python3"
)

// backups is case B: a full zlib backup of the S volume next to qemu-img
// making a compressed qcow2 of it and to Cinder's own posix driver, the
// restore of that backup, and an incremental one after 1% changed, found
// by a full scan; then, on xfs with reflink, a full backup and an
// incremental made with change tracking (trackedBackups).
func (b *bench) backups(ctx context.Context) []row {
	slog.Info("building inputs", "case", "B")
	src, err := makeSparse(filepath.Join(b.dir, "b-src"), int64(b.size.volumeGiB)*gib, 0.05, seedS)
	if err != nil {
		return []row{b.broken(caseBFull, err)}
	}
	defer remove(src.path)
	rows, err := b.backupCases(ctx, src)
	if err != nil {
		rows = append(rows, b.broken("B", err))
	}
	return rows
}

// contender is one way of backing up case B's volume.
type contender struct {
	name, command string
	out           string // what it writes: removed before each run
	note          string // why it cannot run, if it cannot
	once          bool   // it runs in the last round only: it takes minutes
	run           func() (sample, error)
}

// backupCases measures case B on src, which it changes for the incremental.
func (b *bench) backupCases(ctx context.Context, src input) ([]row, error) {
	opts := posix.Options{Path: filepath.Join(b.dir, "backups"), Compression: "zlib"}
	defer remove(opts.Path)
	full := posix.Backup{VolumeID: uuid.NewString()}
	ours := contender{name: toolBackup, out: opts.Path, command: "posix.Create(zlib, " + src.path + ")", run: func() (sample, error) {
		full.ID, full.Prefix = uuid.NewString(), ""
		return b.timed(func() error {
			st, err := posix.Create(ctx, opts, full, src.path, src.size)
			full.Prefix = st.Prefix
			return err
		})
	}}
	qcow2 := b.external(ctx, src, &tool{name: toolQcow2, bin: "qemu-img", args: func(c *copyCase) []string {
		return []string{"convert", "-c", "-f", "raw", "-O", "qcow2", c.src.path, c.dst}
	}}, filepath.Join(b.dir, "b.qcow2"))
	cinderDir := filepath.Join(b.dir, "cinder-backups")
	defer remove(cinderDir)
	cinderTool, err := b.cinderPosix(src, cinderDir)
	if err != nil {
		return nil, err
	}
	cinderPosix := b.external(ctx, src, cinderTool, cinderDir)
	cinderPosix.once = true
	contenders := []contender{ours, qcow2, cinderPosix}
	rows, err := b.interleave(caseBFull, contenders)
	if err != nil {
		return nil, err
	}

	dst := filepath.Join(b.dir, "b-restored")
	defer remove(dst)
	var restores series
	for range b.runs {
		if err := newTarget(dst, src.size); err != nil {
			return nil, err
		}
		x, err := b.timed(func() error {
			_, err := posix.Restore(ctx, opts, full, dst, src.size, true)
			return err
		})
		if err == nil {
			err = x.verify(src, dst)
		}
		if err != nil {
			return nil, err
		}
		restores.add(x)
		slog.Info("restored", "case", caseBRestore, "seconds", round3(x.elapsed.Seconds()))
	}
	rows = append(rows, b.checked(seriesRow(caseBRestore, toolRestore, "posix.Restore(sparse)", &restores, 0)))

	incr, err := b.incremental(ctx, opts, &full, src, dst)
	if err != nil {
		return rows, err
	}
	rows = append(rows, b.checked(seriesRow(caseBIncr, toolBackup, "posix.Create(zlib, parent: the full backup)", incr, 0)))
	return append(rows, b.trackedBackups(ctx, opts)...), nil
}

// incremental changes 1% of src in random extents and backs it up on top
// of full b.runs times; it checks the last by restoring it onto dst.
func (b *bench) incremental(ctx context.Context, opts posix.Options, full *posix.Backup, src input, dst string) (*series, error) {
	if err := writeExtents(src.path, pickExtents(src.size, int(src.size/extent/100), seedB), seedB); err != nil {
		return nil, err
	}
	var s series
	incr := posix.Backup{VolumeID: full.VolumeID, Parent: full}
	for r := range b.runs {
		if r > 0 {
			if err := posix.Delete(ctx, opts, incr); err != nil {
				return nil, err
			}
		}
		incr.ID, incr.Prefix = uuid.NewString(), ""
		x, err := b.timed(func() error {
			st, err := posix.Create(ctx, opts, incr, src.path, src.size)
			incr.Prefix = st.Prefix
			return err
		})
		if err != nil {
			return nil, err
		}
		s.add(x)
		slog.Info("backed up", "case", caseBIncr, "round", r+1, "seconds", round3(x.elapsed.Seconds()))
	}
	if err := newTarget(dst, src.size); err != nil {
		return nil, err
	}
	if _, err := posix.Restore(ctx, opts, incr, dst, src.size, true); err != nil {
		return nil, err
	}
	var x sample
	if err := x.verify(src, dst); err != nil {
		return nil, err
	}
	s.check = x.check
	return &s, nil
}

// newTarget makes dst a new sparse file of size bytes, as a new thin
// volume to restore onto.
func newTarget(dst string, size int64) error {
	if err := removeFile(dst); err != nil {
		return err
	}
	return createSparse(dst, size)
}

// checked is r, failing the benchmark unless r's output equals its source.
func (b *bench) checked(r row) row {
	if !r.equal() {
		b.failed = true
	}
	return r
}

// external is the contender running t on src into out, timed with the
// final sync of out; it cannot run when t's program is missing.
func (b *bench) external(ctx context.Context, src input, t *tool, out string) contender {
	c := &copyCase{name: caseBFull, src: src, dst: out, backing: out, dest: newFile}
	k := contender{name: t.name, command: t.commandLine(c), out: out, run: func() (sample, error) {
		b.dropCaches()
		return b.command(ctx, c, t)
	}}
	if !b.has(t) {
		k.note = b.missing(t.bin)
	}
	return k
}

// interleave runs each contender that can run b.runs times, in an order
// rotated each round, and returns their rows; the first is the reference of
// the ratios and must run.
func (b *bench) interleave(name string, cs []contender) ([]row, error) {
	res := make([]series, len(cs))
	for r := range b.runs {
		for i := range cs {
			k := (i + r) % len(cs)
			c := &cs[k]
			if c.note != "" || res[k].err != nil || c.once && r < b.runs-1 {
				continue
			}
			remove(c.out)
			x, err := c.run()
			if err != nil {
				if k == 0 {
					return nil, err
				}
				res[k].err = err
				slog.Error("backup failed", "case", name, "tool", c.name, "err", err)
				continue
			}
			res[k].add(x)
			slog.Info("backed up", "case", name, "tool", c.name, "round", r+1, "seconds", round3(x.elapsed.Seconds()))
		}
	}
	rows := make([]row, len(cs))
	for k, c := range cs {
		rows[k] = row{Case: name, Tool: c.name, Command: c.command, Note: c.note}
		switch {
		case res[k].err != nil:
			rows[k].Note = "failed: " + res[k].err.Error()
		case c.note == "":
			ref := median(res[0].times).Seconds()
			rows[k] = seriesRow(name, c.name, c.command, &res[k], ref)
			if c.once {
				rows[k].Note = "one run: it takes minutes"
			}
		}
	}
	return rows, nil
}

// findCinderPosix finds backup/posix's interop script and whether Debian's
// python3 imports Cinder's posix driver with it, installing python3-cinder
// first when root; without it Cinder's driver is a missing tool.
func (b *bench) findCinderPosix(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", "github.com/cinder-go/cinder/backup/posix").Output()
	if err != nil {
		slog.Warn("cannot find backup/posix and its interop script", "err", err)
		return
	}
	b.script = filepath.Join(strings.TrimSpace(string(out)), "testdata", "cinder_posix.py")
	importable := func() error { return exec.CommandContext(ctx, cinderPython, b.script, "check").Run() }
	if importable() != nil {
		aptInstall(ctx, "python3-cinder")
	}
	if err := importable(); err != nil {
		slog.Warn("Cinder's posix driver cannot be imported", "err", err)
		return
	}
	b.programs["python3"] = cinderPython // as has and command look it up
}

// cinderPosix is the tool running Cinder's own posix driver, through
// b.script, to back up src under dir.
func (b *bench) cinderPosix(src input, dir string) (*tool, error) {
	conf, err := json.Marshal(map[string]any{
		"path": dir, "file_size": posix.DefaultFileSize, "sha_block_size": posix.DefaultSHABlockSize,
		"compression": "zlib", "volume": src.path, "chain": []any{},
		"backup": map[string]any{"id": uuid.NewString(), "volume_id": uuid.NewString(), "container": "bench"},
	})
	if err != nil {
		return nil, fmt.Errorf("encode the script's configuration: %w", err)
	}
	path := filepath.Join(b.dir, "cinder-posix.json")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		return nil, fmt.Errorf("write the script's configuration: %w", err)
	}
	return &tool{name: toolCinderPosix, bin: "python3", args: func(*copyCase) []string {
		return []string{b.script, "backup", path}
	}}, nil
}
