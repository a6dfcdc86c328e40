package volcopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	zeroCallMin = 1 << 20   // zero ranges this long are zeroed by one call; shorter ones are written
	zeroCallMax = 256 << 20 // one zeroing call covers at most this, so cancellation stays prompt
	zeroProbe   = 64 << 20  // bytes zeroed by the call that probes whether zeroing is offloaded
	// fastZeroRate is the rate in bytes per second above which a zeroing call
	// counts as offloaded: several times what a disk writes.
	fastZeroRate = 4 << 30
)

// zeros is the source of zero bytes, for writing zeros and detecting them.
var zeros [1 << 20]byte

// isZero reports whether b holds only zeros. bytes.Equal against a zero page
// is the runtime's vectorised memequal: faster than a word-by-word loop.
func isZero(b []byte) bool {
	return bytes.Equal(b, zeros[:len(b)])
}

// file is an open source or destination.
type file struct {
	fd    int
	path  string
	role  string // "src" or "dst", for error messages
	size  int64
	block bool // a block device, not a regular file
	st    unix.Stat_t

	zeroModes []uint32 // fallocate modes that zero a regular file, best first; probeZero keeps the first that works
	zeroOut   bool     // BLKZEROOUT works on the block device; set by probeZero
}

// open opens path, which must be a regular file or a block device.
func open(path, role string, flags int) (*file, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", role, path, err)
	}
	f := &file{fd: fd, path: path, role: role}
	if err := f.stat(); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// stat learns f's kind and size.
func (f *file) stat() error {
	if err := unix.Fstat(f.fd, &f.st); err != nil {
		return fmt.Errorf("stat %s %s: %w", f.role, f.path, err)
	}
	switch f.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f.size = f.st.Size
		f.zeroModes = []uint32{unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, unix.FALLOC_FL_ZERO_RANGE}
		if thick := f.st.Blocks*512 >= f.st.Size; thick { // zeroing keeps a thick file allocated
			f.zeroModes[0], f.zeroModes[1] = f.zeroModes[1], f.zeroModes[0]
		}
	case unix.S_IFBLK:
		size, err := unix.Seek(f.fd, 0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("size of %s %s: %w", f.role, f.path, err)
		}
		f.size, f.block = size, true
	default:
		return fmt.Errorf("%s %s is neither a regular file nor a block device", f.role, f.path)
	}
	return nil
}

// same reports whether f and g are the same file or device.
func (f *file) same(g *file) bool {
	if f.block || g.block {
		return f.block && g.block && f.st.Rdev == g.st.Rdev
	}
	return f.st.Dev == g.st.Dev && f.st.Ino == g.st.Ino
}

// close releases f's descriptor. Its error is dropped: a copy makes its
// bytes durable with fdatasync first, and reading loses nothing.
func (f *file) close() { _ = unix.Close(f.fd) }

// extent returns the next data range [data, hole) at or after off, both
// capped at end; data == end when no data is left. Without SEEK_DATA support
// everything is data.
func (f *file) extent(off, end int64) (data, hole int64, err error) {
	data, err = unix.Seek(f.fd, off, unix.SEEK_DATA)
	switch {
	case err == unix.ENXIO:
		return end, end, nil
	case errIsAny(err, unix.EINVAL, unix.EOPNOTSUPP, unix.ESPIPE):
		return off, end, nil
	case err != nil:
		return 0, 0, fmt.Errorf("find data in %s %s at offset %d: %w", f.role, f.path, off, err)
	case data >= end:
		return end, end, nil
	}
	hole, err = unix.Seek(f.fd, data, unix.SEEK_HOLE)
	if err != nil {
		return 0, 0, fmt.Errorf("find hole in %s %s at offset %d: %w", f.role, f.path, data, err)
	}
	return data, min(hole, end), nil
}

