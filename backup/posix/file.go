package posix

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/extents"
)

// volume is an open source or target: a regular file or a block device.
type volume struct {
	*os.File
	size  int64
	block bool
	thick bool  // a regular file with every byte allocated: zeroing keeps it so
	data  int64 // extent cache: the data range [data, hole) found last
	hole  int64
}

// openVolume opens path, a regular file or a block device, with flag.
func openVolume(path string, flag int) (*volume, error) {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	v := &volume{File: f, data: -1, hole: -1}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		v.size, v.thick = st.Size, st.Blocks*512 >= st.Size
	case unix.S_IFBLK:
		if v.size, err = f.Seek(0, io.SeekEnd); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("size of %s: %w", path, err)
		}
		v.block = true
	default:
		_ = f.Close()
		return nil, fmt.Errorf("%s is neither a regular file nor a block device", path)
	}
	return v, nil
}

// hasData reports whether [off, end) holds any data extent, per
// SEEK_DATA/SEEK_HOLE; without their support everything is data. Calls
// must come in increasing offsets for the extent cache to serve them.
func (v *volume) hasData(off, end int64) (bool, error) {
	if off >= v.data && off < v.hole {
		return true, nil
	}
	if off < v.data { // off is in the hole before the cached extent
		return v.data < end, nil
	}
	data, err := unix.Seek(int(v.Fd()), off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		v.data, v.hole = 1<<62, 1<<62
		return false, nil
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
		v.data, v.hole = 0, 1<<62
		return true, nil
	case err != nil:
		return false, fmt.Errorf("find data in %s at %d: %w", v.Name(), off, err)
	}
	hole, err := unix.Seek(int(v.Fd()), data, unix.SEEK_HOLE)
	if err != nil {
		return false, fmt.Errorf("find hole in %s at %d: %w", v.Name(), data, err)
	}
	v.data, v.hole = data, hole
	return data < end, nil
}

// prefetch has the kernel read v's data in the runs want ahead of its reader
// (posix_fadvise WILLNEED), so that the extents of a sparse volume, each
// too short for the kernel's own readahead, are read many at once rather
// than one after the other. It keeps window bytes of data queued beyond
// the bytes of data the reader reports having read on progress, until
// progress is closed. Queuing the reads takes time of its own (pages are
// allocated, extent maps read), hence a goroutine apart from the reader.
// It is a hint: it stops at the first error, which the reader's own
// reads report if it matters.
func (v *volume) prefetch(progress <-chan int64, want []extents.Range, window int64) {
	var pos, queued int64 // prefetched up to pos: queued bytes of data
	for read := range progress {
		for len(want) > 0 && queued-read < window {
			if pos < want[0].Offset {
				pos = want[0].Offset
			}
			end := want[0].End()
			if pos >= end {
				want = want[1:]
				continue
			}
			data, err := unix.Seek(int(v.Fd()), pos, unix.SEEK_DATA)
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				data, err = pos, nil // no SEEK_DATA: all data
			}
			hole, herr := unix.Seek(int(v.Fd()), data, unix.SEEK_HOLE)
			if herr != nil {
				hole = end
			}
			n := min(hole, end, data+window) - data
			switch {
			case errors.Is(err, unix.ENXIO): // no data left
				return
			case err == nil && n <= 0: // none left in this run
				pos = end
				continue
			}
			if err != nil || unix.Fadvise(int(v.Fd()), data, n, unix.FADV_WILLNEED) != nil {
				return // the reads report what matters
			}
			pos, queued = data+n, queued+n
		}
	}
}

// startWriteback starts writing f's dirty bytes in [off, off+n) to the
// device without waiting for them (sync_file_range WRITE), so that the
// sync that makes them durable later finds little left to do. It is a
// hint: a failure shows in that sync.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// readFull fills b from offset off.
func (v *volume) readFull(b []byte, off int64) error {
	if _, err := v.ReadAt(b, off); err != nil {
		return fmt.Errorf("read %s at %d: %w", v.Name(), off, err)
	}
	return nil
}

// zero makes [off, off+n) read as zeros: with fallocate on a regular file
// (ZERO_RANGE keeps a thick file thick, PUNCH_HOLE a thin one thin), with
// BLKZEROOUT on a block device, and by writing zeros where these fail.
func (v *volume) zero(off, n int64) error {
	var err error
	if v.block {
		r := [2]uint64{uint64(off), uint64(n)}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, v.Fd(), unix.BLKZEROOUT, uintptr(unsafe.Pointer(&r))); errno != 0 {
			err = errno
		}
	} else {
		modes := []uint32{unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, unix.FALLOC_FL_ZERO_RANGE}
		if v.thick {
			modes[0], modes[1] = modes[1], modes[0]
		}
		for _, m := range modes {
			if err = unix.Fallocate(int(v.Fd()), m, off, n); err == nil {
				break
			}
		}
	}
	for err != nil && n > 0 {
		k := min(n, int64(len(zeros)))
		if _, werr := v.WriteAt(zeros[:k], off); werr != nil {
			return fmt.Errorf("zero %s at %d: %w", v.Name(), off, werr)
		}
		off, n = off+k, n-k
	}
	return nil
}
