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

// zeros is the source of zero bytes, for writing zeros and detecting them;
// aligned, so that zeros too can be written with O_DIRECT.
var zeros = aligned(1 << 20)

// aligned returns n zero bytes starting at a multiple of subBlock, as
// O_DIRECT wants of its buffers (Go's heap never moves them).
func aligned(n int) []byte {
	b := make([]byte, n+subBlock)
	skip := (subBlock - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%subBlock)) % subBlock
	return b[skip : skip+n : skip+n]
}

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
	direct    int      // a descriptor of the same file opened O_DIRECT, or -1
}

// open opens path, which must be a regular file or a block device.
func open(path, role string, flags int) (*file, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", role, path, err)
	}
	f := &file{fd: fd, path: path, role: role, direct: -1}
	if err := f.stat(); err != nil {
		unix.Close(fd)
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

func (f *file) close() {
	unix.Close(f.fd)
	if f.direct >= 0 {
		unix.Close(f.direct)
	}
}

// openDirect opens f again with O_DIRECT (through /proc/self/fd, so it is
// the same file), for aligned reads and writes that bypass the page cache.
// Where the filesystem refuses O_DIRECT (tmpfs), f keeps the page cache.
func (f *file) openDirect(flags int) {
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", f.fd), flags|unix.O_CLOEXEC|unix.O_DIRECT, 0)
	if err == nil {
		f.direct = fd
	}
}

// cached reports whether f's I/O goes through the page cache.
func (f *file) cached() bool { return f.direct < 0 }

// io runs op (pread or pwrite) on all of b at off, through the O_DIRECT
// descriptor when b and off are aligned to subBlock and through the page
// cache otherwise, or when the device refuses the direct I/O (EINVAL).
func (f *file) io(op func(fd int, b []byte, off int64) (int, error), b []byte, off int64, short error) error {
	fd := f.fd
	if f.direct >= 0 && off%subBlock == 0 && len(b)%subBlock == 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%subBlock == 0 {
		fd = f.direct
	}
	for len(b) > 0 {
		n, err := op(fd, b, off)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EINVAL && fd != f.fd:
			fd = f.fd
			continue
		case err != nil:
			return err
		case n == 0:
			return short
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

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
	if err := f.io(unix.Pread, b, off, io.ErrUnexpectedEOF); err != nil {
		return fmt.Errorf("read %s %s at offset %d: %w", f.role, f.path, off, err)
	}
	return nil
}

// writeAt writes all of b at offset off.
func (f *file) writeAt(b []byte, off int64) error {
	if err := f.io(unix.Pwrite, b, off, io.ErrShortWrite); err != nil {
		return fmt.Errorf("write %s %s at offset %d: %w", f.role, f.path, off, err)
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

// writeback keeps a worker's written ranges from filling the page cache:
// each range is asked to be dropped as soon as it is written, which starts
// its writeback, and again once the worker has written its next one, when
// its pages are clean and can go.
type writeback struct {
	off, n int64 // the range written before the latest
}

// done notes that [off, off+n) of f has just been written; writes that
// bypassed the page cache need nothing.
func (w *writeback) done(f *file, off, n int64) {
	if !f.cached() {
		return
	}
	dropCache(f.fd, off, n)
	if w.n > 0 {
		dropCache(f.fd, w.off, w.n)
	}
	w.off, w.n = off, n
}

// dropCache asks the kernel to drop [off, off+n) of fd from the page cache.
func dropCache(fd int, off, n int64) {
	unix.Fadvise(fd, off, n, unix.FADV_DONTNEED) // advisory: errors do not matter
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
