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
// are written.
//
// A reader goroutine fills a small pool of buffers while the caller's
// goroutine writes them in offset order, so memory stays bounded (4 buffers of
// at most 4 MiB) whatever the volume's size. I/O goes through the page cache;
// the ranges copied are dropped from it as the copy advances
// (posix_fadvise DONTNEED) so that a large copy does not evict the host's
// cache, and the destination is fdatasync'ed at the end.
package volcopy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

const (
	defaultBlockSize = 1 << 20
	maxBlockSize     = 4 << 20 // larger block sizes are clamped: memory stays bounded
	buffers          = 4       // buffers in flight between the reader and the writer
	subBlock         = 4096    // zero detection granularity
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
	// not counted.
	BPSLimit int64
	// Size is the number of bytes to copy from offset 0; 0 means the source's size.
	Size int64
	// Progress, when set, is called every ProgressInterval during the copy and
	// once at its end, from one goroutine at a time.
	Progress func(Stats)
	// ProgressInterval is how often Progress is called; 0 means every second.
	ProgressInterval time.Duration
}

// Stats says what a copy did. In a full copy Written+Zeroed == Size; in a
// sparse copy Written+Skipped == Size.
type Stats struct {
	Size    int64         // bytes in the range copied
	Read    int64         // bytes read from the source
	Written int64         // bytes of the source's non-zero data written
	Zeroed  int64         // bytes zeroed on the destination, by writing zeros or by fallocate/BLKZEROOUT
	Skipped int64         // bytes neither written nor zeroed (sparse copies only)
	Elapsed time.Duration // time taken so far
}

// Copy copies the first Size bytes of src to dst, each a regular file or a
// block device. dst must already exist and hold at least Size bytes; it is
// never truncated, and its bytes past Size are left alone.
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
		src: in, dst: out, size: size, bs: min(bs, maxBlockSize), sparse: opts.Sparse,
		readLimit: newLimiter(opts.BPSLimit, start), writeLimit: newLimiter(opts.BPSLimit, start),
		srcCache: cache{fd: in.fd}, dstCache: cache{fd: out.fd},
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
	}
	return nil
}

// copier holds one copy's state. The reader goroutine owns src, srcCache and
// readLimit; the writing goroutine owns the rest but the counters, which the
// progress goroutine reads too.
type copier struct {
	src, dst   *file
	size, bs   int64
	sparse     bool
	readLimit  *limiter
	writeLimit *limiter
	srcCache   cache
	dstCache   cache

	read, written, zeroed, skipped atomic.Int64

	pending, pendingEnd int64 // full copies: zero range not yet applied to dst
}

// buffer holds one chunk of source data and its split into zero and data runs.
type buffer struct {
	data []byte
	runs []run
}

// run is a stretch of a buffer that is all zeros or holds data.
type run struct {
	n    int64
	zero bool
}

// chunk is a range of the source in offset order: a hole when buf is nil.
type chunk struct {
	off, n int64
	buf    *buffer
}

// run copies with a reader goroutine feeding the writer through a pool of buffers.
func (c *copier) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *buffer, buffers)
	for range buffers {
		free <- &buffer{data: make([]byte, c.bs)}
	}
	work := make(chan chunk, buffers)
	readErr := make(chan error, 1)
	go func() { readErr <- c.readAll(ctx, free, work) }()
	err := c.writeAll(ctx, free, work)
	if err != nil {
		cancel()
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	if err == nil {
		err = c.flushZeros(ctx)
	}
	if err == nil {
		if err = unix.Fdatasync(c.dst.fd); err != nil {
			err = fmt.Errorf("sync dst %s: %w", c.dst.path, err)
		}
	}
	c.srcCache.dropAll(c.size)
	c.dstCache.dropAll(c.size)
	return err
}

