// Package volcopy copies a volume's bytes between regular files and block
// devices, as Cinder's copy_volume does with dd for host-assisted migration,
// but reading only the source's data and never leaving a stale byte behind.
//
// The source's data extents come from lseek SEEK_DATA/SEEK_HOLE; its holes are
// never read. Inside data, zeros are detected in 4 KiB sub-blocks aligned to
// absolute offsets: the block size of the filesystems and page cache
// underneath, so finer detection saves nothing and coarser detection would
// write, and allocate, zeros on a thin destination (qemu-img and nbdcopy use
// 4 KiB too).
//
// A full copy (Options.Sparse false) zeroes the destination wherever the
// source reads as zeros: short runs by writing zeros, runs of 1 MiB or more
// with a call that guarantees zeros. That is fallocate ZERO_RANGE on a fully
// allocated file (it stays thick), PUNCH_HOLE on a sparse one (it stays thin),
// BLKZEROOUT on a block device (never BLKDISCARD); when the call fails, zeros
// are written. When zeroing the first 64 MiB with that call proves it
// offloaded (at least 4 GiB/s, and, on a device, write_zeroes_max_bytes > 0),
// the whole range is zeroed up front and the copy then writes only data, as
// a sparse copy does; otherwise zero runs are zeroed one by one.
//
// A compare copy (Options.Compare) also reads the destination and writes or
// zeroes only the 4 KiB sub-blocks that differ from the source: for a
// destination that already holds most of the source's bytes, as a volume
// reverted to its snapshot. Where both have holes nothing is read.
//
// Four workers take 64 MiB spans of the source in offset order and copy them
// concurrently, each reading its span sequentially through a descriptor of
// its own (so kernel readahead keeps working) into a buffer of its own, so
// memory stays bounded (4 buffers of at most 4 MiB) whatever the volume's
// size. I/O goes through the page cache, which the copy drops behind it
// (see writeback) so that a large copy does not evict the host's cache;
// the destination is fdatasync'ed at the end. O_DIRECT was measured and
// left out: on this project's machine it made case F of make bench slower
// (2.54 s cached; 3.46 s writing direct; 4.25 s reading direct too, without
// readahead).
package volcopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

const (
	defaultBlockSize = 1 << 20
	maxBlockSize     = 4 << 20  // larger block sizes are clamped: memory stays bounded
	workers          = 4        // spans copied at once, each by a worker with a buffer of its own
	workSpan         = 64 << 20 // bytes of the source a worker takes at a time
	subBlock         = 4096     // zero detection granularity
	defaultInterval  = time.Second
)

// Options tune a copy.
type Options struct {
	// Sparse says the destination already reads as zeros: zero runs and
	// source holes are skipped, not written. Only a destination the caller
	// created or verifiably zeroed qualifies; on any other, skipped ranges
	// keep their stale bytes.
	Sparse bool
	// BlockSize is the I/O size in bytes (volume_dd_blocksize parsed by the
	// caller); 0 means 1 MiB, and sizes above 4 MiB are clamped to 4 MiB.
	BlockSize int64
	// BPSLimit caps, in bytes per second, both the reading from the source and
	// the writing to the destination, each on its own (volume_copy_bps_limit,
	// as Cinder's blkio cgroup sets both read and write bps to it); 0 means
	// unlimited. Holes not read and zeroing offloaded to the destination are
	// not counted; a compare copy's reads of the destination are.
	BPSLimit int64
	// Compare reads the destination too and writes or zeroes only the
	// sub-blocks that differ from the source, leaving those already equal;
	// as in a full copy, no stale byte survives. Excludes Sparse.
	Compare bool
	// ZeroTail extends the copy to the destination's end: past Size it must
	// read as zeros, as if the source went on as a hole. For a destination
	// larger than the source, whose tail may hold stale bytes.
	ZeroTail bool
	// Size is the number of bytes to copy from offset 0; 0 means the source's size.
	Size int64
	// Progress, when set, is called every ProgressInterval during the copy and
	// once at its end, from one goroutine at a time.
	Progress func(Stats)
	// ProgressInterval is how often Progress is called; 0 means every second.
	ProgressInterval time.Duration
}

