package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Seeds of the inputs: the same bytes in every run of the benchmark.
const (
	seedS = 1
	seedF = 2
	seedL = 3
	seedN = 4
	seedB = 5
)

// migrations measures L and E on a cinder-all it starts.
func (b *bench) migrations(ctx context.Context) ([]row, error) {
	cl, err := startCinder(ctx, b.bins, filepath.Join(b.dir, "cinder-migrate"), "fake://", "cinder-all")
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	var rows []row
	if b.cases["L"] {
		r, err := b.scale(ctx, cl)
		if err != nil {
			return rows, fmt.Errorf("case L: %w", err)
		}
		rows = append(rows, r...)
	}
	if b.cases["E"] {
		r, err := b.endToEnd(ctx, cl)
		if err != nil {
			return rows, fmt.Errorf("case E: %w", err)
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// newVolume creates a volume of sizeGiB on hostA@thin, writes data bytes of
// random extents from seed into it, and returns its id and its bytes.
func newVolume(ctx context.Context, cl *cinder, sizeGiB int, data int64, seed uint64) (string, input, error) {
	id, err := cl.createVolume(ctx, sizeGiB)
	if err != nil {
		return "", input{}, err
	}
	if err := cl.waitAvailable(ctx, id, 10*time.Millisecond); err != nil {
		return "", input{}, err
	}
	if err := cl.place(ctx, id, "hostA@thin"); err != nil {
		return "", input{}, err
	}
	path, err := cl.devicePath(ctx, id)
	if err != nil {
		return "", input{}, err
	}
	size := int64(sizeGiB) * gib
	offs := pickExtents(size, int(data/extent), seed)
	if err := writeExtents(path, offs, seed); err != nil {
		return "", input{}, err
	}
	return id, input{path: path, size: size, data: int64(len(offs)) * extent}, nil
}

// scale is case L: a mostly empty, very large thin volume migrated thin to
// thin, next to the engine's own copy and dd conv=sparse.
func (b *bench) scale(ctx context.Context, cl *cinder) ([]row, error) {
	id, src, err := newVolume(ctx, cl, b.size.lGiB, b.size.lData, seedL)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("L %d GiB, %d MiB data", src.size/gib, src.data/mib)
	ref := &copyCase{name: name, src: src, dst: filepath.Join(b.dir, "l-copy"), dest: newFile}
	ref.backing = ref.dst
	defer remove(ref.dst)
	engine, err := b.engineSeries(ctx, ref)
	if err != nil {
		return nil, err
	}
	dd := b.ddCapped(ctx, ref, filepath.Join(b.dir, "l-dd"), engine)
	mig, err := b.migrationSeries(ctx, cl, migration{name: name, id: id, hosts: []string{"hostB@thin2", "hostA@thin"}, ref: ref, engine: engine})
	if err != nil {
		return nil, err
	}
	// Nothing after L uses its volume.
	return []row{engine, dd, mig}, cl.deleteVolume(ctx, id)
}

// endToEnd is case E: a volume with 5% data migrated thin to thin and thin
// to thick, each next to the engine copying the same bytes.
func (b *bench) endToEnd(ctx context.Context, cl *cinder) ([]row, error) {
	id, src, err := newVolume(ctx, cl, b.size.volumeGiB, int64(b.size.volumeGiB)*gib/20, seedS)
	if err != nil {
		return nil, err
	}
	thin := &copyCase{name: "E thin→thin", src: src, dst: filepath.Join(b.dir, "e-thin"), dest: newFile}
	thick := &copyCase{name: "E thin→thick", src: src, dst: filepath.Join(b.dir, "e-thick"), dest: allocatedFile}
	thin.backing, thick.backing = thin.dst, thick.dst
	engineThin, err := b.engineSeries(ctx, thin)
	if err != nil {
		return nil, err
	}
	engineThick, err := b.engineSeries(ctx, thick)
	if err != nil {
		return nil, err
	}
	migThin, err := b.migrationSeries(ctx, cl, migration{name: thin.name, id: id, hosts: []string{"hostB@thin2", "hostA@thin"}, ref: thin, engine: engineThin})
	if err != nil {
		return nil, err
	}
	// Each round moves the volume to thick, timed, and back to thin, untimed.
	migThick, err := b.migrationSeries(ctx, cl, migration{name: thick.name, id: id, hosts: []string{"hostA@thick", "-hostA@thin"}, ref: thin, engine: engineThick})
	if err != nil {
		return nil, err
	}
	return []row{engineThin, migThin, engineThick, migThick}, nil
}

// engineSeries runs the engine library on c b.runs times, checking each output.
func (b *bench) engineSeries(ctx context.Context, c *copyCase) (row, error) {
	var s series
	for range b.runs {
		x, err := b.runOnce(ctx, c, &tools[0], true)
		if err != nil {
			return row{}, err
		}
		s.add(x)
		slog.Info("copied", "case", c.name, "tool", tools[0].name, "seconds", round3(x.elapsed.Seconds()))
	}
	return b.copyRow(c, &tools[0], &s, median(s.times)), nil
}

// migration is a series of migrations of one volume, measured against the
// engine copying the same bytes.
type migration struct {
	name   string
	id     string   // the volume
	hosts  []string // destinations in turn; "-host" is a move back, not timed
	ref    *copyCase
	engine row // the engine copying ref: the ratio's reference
}

// migrationSeries migrates m's volume b.runs times, timed, and compares the
// last destination with m.ref's destination, the engine's checked copy of
// the same bytes.
func (b *bench) migrationSeries(ctx context.Context, cl *cinder, m migration) (row, error) {
	var times []time.Duration
	var last string
	for i := 0; len(times) < b.runs; i++ {
		host, back := strings.CutPrefix(m.hosts[i%len(m.hosts)], "-")
		if !back {
			b.dropCaches()
		}
		d, err := cl.migrate(ctx, m.id, host)
		if err != nil {
			return row{}, cl.failed(err)
		}
		if !back {
			times, last = append(times, d), host
			slog.Info("migrated", "case", m.name, "to", host, "seconds", round3(d.Seconds()))
		}
	}
	path, err := cl.devicePath(ctx, m.id)
	if err != nil {
		return row{}, err
	}
	chk, err := compare(m.ref.dst, path, m.ref.src.size)
	if err != nil {
		return row{}, err
	}
	r := row{Case: m.name, Tool: "migration to " + last + " (REST)", Command: "os-migrate_volume", Runs: len(times), Seconds: median(times).Seconds()}
	r.Ratio = m.engine.Seconds / r.Seconds
	if r.Allocated, err = allocated(path); err != nil {
		return row{}, err
	}
	r.setCheck(&chk, false)
	if !chk.equal {
		b.failed = true
	}
	return r, nil
}

// ddCapped runs dd conv=sparse from c's source to dst, as Cinder would
// migrate it, stopping it after b.ddCap and extrapolating its time from the
// bytes it had read by then.
func (b *bench) ddCapped(ctx context.Context, c *copyCase, dst string, engine row) row {
	r := row{Case: c.name, Tool: "dd bs=1M conv=sparse", Runs: 1}
	if err := removeFile(dst); err != nil {
		r.Note = err.Error()
		return r
	}
	defer remove(dst)
	dd := &copyCase{src: c.src, dst: dst, dest: newFile}
	args := ddArgs(dd, "sparse,fsync")
	r.Command = "dd " + strings.Join(args, " ")
	b.dropCaches()
	cmd := exec.CommandContext(ctx, b.programs["dd"], args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Note = err.Error()
		return r
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		r.Seconds = time.Since(start).Seconds()
		if err != nil {
			r.Note = "failed: " + err.Error()
		}
	case <-time.After(b.ddCap):
		read := bytesRead(cmd.Process.Pid)
		elapsed := time.Since(start)
		_ = cmd.Process.Kill() // fails only when dd has just exited, which Wait tells
		switch err := <-done; {
		case err == nil: // dd finished as it was stopped
			r.Seconds = elapsed.Seconds()
		case read == 0:
			r.Note = fmt.Sprintf("> %.0f s: stopped; bytes read unknown", b.ddCap.Seconds())
		default:
			rate := float64(read) / elapsed.Seconds()
			r.Seconds, r.Extrapolated = float64(c.src.size)/rate, true
			r.Note = fmt.Sprintf("> %.0f s: stopped after reading %.1f GiB at %.2f GiB/s; time extrapolated", b.ddCap.Seconds(), float64(read)/gib, rate/gib)
		}
	}
	if r.Seconds > 0 {
		r.Ratio = engine.Seconds / r.Seconds
	}
	return r
}

// bytesRead is what process pid has read so far (rchar of /proc/pid/io).
func bytesRead(pid int) int64 {
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "rchar:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
