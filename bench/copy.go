package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/drivers/volcopy"
)

// dest is the state of a case's destination before each run.
type dest int

const (
	// newFile: absent; the tool creates it. The engine creates it sparse,
	// so it reads as zeros and the engine copies sparsely (a thin volume).
	newFile dest = iota
	// staleData: every byte is staleByte, as a thick volume handed over
	// with a deleted volume's data; the engine must copy fully.
	staleData
	// allocatedFile: a new fully allocated file, as a new thick volume;
	// it reads as zeros but nothing says so, so the engine copies fully.
	allocatedFile
)

// copyCase is a source copied onto a destination by every tool.
type copyCase struct {
	name    string
	src     input
	dst     string // the destination: a regular file or a block device
	backing string // dst, or the file behind a loop device: its bytes are compared, its allocation reported
	dest    dest
}

// sparse reports whether the engine may skip zeros: it created the destination.
func (c *copyCase) sparse() bool { return c.dest == newFile }

// prepare puts the destination in its state before a run. Old bytes are
// written to the backing file, faster than through a loop device, whose
// cache is then dropped.
func (c *copyCase) prepare() error {
	switch c.dest {
	case staleData:
		if err := fill(c.backing, c.src.size); err != nil {
			return err
		}
		return flushBlockCache(c.dst)
	case allocatedFile:
		if err := removeFile(c.dst); err != nil {
			return err
		}
		return createAllocated(c.dst, c.src.size)
	}
	return removeFile(c.dst)
}

// flushBlockCache empties the page cache of path if it is a block device
// (BLKFLSBUF), so that it reads what its backing file now holds.
func flushBlockCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeDevice == 0 {
		return err
	}
	if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0); err != nil {
		return fmt.Errorf("flush the cache of %s: %w", path, err)
	}
	return nil
}

// removeFile removes path if it exists.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove previous destination: %w", err)
	}
	return nil
}

// tool is a copy program measured, with its command line for a case.
type tool struct {
	name   string
	bin    string // program run; "" for the engine called in process
	engine bool   // this project's engine: its output is checked after every run
	syncs  bool   // the copy syncs the destination itself; otherwise the bench does, timed
	args   func(c *copyCase) []string
}

// Names of the tools and cases, as the table shows them.
const (
	toolEngine   = "engine (library)"
	toolManage   = "cinder-manage volume copy"
	toolDD       = "dd bs=1M"
	toolDDSparse = "dd bs=1M conv=sparse"
	toolCp       = "cp --sparse=always"
	toolQemu     = "qemu-img convert"
	toolNbdcopy  = "nbdcopy"

	caseS     = "S"
	caseF     = "F"
	caseTFile = "T file"
	caseTLoop = "T loop"
)

// tools are the copiers compared. The first, the engine as a library, is
// the reference of every ratio.
var tools = []tool{
	{name: toolEngine, engine: true, syncs: true},
	{name: toolManage, bin: "cinder-manage", engine: true, syncs: true, args: func(c *copyCase) []string {
		args := []string{"volume", "copy"}
		if c.sparse() {
			args = append(args, "--sparse")
		}
		return append(args, c.src.path, c.dst)
	}},
	{name: toolDD, bin: "dd", syncs: true, args: func(c *copyCase) []string { return ddArgs(c, "fsync") }},
	{name: toolDDSparse, bin: "dd", syncs: true, args: func(c *copyCase) []string { return ddArgs(c, "sparse,fsync") }},
	{name: toolCp, bin: "cp", args: func(c *copyCase) []string {
		return []string{"--sparse=always", c.src.path, c.dst}
	}},
	{name: toolQemu, bin: "qemu-img", args: func(c *copyCase) []string {
		args := []string{"convert", "-f", "raw", "-O", "raw"}
		if c.dest != newFile {
			args = append(args, "-n")
		}
		return append(args, c.src.path, c.dst)
	}},
	{name: toolNbdcopy, bin: "nbdcopy", syncs: true, args: func(c *copyCase) []string {
		return []string{"--flush", c.src.path, c.dst}
	}},
}

// ddArgs is dd with 1 MiB blocks and conv, notrunc onto an existing destination.
func ddArgs(c *copyCase, conv string) []string {
	if c.dest != newFile {
		conv += ",notrunc"
	}
	return []string{"if=" + c.src.path, "of=" + c.dst, "bs=1M", "conv=" + conv, "status=none"}
}

// commandLine is how t runs on c, for the JSON results.
func (t *tool) commandLine(c *copyCase) string {
	if t.bin == "" {
		return fmt.Sprintf("volcopy.Copy(%s, %s, Sparse: %t)", c.src.path, c.dst, c.sparse())
	}
	return t.bin + " " + strings.Join(t.args(c), " ")
}

// sample is one run of a copy.
type sample struct {
	elapsed   time.Duration
	rss       int64         // peak resident bytes
	check     *check        // set when the destination was compared with the source
	allocated int64         // the destination's allocation, set with check
	overhead  time.Duration // preparing, dropping the page cache and checking: not measured
}

// series gathers a tool's runs on a case.
type series struct {
	times     []time.Duration
	rss       int64
	check     *check // the last comparison, unequal if any was
	allocated int64
	err       error
}