// Stats says what a copy did: Written+Zeroed+Skipped == Size, and in a full
// copy Skipped is 0.
type Stats struct {
	Size    int64         // bytes in the range copied, the zeroed tail included
	Read    int64         // bytes read from the source
	Written int64         // bytes of the source's non-zero data written
	Zeroed  int64         // bytes zeroed on the destination, by writing zeros or by fallocate/BLKZEROOUT
	Skipped int64         // bytes neither written nor zeroed: zeros of a sparse copy, equal bytes of a compare copy
	Elapsed time.Duration // time taken so far
}

// Copy copies the first Size bytes of src to dst, each a regular file or a
// block device. dst must already exist and hold at least Size bytes; it is
// never truncated, and its bytes past Size are left alone unless ZeroTail.
func Copy(ctx context.Context, src, dst string, opts Options) (Stats, error) {
	start := time.Now()
	if err := opts.check(); err != nil {
		return Stats{}, err
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	in, err := open(src, "src", unix.O_RDONLY)
	if err != nil {
		return Stats{}, err
	}
	defer in.close()
	out, err := open(dst, "dst", unix.O_WRONLY)
	if err != nil {
		return Stats{}, err
	}
	defer out.close()
	if in.same(out) {
		return Stats{}, fmt.Errorf("copy %s to %s: source and destination are the same file", src, dst)
	}
	size := opts.Size
	if size == 0 {
		size = in.size
	}
	if size > in.size {
		return Stats{}, fmt.Errorf("copy %s to %s: size %d exceeds the source's %d bytes", src, dst, size, in.size)
	}
	if size > out.size {
		return Stats{}, fmt.Errorf("copy %s to %s: destination holds %d bytes, fewer than the %d to copy", src, dst, out.size, size)
	}
	bs := opts.BlockSize
	if bs == 0 {
		bs = defaultBlockSize
	}
	c := &copier{
		src: in, dst: out, size: size, end: size, bs: min(bs, maxBlockSize), sparse: opts.Sparse, compare: opts.Compare,
		readLimit: newLimiter(opts.BPSLimit, start), writeLimit: newLimiter(opts.BPSLimit, start),
	}
	if opts.ZeroTail {
		c.end = out.size
	}
	stopProgress := c.report(start, opts)
	err = c.run(ctx)
	stopProgress()
	st := c.stats(start)
	if opts.Progress != nil {
		opts.Progress(st)
	}
	if err != nil && ctx.Err() != nil {
		return st, fmt.Errorf("copy %s to %s: %w", src, dst, ctx.Err())
	}
	return st, err
}

// check rejects options that make no sense.
func (o *Options) check() error {
	switch {
	case o.BlockSize < 0:
		return fmt.Errorf("volcopy: negative block size %d", o.BlockSize)
	case o.BPSLimit < 0:
		return fmt.Errorf("volcopy: negative bps limit %d", o.BPSLimit)
	case o.Size < 0:
		return fmt.Errorf("volcopy: negative size %d", o.Size)
	case o.ProgressInterval < 0:
		return fmt.Errorf("volcopy: negative progress interval %v", o.ProgressInterval)
	case o.Sparse && o.Compare:
		return errors.New("volcopy: a copy cannot be both sparse and compare")
	}
	return nil
}

// copier holds one copy's state, shared by its workers.
type copier struct {
	src, dst   *file
	size, bs   int64
	end        int64 // the end of the destination range: size, or the destination's size with ZeroTail
	sparse     bool  // Options.Sparse: zero runs are skipped
	compare    bool  // Options.Compare: sub-blocks equal on the destination are skipped
	dstZero    bool  // the engine zeroed the destination range up front: zero runs need no writing
	readLimit  *limiter
	writeLimit *limiter

	read, written, zeroed, skipped atomic.Int64
}

// run is a stretch of a chunk of one kind.
type run struct {
	n    int64
	kind byte // runData, runZero or runSame
}

// Kinds of runs.
const (
	runData = iota // the source's non-zero data
	runZero        // the source's zeros
	runSame        // bytes the destination already holds (compare copies only)
)

// chunk is a range of the source.
type chunk struct {
	off, n int64
}

// run zeroes the destination up front when that is verifiably cheap, then
// copies with workers taking spans in offset order and writing them as they
// go, out of order between spans.
func (c *copier) run(ctx context.Context) error {
	if !c.sparse && !c.compare {
		fast, err := c.zeroAhead(ctx)
		if err != nil {
			return err
		}
		c.dstZero = fast
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan chunk, workers)
	errs := make(chan error, workers+1) // the first error sent is the cause; later ones follow from cancel
	fail := func(err error) {
		errs <- err
		cancel()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			if err := c.work(ctx, work); err != nil {
				fail(err)
			}
		})
	}
	if err := c.dispatch(ctx, work); err != nil {
		fail(err)
	}
	wg.Wait()
	close(errs)
	err := <-errs
	if err == nil {
		if err = unix.Fdatasync(c.dst.fd); err != nil {
			err = fmt.Errorf("sync dst %s: %w", c.dst.path, err)
		}
	}
	dropCache(c.src.fd, 0, c.size)
	dropCache(c.dst.fd, 0, c.end)
	return err
}

