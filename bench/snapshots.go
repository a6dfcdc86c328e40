package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	cin "github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers/thin"
)

// Names of case N's rows: the thin driver on the work dir's filesystem,
// where it copies with the engine unless that filesystem has reflink, and
// on xfs with reflink.
const (
	caseNWorkDir = "N work dir"
	caseNReflink = "N xfs reflink"

	toolSnapshot     = "thin CreateSnapshot"
	toolClone        = "thin CreateClonedVolume"
	toolFromSnapshot = "thin CreateVolumeFromSnapshot"
)

// xfsImage is the size of the sparse image holding case N's xfs: the
// volume's data and the engine's copy of it, with room to spare.
const xfsImage = 8 * gib

// snapshotCases is case N: snapshots and clones of the L volume (1 TiB
// holding 1 GiB) by the thin driver, on the work dir and on xfs with reflink.
func (b *bench) snapshotCases(ctx context.Context) []row {
	rows, err := b.snapshotCase(ctx, caseNWorkDir, filepath.Join(b.dir, "n-volumes"))
	if err != nil {
		rows = append(rows, b.broken(caseNWorkDir, err))
	}
	mnt, unmount, err := b.mountXFS(ctx)
	if err != nil {
		slog.Warn("skipping the reflink case", "err", err)
		return append(rows, row{Case: caseNReflink, Note: "skipped: " + err.Error()})
	}
	defer unmount()
	r, err := b.snapshotCase(ctx, caseNReflink, filepath.Join(mnt, "volumes"))
	if err != nil {
		r = append(r, b.broken(caseNReflink, err))
	}
	return append(rows, r...)
}

// snapshotCase measures, on a thin backend in dir, the engine copying a
// volume with data, then a snapshot of it, a clone of it and a volume from
// the snapshot, b.runs times each; the last run's copies are compared with
// the volume.
func (b *bench) snapshotCase(ctx context.Context, name, dir string) ([]row, error) {
	d := thin.New(&conf.Backend{Name: "bench", VolumeDriver: "thin", VolumesDir: dir,
		TotalCapacityGB: float64(b.size.lGiB), VolumeDDBlocksize: mib}, "bench@thin")
	if err := d.Setup(ctx); err != nil {
		return nil, err
	}
	defer remove(dir)
	v := &cin.Volume{ID: uuid.NewString(), Size: b.size.lGiB}
	if err := d.CreateVolume(ctx, v); err != nil {
		return nil, err
	}
	path, err := d.Path(v)
	if err != nil {
		return nil, err
	}
	size := int64(v.Size) * gib
	offs := pickExtents(size, int(b.size.lData/extent), seedN)
	if err := writeExtents(path, offs, seedN); err != nil {
		return nil, err
	}
	src := input{path: path, size: size, data: int64(len(offs)) * extent}
	name = fmt.Sprintf("%s (%s), %d GiB, %d MiB data", name, fsType(dir), src.size/gib, src.data/mib)
	ref := &copyCase{name: name, src: src, dst: filepath.Join(dir, "engine-copy"), dest: newFile}
	ref.backing = ref.dst
	engine, err := b.engineSeries(ctx, ref)
	remove(ref.dst)
	if err != nil {
		return nil, err
	}
	tools := []string{toolSnapshot, toolClone, toolFromSnapshot}
	res := make([]series, len(tools))
	for r := range b.runs {
		s := &cin.Snapshot{ID: uuid.NewString(), VolumeID: v.ID, VolumeSize: v.Size}
		clone, fromSnap := &cin.Volume{ID: uuid.NewString(), Size: v.Size}, &cin.Volume{ID: uuid.NewString(), Size: v.Size}
		steps := []func() error{
			func() error { return d.CreateSnapshot(ctx, s, v) },
			func() error { return d.CreateClonedVolume(ctx, clone, v) },
			func() error { return d.CreateVolumeFromSnapshot(ctx, fromSnap, s) },
		}
		paths := make([]string, len(tools))
		paths[0], _ = d.SnapshotPath(s) // the ids are UUIDs: no error
		paths[1], _ = d.Path(clone)
		paths[2], _ = d.Path(fromSnap)
		for i, step := range steps {
			x, err := b.timed(step)
			if err == nil && r == b.runs-1 {
				err = x.verify(src, paths[i])
			}
			if err != nil {
				return nil, err
			}
			res[i].add(x)
			slog.Info("copied", "case", name, "tool", tools[i], "round", r+1, "seconds", round3(x.elapsed.Seconds()))
		}
		for _, p := range paths {
			remove(p)
		}
	}
	rows := []row{engine}
	for i, t := range tools {
		rows = append(rows, seriesRow(name, t, "drivers/thin."+strings.TrimPrefix(t, "thin "), &res[i], engine.Seconds))
	}
	return rows, nil
}