// add records one run.
func (s *series) add(x sample) {
	s.times = append(s.times, x.elapsed)
	s.rss = max(s.rss, x.rss)
	if x.check != nil {
		if s.check == nil || s.check.equal {
			s.check = x.check
		}
		s.allocated = x.allocated
	}
}

// runCase measures every available tool on c, interleaved: each round runs
// them all, in an order rotated by one per round.
func (b *bench) runCase(ctx context.Context, c *copyCase) []row {
	res := make([]series, len(tools))
	for r := range b.runs {
		for i := range tools {
			k := (i + r) % len(tools)
			t := &tools[k]
			if !b.has(t) || res[k].err != nil {
				continue
			}
			s, err := b.runOnce(ctx, c, t, t.engine || r == b.runs-1)
			if err != nil {
				res[k].err = err
				slog.Error("copy failed", "case", c.name, "tool", t.name, "err", err)
				continue
			}
			res[k].add(s)
			slog.Info("copied", "case", c.name, "tool", t.name, "round", r+1, "seconds", round3(s.elapsed.Seconds()), "overhead", round3(s.overhead.Seconds()))
		}
	}
	rows := make([]row, len(tools))
	for k := range tools {
		rows[k] = b.copyRow(c, &tools[k], &res[k], median(res[0].times))
	}
	return rows
}

// copyRow is the table row of t's series on c; engine is the engine's median.
func (b *bench) copyRow(c *copyCase, t *tool, s *series, engine time.Duration) row {
	r := row{Case: c.name, Tool: t.name, Command: t.commandLine(c), SourceData: c.src.data}
	switch {
	case !b.has(t):
		r.Note = b.missing(t.bin)
		return r
	case s.err != nil:
		r.Note = "failed: " + s.err.Error()
		if t.engine {
			b.failed = true
		}
		return r
	}
	r.Runs, r.Seconds, r.PeakRSS, r.Allocated = len(s.times), median(s.times).Seconds(), s.rss, s.allocated
	if engine > 0 {
		r.Ratio = engine.Seconds() / r.Seconds
	}
	r.setCheck(s.check, c.dest == staleData)
	if t.engine && !r.equal() {
		b.failed = true
	}
	return r
}

// runOnce prepares c's destination, drops the page cache, runs t and, when
// verify is set, compares the destination (its backing file, where holes
// show) with the source.
func (b *bench) runOnce(ctx context.Context, c *copyCase, t *tool, verify bool) (s sample, err error) {
	start := time.Now()
	defer func() { s.overhead = time.Since(start) - s.elapsed }()
	if err := c.prepare(); err != nil {
		return sample{}, err
	}
	b.dropCaches()
	if t.bin == "" {
		s, err = engineCopy(ctx, c)
	} else {
		s, err = b.command(ctx, c, t)
	}
	if err != nil || !verify {
		return s, err
	}
	chk, err := compare(c.src.path, c.backing, c.src.size)
	if err != nil {
		return s, err
	}
	s.check = &chk
	s.allocated, err = allocated(c.backing)
	return s, err
}

// engineCopy copies c with the engine in process, as migration does:
// sparsely onto a destination it creates, fully onto any other. The peak
// RSS reported is the whole bench process's during the copy.
func engineCopy(ctx context.Context, c *copyCase) (sample, error) {
	resetPeakRSS()
	start := time.Now()
	if c.sparse() {
		if err := createSparse(c.dst, c.src.size); err != nil {
			return sample{}, err
		}
	}
	_, err := volcopy.Copy(ctx, c.src.path, c.dst, volcopy.Options{Sparse: c.sparse()})
	return sample{elapsed: time.Since(start), rss: peakRSS()}, err
}

// command runs t on c, then syncs the destination unless t did. It runs
// under GNU time for the peak RSS: a child's own rusage would count the
// bench's memory, which the child shares until it executes.
func (b *bench) command(ctx context.Context, c *copyCase, t *tool) (sample, error) {
	name, args := b.programs[t.bin], t.args(c)
	rss := filepath.Join(b.dir, "peak-rss")
	if timer := b.programs["time"]; timer != "" {
		name, args = timer, append([]string{"-f", "%M", "-o", rss, name}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if err == nil && !t.syncs {
		err = syncPath(c.dst)
	}
	s := sample{elapsed: time.Since(start), rss: readRSS(rss)}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", t.commandLine(c), err, strings.TrimSpace(out.String()))
	}
	return s, nil
}

// readRSS reads the peak RSS GNU time wrote, in KiB, to path, and removes it.
func readRSS(path string) int64 {
	defer remove(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	kib, _ := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	return kib * 1024
}

// syncPath flushes path's data to the device, as sync FILE does; for a
// directory, a backup's, its whole filesystem's, as sync -f does.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	st, err := f.Stat()
	switch {
	case err != nil:
	case st.IsDir():
		err = unix.Syncfs(int(f.Fd()))
	default:
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// resetPeakRSS returns freed memory to the system and restarts this
// process's peak RSS count (VmHWM) from its current RSS.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // best effort: the peak then covers the whole run
}

// peakRSS is this process's peak resident bytes (VmHWM), 0 if unknown.
func peakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