// readAt fills b from offset off.
func (f *file) readAt(b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pread(f.fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("read %s %s at offset %d: %w", f.role, f.path, off, err)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// writeAt writes all of b at offset off.
func (f *file) writeAt(b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(f.fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return fmt.Errorf("write %s %s at offset %d: %w", f.role, f.path, off, err)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// probeZero finds which call zeroes f, zeroing its first n bytes with it,
// and reports whether the call ran at fastZeroRate or faster: offloaded, not
// written. A block device must also say it offloads write-zeroes at all,
// since BLKZEROOUT otherwise has the kernel write zeros.
func (f *file) probeZero(n int64) (fast bool) {
	start := time.Now()
	if f.block {
		f.zeroOut = blkZeroOut(f.fd, 0, n) == nil
		fast = f.zeroOut && f.writeZeroesOffloaded()
	} else {
		for len(f.zeroModes) > 0 && unix.Fallocate(f.fd, f.zeroModes[0], 0, n) != nil {
			f.zeroModes = f.zeroModes[1:]
		}
		fast = len(f.zeroModes) > 0
	}
	return fast && time.Since(start).Seconds()*fastZeroRate <= float64(n)
}

// writeZeroesOffloaded reports whether the block device's queue takes
// write-zeroes requests (write_zeroes_max_bytes > 0); a partition reports
// through its disk's queue.
func (f *file) writeZeroesOffloaded() bool {
	dir := fmt.Sprintf("/sys/dev/block/%d:%d/", unix.Major(f.st.Rdev), unix.Minor(f.st.Rdev))
	for _, p := range []string{dir + "queue/write_zeroes_max_bytes", dir + "../queue/write_zeroes_max_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return err == nil && v > 0
		}
	}
	return false
}

// blkZeroOut zeroes [off, off+n) of a block device with BLKZEROOUT.
func blkZeroOut(fd int, off, n int64) error {
	r := [2]uint64{uint64(off), uint64(n)}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKZEROOUT, uintptr(unsafe.Pointer(&r))); errno != 0 {
		return errno
	}
	return nil
}

// zero makes [off, off+n) read as zeros: ranges of at least zeroCallMin by
// the call probeZero found, which guarantees zeros, the rest, and any range
// where no call works, by writing zeros paced by limit. Safe for concurrent use.
func (f *file) zero(ctx context.Context, off, n int64, limit *limiter) error {
	for n >= zeroCallMin {
		if err := ctx.Err(); err != nil {
			return err
		}
		head, done := f.zeroCall(off, min(n, zeroCallMax))
		if done == 0 {
			break
		}
		if err := f.writeZeros(ctx, off, head, limit); err != nil {
			return err
		}
		off, n = off+head+done, n-head-done
	}
	return f.writeZeros(ctx, off, n, limit)
}

// zeroCall zeroes part of [off, off+n) with one call. It returns the bytes
// before the part zeroed, left for the caller to write, and the bytes zeroed;
// done is 0 when the call fails or none works on f.
func (f *file) zeroCall(off, n int64) (head, done int64) {
	if f.block {
		// BLKZEROOUT wants sector alignment; 4 KiB alignment also keeps it
		// off pages of the page cache that hold data just written.
		start := (off + subBlock - 1) / subBlock * subBlock
		end := (off + n) / subBlock * subBlock
		if !f.zeroOut || end <= start || blkZeroOut(f.fd, start, end-start) != nil {
			return 0, 0
		}
		return start - off, end - start
	}
	if len(f.zeroModes) == 0 || unix.Fallocate(f.fd, f.zeroModes[0], off, n) != nil {
		return 0, 0
	}
	return 0, n
}

// writeZeros writes n zero bytes at off.
func (f *file) writeZeros(ctx context.Context, off, n int64, limit *limiter) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if err := limit.wait(ctx, k); err != nil {
			return err
		}
		if err := f.writeAt(zeros[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// writeback keeps a worker's copy from filling the page cache without
// cutting its writes into small I/Os. Ranges written in a row gather into a
// window; once it holds wbWindow bytes, or the next range does not follow
// it, its writeback starts (sync_file_range WRITE), and the window before,
// by then written back or waited for, is dropped from the cache along with
// the source's pages of the same range. A worker thus keeps at most two
// windows of each file cached.
type writeback struct {
	src, dst  int      // descriptors
	cur, prev [2]int64 // the window being gathered and the one being written back: [off, end)
}

// wbWindow is the size at which a window's writeback starts: large enough
// for the device to get long writes (case F of make bench: 2.75 s dropping
// each 1 MiB as written, 2.54 s with 32 MiB windows), small enough to bound
// the cache a copy holds (4 workers × 2 windows × 2 files: 512 MiB).
const wbWindow = 32 << 20

// done notes that [off, off+n) of the destination has just been written
// (or zeroed, or skipped).
func (w *writeback) done(off, n int64) {
	if off != w.cur[1] {
		w.flush()
		w.cur = [2]int64{off, off}
	}
	w.cur[1] = off + n
	if w.cur[1]-w.cur[0] >= wbWindow {
		w.flush()
	}
}

// flush starts the writeback of the current window and drops the previous one.
func (w *writeback) flush() {
	if w.cur[1] <= w.cur[0] {
		return
	}
	_ = unix.SyncFileRange(w.dst, w.cur[0], w.cur[1]-w.cur[0], unix.SYNC_FILE_RANGE_WRITE) // advisory: fdatasync at the end is what counts
	if p := w.prev; p[1] > p[0] {
		_ = unix.SyncFileRange(w.dst, p[0], p[1]-p[0], unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER) // likewise
		dropCache(w.dst, p[0], p[1]-p[0])
		dropCache(w.src, p[0], p[1]-p[0])
	}
	w.prev, w.cur = w.cur, [2]int64{w.cur[1], w.cur[1]}
}

// dropCache asks the kernel to drop [off, off+n) of fd from the page cache.
func dropCache(fd int, off, n int64) {
	_ = unix.Fadvise(fd, off, n, unix.FADV_DONTNEED) // advisory: errors do not matter
}

// errIsAny reports whether err is one of targets.
func errIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