// timed runs f, one of this project's operations, in process after
// dropping the page cache, and returns its time and the peak RSS.
func (b *bench) timed(f func() error) (sample, error) {
	b.dropCaches()
	resetPeakRSS()
	start := time.Now()
	err := f()
	return sample{elapsed: time.Since(start), rss: peakRSS()}, err
}

// verify compares the first src.size bytes of path with src, recording the
// result and path's allocation in x.
func (x *sample) verify(src input, path string) error {
	chk, err := compare(src.path, path, src.size)
	if err != nil {
		return err
	}
	x.check = &chk
	x.allocated, err = allocated(path)
	return err
}

// seriesRow is the row of s, a series of one of this project's operations
// other than the engine's copy, whose ratio is ref seconds over its own.
func seriesRow(c, tool, command string, s *series, ref float64) row {
	r := row{Case: c, Tool: tool, Command: command, Runs: len(s.times), Seconds: median(s.times).Seconds(), PeakRSS: s.rss, Allocated: s.allocated}
	if ref > 0 && r.Seconds > 0 {
		r.Ratio = ref / r.Seconds
	}
	r.setCheck(s.check, false)
	return r
}

// fsType is the type of the filesystem holding path.
func fsType(path string) string {
	out, err := exec.Command("findmnt", "-n", "-o", "FSTYPE", "-T", path).Output()
	if err != nil {
		return "unknown filesystem"
	}
	return strings.TrimSpace(string(out))
}

// mountXFS mounts a new xfs with reflink, on a loop device over a sparse
// image in the run's dir, and returns its mount point and its unmount,
// which also detaches and removes the image.
func (b *bench) mountXFS(ctx context.Context) (mnt string, unmount func(), err error) {
	if err := loopUsable(); err != nil {
		return "", nil, err
	}
	mkfs := b.programs["mkfs.xfs"]
	if mkfs == "" {
		return "", nil, errors.New(b.missing("mkfs.xfs"))
	}
	var undo []func()
	unmount = func() {
		for _, f := range slices.Backward(undo) {
			f()
		}
	}
	defer func() {
		if err != nil {
			unmount()
		}
	}()
	img, mnt := filepath.Join(b.dir, "xfs.img"), filepath.Join(b.dir, "xfs")
	if err := createSparse(img, xfsImage); err != nil {
		return "", nil, err
	}
	undo = append(undo, func() { remove(img) })
	if out, err := exec.CommandContext(ctx, mkfs, "-q", "-m", "reflink=1", img).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("mkfs.xfs: %w: %s", err, strings.TrimSpace(string(out)))
	}
	dev, detach, err := losetup(ctx, img)
	if err != nil {
		return "", nil, err
	}
	undo = append(undo, detach)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return "", nil, fmt.Errorf("xfs mount point: %w", err)
	}
	if err := unix.Mount(dev, mnt, "xfs", 0, ""); err != nil {
		return "", nil, fmt.Errorf("mount %s on %s: %w", dev, mnt, err)
	}
	undo = append(undo, func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			slog.Warn("unmount xfs", "mnt", mnt, "err", err)
		}
	})
	return mnt, unmount, nil
}