// zeroAhead zeroes the destination range with a call that guarantees zeros,
// but only when probing its first zeroProbe bytes shows the call is offloaded
// (metadata-only on a file, write-zeroes on a device): the copy then only
// writes data. It reports whether it did.
func (c *copier) zeroAhead(ctx context.Context) (bool, error) {
	if c.end < zeroCallMin {
		return false, nil
	}
	n := min(c.end, zeroProbe) / subBlock * subBlock
	if slowZeroing || !c.dst.probeZero(n) {
		return false, nil
	}
	return true, c.dst.zero(ctx, n, c.end-n, c.writeLimit)
}

// slowZeroing is a test seam: when true, zeroAhead finds zeroing not
// offloaded, so tests reach the path that zeroes run by run.
var slowZeroing = false

// dispatch sends the range to copy, cut into spans of at most workSpan bytes,
// in offset order, and closes work.
func (c *copier) dispatch(ctx context.Context, work chan<- chunk) error {
	defer close(work)
	for off := int64(0); off < c.end; off += workSpan {
		select {
		case work <- chunk{off: off, n: min(workSpan, c.end-off)}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// worker is what one of a copy's goroutines owns.
type worker struct {
	src  *file  // the source, through a descriptor of the worker's own
	old  *file  // the destination, read in a compare copy; else nil
	buf  []byte // a block of the source
	prev []byte // the destination's bytes where buf goes, in a compare copy
	runs []run  // buf split
	wb   writeback
}

// newWorker opens a worker's descriptors and allocates its buffers.
func (c *copier) newWorker() (*worker, error) {
	src, err := open(c.src.path, c.src.role, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	_ = unix.Fadvise(src.fd, 0, c.size, unix.FADV_SEQUENTIAL) // advisory only
	w := &worker{src: src, buf: make([]byte, c.bs), wb: writeback{src: src.fd, dst: c.dst.fd}}
	if c.compare {
		if w.old, err = open(c.dst.path, c.dst.role, unix.O_RDONLY); err != nil {
			src.close()
			return nil, err
		}
		_ = unix.Fadvise(w.old.fd, 0, c.end, unix.FADV_SEQUENTIAL) // advisory only
		w.prev = make([]byte, c.bs)
	}
	return w, nil
}

// close releases w's descriptors.
func (w *worker) close() {
	w.src.close()
	if w.old != nil {
		w.old.close()
	}
}

// work copies spans until work is closed, reading each in offset order
// through a descriptor of its own, so that the kernel's readahead sees a
// sequential reader, into a buffer of its own.
func (c *copier) work(ctx context.Context, work <-chan chunk) error {
	w, err := c.newWorker()
	if err != nil {
		return err
	}
	defer w.close()
	for sp := range work {
		for off, end := sp.off, sp.off+sp.n; off < end; {
			if err := ctx.Err(); err != nil {
				return err
			}
			data, hole, err := c.extent(w.src, off, end)
			if err != nil {
				return err
			}
			if data > off {
				if err := c.hole(ctx, w, off, data); err != nil {
					return err
				}
				w.wb.done(off, data-off)
			}
			if off = data; off == hole {
				continue
			}
			n := min(hole, (off/c.bs+1)*c.bs) - off // chunks aligned to the block size
			b := w.buf[:n]
			if err := c.readLimit.wait(ctx, n); err != nil {
				return err
			}
			if err := w.src.readAt(b, off); err != nil {
				return err
			}
			c.read.Add(n)
			if err := c.apply(ctx, w, b, off); err != nil {
				return err
			}
			w.wb.done(off, n)
			off += n
		}
	}
	return nil
}

// extent is src.extent within the source range: past it, in the tail that
// ZeroTail zeroes, all is hole.
func (c *copier) extent(src *file, off, end int64) (data, hole int64, err error) {
	if lim := min(end, c.size); off < lim {
		data, hole, err = src.extent(off, lim)
		if err != nil || data < lim {
			return data, hole, err
		}
	}
	return end, end, nil
}

// hole makes [off, end), a hole of the source, read as zeros on the
// destination; a compare copy zeroes only what the destination's data
// there holds other than zeros.
func (c *copier) hole(ctx context.Context, w *worker, off, end int64) error {
	if w.old == nil {
		return c.zeroRun(ctx, off, end-off)
	}
	for off < end {
		data, hole, err := w.old.extent(off, end)
		if err != nil {
			return err
		}
		c.skipped.Add(data - off) // a hole in both
		if off = data; off == hole {
			continue
		}
		b := w.buf[:min(hole, (off/c.bs+1)*c.bs)-off]
		clear(b)
		if err := c.apply(ctx, w, b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// apply puts b, the source's bytes at off, on the destination; a compare
// copy first reads what the destination holds there.
func (c *copier) apply(ctx context.Context, w *worker, b []byte, off int64) error {
	var prev []byte
	if w.old != nil {
		prev = w.prev[:len(b)]
		if err := c.readLimit.wait(ctx, int64(len(b))); err != nil {
			return err
		}
		if err := w.old.readAt(prev, off); err != nil {
			return err
		}
	}
	w.runs = split(w.runs[:0], b, prev, off)
	return c.put(ctx, b, off, w.runs)
}

// split appends to runs the split of b, read at off, into data and zero
// sub-blocks, aligned to absolute offsets; with prev, the destination's
// bytes there, sub-blocks equal to prev's are runSame.
func split(runs []run, b, prev []byte, off int64) []run {
	n := int64(len(b))
	for i := int64(0); i < n; {
		j := min(n, i+subBlock-(off+i)%subBlock)
		var kind byte = runData
		switch {
		case prev != nil && bytes.Equal(b[i:j], prev[i:j]):
			kind = runSame
		case isZero(b[i:j]):
			kind = runZero
		}
		if k := len(runs) - 1; k >= 0 && runs[k].kind == kind {
			runs[k].n += j - i
		} else {
			runs = append(runs, run{n: j - i, kind: kind})
		}
		i = j
	}
	return runs
}

// put applies b, read at off and split into runs, to the destination. Runs
// the destination already holds are left; where zero runs must be zeroed,
// runs of zeroCallMin or more get a zeroing call and shorter ones are
// written along with the data around them.
func (c *copier) put(ctx context.Context, b []byte, off int64, runs []run) error {
	var from, i int64 // b[from:i] is still to be written
	flush := func() error {
		if i == from {
			return nil
		}
		if err := c.writeLimit.wait(ctx, i-from); err != nil {
			return err
		}
		err := c.dst.writeAt(b[from:i], off+from)
		from = i
		return err
	}
	for _, r := range runs {
		switch {
		case r.kind == runData:
			c.written.Add(r.n)
		case r.kind == runSame:
			if err := flush(); err != nil {
				return err
			}
			c.skipped.Add(r.n)
			from = i + r.n
		case c.sparse || c.dstZero || r.n >= zeroCallMin:
			if err := flush(); err != nil {
				return err
			}
			if err := c.zeroRun(ctx, off+i, r.n); err != nil {
				return err
			}
			from = i + r.n
		default:
			c.zeroed.Add(r.n)
		}
		i += r.n
	}
	return flush()
}

// zeroRun skips a range of zeros where the destination already reads as
// zeros, and zeroes it otherwise.
func (c *copier) zeroRun(ctx context.Context, off, n int64) error {
	switch {
	case c.sparse:
		c.skipped.Add(n)
	case c.dstZero:
		c.zeroed.Add(n)
	default:
		if err := c.dst.zero(ctx, off, n, c.writeLimit); err != nil {
			return err
		}
		c.zeroed.Add(n)
	}
	return nil
}

// stats reports the counters so far.
func (c *copier) stats(start time.Time) Stats {
	return Stats{
		Size:    c.end,
		Read:    c.read.Load(),
		Written: c.written.Load(),
		Zeroed:  c.zeroed.Load(),
		Skipped: c.skipped.Load(),
		Elapsed: time.Since(start),
	}
}

// report calls opts.Progress at its interval until the returned function is called.
func (c *copier) report(start time.Time, opts Options) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	interval := opts.ProgressInterval
	if interval == 0 {
		interval = defaultInterval
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				opts.Progress(c.stats(start))
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}