// readAll reads the source's data extents into buffers and sends them, and
// its holes as bare chunks, in offset order. It closes work when done.
func (c *copier) readAll(ctx context.Context, free chan *buffer, work chan<- chunk) error {
	defer close(work)
	send := func(ch chunk) error {
		select {
		case work <- ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	unix.Fadvise(c.src.fd, 0, c.size, unix.FADV_SEQUENTIAL) // advisory only
	for off := int64(0); off < c.size; {
		data, hole, err := c.src.extent(off, c.size)
		if err != nil {
			return err
		}
		if data > off {
			if err := send(chunk{off: off, n: data - off}); err != nil {
				return err
			}
		}
		for off = data; off < hole; {
			n := min(hole, (off/c.bs+1)*c.bs) - off // chunks aligned to the block size
			var b *buffer
			select {
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := c.readLimit.wait(ctx, n); err != nil {
				return err
			}
			if err := c.src.readAt(b.data[:n], off); err != nil {
				return err
			}
			c.read.Add(n)
			b.split(off, n)
			if err := send(chunk{off: off, n: n, buf: b}); err != nil {
				return err
			}
			off += n
			c.srcCache.advance(off)
		}
	}
	return nil
}

// split records b's first n bytes, read at off, as runs of zero and data
// sub-blocks; sub-blocks are aligned to absolute offsets.
func (b *buffer) split(off, n int64) {
	b.runs = b.runs[:0]
	for i := int64(0); i < n; {
		j := min(n, i+subBlock-(off+i)%subBlock)
		zero := isZero(b.data[i:j])
		if k := len(b.runs) - 1; k >= 0 && b.runs[k].zero == zero {
			b.runs[k].n += j - i
		} else {
			b.runs = append(b.runs, run{n: j - i, zero: zero})
		}
		i = j
	}
}

// writeAll writes the chunks it receives, returning their buffers to free.
func (c *copier) writeAll(ctx context.Context, free chan<- *buffer, work <-chan chunk) error {
	for {
		var ch chunk
		var ok bool
		select {
		case ch, ok = <-work:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		if err := c.put(ctx, ch); err != nil {
			return err
		}
		if ch.buf != nil {
			free <- ch.buf
		}
	}
}

// put applies one chunk to the destination.
func (c *copier) put(ctx context.Context, ch chunk) error {
	if ch.buf == nil {
		return c.zeroRun(ctx, ch.off, ch.n)
	}
	off := ch.off
	for _, r := range ch.buf.runs {
		var err error
		if r.zero {
			err = c.zeroRun(ctx, off, r.n)
		} else {
			err = c.writeData(ctx, ch, off, r.n)
		}
		if err != nil {
			return err
		}
		off += r.n
	}
	return nil
}

// zeroRun skips a range of zeros (sparse copy) or adds it to the pending zero
// range, which is applied when data follows or at the end (full copy).
func (c *copier) zeroRun(ctx context.Context, off, n int64) error {
	if c.sparse {
		c.skipped.Add(n)
		return nil
	}
	if c.pendingEnd != off {
		if err := c.flushZeros(ctx); err != nil {
			return err
		}
		c.pending = off
	}
	c.pendingEnd = off + n
	return nil
}

// writeData writes the n data bytes at off from ch's buffer. A short pending
// zero range inside the same buffer is written along with them, saving a call.
func (c *copier) writeData(ctx context.Context, ch chunk, off, n int64) error {
	start := off
	if !c.sparse && c.pendingEnd == off && c.pending >= ch.off && off-c.pending < zeroCallMin {
		start = c.pending
		c.zeroed.Add(off - c.pending)
		c.pending, c.pendingEnd = 0, 0
	}
	if err := c.flushZeros(ctx); err != nil {
		return err
	}
	if err := c.writeLimit.wait(ctx, off+n-start); err != nil {
		return err
	}
	if err := c.dst.writeAt(ch.buf.data[start-ch.off:off+n-ch.off], start); err != nil {
		return err
	}
	c.written.Add(n)
	c.dstCache.advance(off + n)
	return nil
}

// flushZeros zeroes the pending range on the destination.
func (c *copier) flushZeros(ctx context.Context) error {
	off, n := c.pending, c.pendingEnd-c.pending
	if n == 0 {
		return nil
	}
	c.pending, c.pendingEnd = 0, 0
	if err := c.dst.zero(ctx, off, n, c.writeLimit); err != nil {
		return err
	}
	c.zeroed.Add(n)
	c.dstCache.advance(off + n)
	return nil
}

// stats reports the counters so far.
func (c *copier) stats(start time.Time) Stats {
	return Stats{
		Size:    c.size,
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
