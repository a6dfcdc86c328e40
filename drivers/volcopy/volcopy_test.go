package volcopy

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/testenv"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// span is data written at an offset of a test file; zeros inside it are
// allocated zero data, not holes.
type span struct {
	off  int64
	data []byte
}

// random returns n deterministic random bytes.
func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// zeroed returns b with the ranges [from, to) set to zero.
func zeroed(b []byte, ranges ...[2]int) []byte {
	for _, r := range ranges {
		clear(b[r[0]:r[1]])
	}
	return b
}

// makeFile creates path as a sparse file of size bytes holding spans.
func makeFile(t testing.TB, path string, size int64, spans ...span) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	writeSpans(t, path, spans)
}

// writeSpans writes spans into the existing file at path.
func writeSpans(t testing.TB, path string, spans []span) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		if _, err := f.WriteAt(s.data, s.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// filled returns spans covering [0, size) with byte b: a stale thick volume.
func filled(size int64, b byte) []span {
	return []span{{0, bytes.Repeat([]byte{b}, int(size))}}
}

// allocated returns the bytes path has allocated on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// readRange reads [off, off+n) of path.
func readRange(t testing.TB, path string, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("read %s [%d,+%d): %v", path, off, n, err)
	}
	return b
}

// sameContent fails t unless a and b read the same over [0, size). It reads
// both in 1 MiB steps, skipping steps that are holes in both, so that it is
// cheap on large sparse files.
func sameContent(t *testing.T, a, b string, size int64) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fa.Close() }() // read-only: nothing to lose
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fb.Close() }() // read-only: nothing to lose
	nextData := func(f *os.File, off int64) int64 {
		d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil {
			return size // ENXIO: no more data
		}
		return d
	}
	ba, bb := make([]byte, MiB), make([]byte, MiB)
	for off := int64(0); off < size; {
		n := min(MiB, size-off)
		if d := min(nextData(fa, off), nextData(fb, off)); d >= off+n {
			off = min(d/MiB*MiB, size) // both hold holes up to d
			continue
		}
		if _, err := fa.ReadAt(ba[:n], off); err != nil {
			t.Fatalf("read %s at %d: %v", a, off, err)
		}
		if _, err := fb.ReadAt(bb[:n], off); err != nil {
			t.Fatalf("read %s at %d: %v", b, off, err)
		}
		if !bytes.Equal(ba[:n], bb[:n]) {
			i := 0
			for ba[i] == bb[i] {
				i++
			}
			t.Fatalf("%s and %s differ at offset %d: %#x != %#x", a, b, off+int64(i), ba[i], bb[i])
		}
		off += n
	}
}

// checkStats fails t unless st adds up for a copy of size bytes with opts.
func checkStats(t *testing.T, st Stats, size int64, opts Options) {
	t.Helper()
	if st.Size != size {
		t.Errorf("Size = %d, want %d", st.Size, size)
	}
	if st.Written+st.Zeroed+st.Skipped != size {
		t.Errorf("Written %d + Zeroed %d + Skipped %d != Size %d", st.Written, st.Zeroed, st.Skipped, size)
	}
	if opts.Sparse && st.Zeroed != 0 {
		t.Errorf("sparse copy zeroed %d bytes", st.Zeroed)
	}
	if !opts.Sparse && !opts.Compare && st.Skipped != 0 {
		t.Errorf("full copy skipped %d bytes", st.Skipped)
	}
	if st.Written > st.Read {
		t.Errorf("Written %d > Read %d", st.Written, st.Read)
	}
}

// layouts are source files: size and data spans.
var layouts = []struct {
	name  string
	size  int64
	spans []span
}{
	{"holes at start middle and end", 8 * MiB, []span{
		{1 * MiB, random(1, 3*MiB/2)}, {5 * MiB, random(2, MiB)}}},
	{"unaligned data and size", 7*MiB + 777, []span{
		{4097, random(3, 10001)}, {MiB - 3, random(4, 7)}, {3*MiB + 511, random(5, 2*MiB+13)}, {7*MiB + 700, random(6, 77)}}},
	{"zero runs inside data", 8 * MiB, []span{
		{0, zeroed(random(7, 6*MiB), [2]int{64 * KiB, 72 * KiB}, [2]int{100*KiB + 1, 104*KiB + 2},
			[2]int{MiB + 4*KiB, 3*MiB + 4*KiB}, [2]int{5*MiB - 4*KiB, 5*MiB + 8*KiB}, [2]int{6*MiB - 8*KiB, 6 * MiB})}}},
	{"all data", 3*MiB + 5, []span{{0, random(8, 3*MiB+5)}}},
	{"all hole", 6 * MiB, nil},
	{"data ends in zeros before a hole", 4 * MiB, []span{
		{0, zeroed(random(9, 2*MiB), [2]int{MiB / 2, 2 * MiB})}}},
}

var blockSizes = []int64{0, 4 * KiB, 12345, 3 * MiB, 64 * MiB}

// TestCopyFull copies onto a stale destination, pre-filled with 0xAA and
// larger than the source: the range must read exactly as the source, the tail
// must be untouched, and a thick destination must stay allocated.
func TestCopyFull(t *testing.T) {
	for _, l := range layouts {
		for _, bs := range blockSizes {
			t.Run(fmt.Sprintf("%s/bs=%d", l.name, bs), func(t *testing.T) {
				dir := t.TempDir()
				src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
				makeFile(t, src, l.size, l.spans...)
				dstSize := l.size + MiB + 3
				makeFile(t, dst, dstSize, filled(dstSize, 0xAA)...)

				st, err := Copy(t.Context(), src, dst, Options{BlockSize: bs})
				if err != nil {
					t.Fatal(err)
				}
				checkStats(t, st, l.size, Options{})
				if a := allocated(t, src); st.Read > a {
					t.Errorf("Read %d bytes, more than the %d the source has allocated: holes were read", st.Read, a)
				}
				sameContent(t, src, dst, l.size)
				if tail := readRange(t, dst, l.size, dstSize-l.size); !bytes.Equal(tail, bytes.Repeat([]byte{0xAA}, len(tail))) {
					t.Error("destination's bytes past Size were changed")
				}
				if a := allocated(t, dst); a < dstSize/4096*4096 {
					t.Errorf("thick destination now has %d bytes allocated, fewer than its %d", a, dstSize)
				}
			})
		}
	}
}

// TestCopySparse copies onto a fresh sparse destination, which reads as
// zeros: the result must read as the source, and the destination must
// allocate no more than the source's non-zero data.
func TestCopySparse(t *testing.T) {
	for _, l := range layouts {
		for _, bs := range blockSizes {
			t.Run(fmt.Sprintf("%s/bs=%d", l.name, bs), func(t *testing.T) {
				dir := t.TempDir()
				src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
				makeFile(t, src, l.size, l.spans...)
				makeFile(t, dst, l.size)

				st, err := Copy(t.Context(), src, dst, Options{Sparse: true, BlockSize: bs})
				if err != nil {
					t.Fatal(err)
				}
				checkStats(t, st, l.size, Options{Sparse: true})
				srcAlloc, dstAlloc := allocated(t, src), allocated(t, dst)
				if st.Read > srcAlloc {
					t.Errorf("Read %d bytes, more than the %d the source has allocated: holes were read", st.Read, srcAlloc)
				}
				sameContent(t, src, dst, l.size)
				// Slack for partial 4 KiB blocks at the ends of data runs and
				// for extent tree blocks, which depend on physical layout.
				if dstAlloc > srcAlloc+64*KiB || dstAlloc > st.Written+int64(len(l.spans)+1)*64*KiB {
					t.Errorf("destination allocated %d bytes; source %d, non-zero data %d", dstAlloc, srcAlloc, st.Written)
				}
			})
		}
	}
}

// TestCopySparseOntoStaleDestination shows why only a destination known to
// read as zeros may be copied sparsely: the source's holes and zero runs keep
// the destination's stale bytes.
func TestCopySparseOntoStaleDestination(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeFile(t, src, 4*MiB, span{MiB, random(10, MiB)})
	makeFile(t, dst, 4*MiB, filled(4*MiB, 0xAA)...)

	st, err := Copy(t.Context(), src, dst, Options{Sparse: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 3*MiB {
		t.Errorf("Skipped = %d, want %d", st.Skipped, 3*MiB)
	}
	if got := readRange(t, dst, 0, MiB); !bytes.Equal(got, bytes.Repeat([]byte{0xAA}, MiB)) {
		t.Error("the source's leading hole did not keep the destination's stale 0xAA bytes")
	}
	if got := readRange(t, dst, MiB, MiB); !bytes.Equal(got, readRange(t, src, MiB, MiB)) {
		t.Error("the source's data was not copied")
	}
}

// TestCopySize copies only the first Size bytes.
func TestCopySize(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeFile(t, src, 4*MiB, span{0, random(11, 4*MiB)})
	makeFile(t, dst, 4*MiB, filled(4*MiB, 0xAA)...)

	size := int64(2*MiB + 100)
	st, err := Copy(t.Context(), src, dst, Options{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, st, size, Options{})
	if st.Read != size {
		t.Errorf("Read = %d, want %d", st.Read, size)
	}
	if !bytes.Equal(readRange(t, dst, 0, size), readRange(t, src, 0, size)) {
		t.Error("the range copied differs from the source")
	}
	if got := readRange(t, dst, size, 4*MiB-size); !bytes.Equal(got, bytes.Repeat([]byte{0xAA}, len(got))) {
		t.Error("bytes past Size were changed")
	}
}

// TestCopyLargeSparseSource copies a 5 GiB source holding a few MiB of data,
// some past 4 GiB, onto a destination with stale bytes in the source's holes.
func TestCopyLargeSparseSource(t *testing.T) {
	const size = 5 * GiB
	spans := []span{{123, random(12, MiB)}, {2*GiB - 5, random(13, 3*MiB)}, {4*GiB + 7, random(14, 2*MiB)}, {size - 4*KiB, random(15, 4*KiB)}}
	for _, sparse := range []bool{false, true} {
		t.Run(fmt.Sprintf("sparse=%v", sparse), func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			makeFile(t, src, size, spans...)
			var stale []span
			if !sparse {
				stale = []span{{0, bytes.Repeat([]byte{0xAA}, 64*KiB)}, {3 * GiB, bytes.Repeat([]byte{0xAA}, 3*MiB)}, {size - MiB, bytes.Repeat([]byte{0xAA}, MiB)}}
			}
			makeFile(t, dst, size, stale...)

			st, err := Copy(t.Context(), src, dst, Options{Sparse: sparse})
			if err != nil {
				t.Fatal(err)
			}
			checkStats(t, st, size, Options{Sparse: sparse})
			if st.Read > 8*MiB+64*KiB {
				t.Errorf("Read %d bytes from a source with about 6 MiB of data", st.Read)
			}
			if st.Elapsed > 10*time.Second {
				t.Errorf("copying 6 MiB of data took %v", st.Elapsed)
			}
			sameContent(t, src, dst, size)
		})
	}
}

// TestCopyAccounting checks the counters on a known layout.
func TestCopyAccounting(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	// 1 MiB hole, 1 MiB data with a 64 KiB zero run, 2 MiB hole.
	makeFile(t, src, 4*MiB, span{MiB, zeroed(random(16, MiB), [2]int{256 * KiB, 320 * KiB})})
	for _, tc := range []struct {
		sparse                  bool
		written, zeroed, skiped int64
	}{
		{false, MiB - 64*KiB, 3*MiB + 64*KiB, 0},
		{true, MiB - 64*KiB, 0, 3*MiB + 64*KiB},
	} {
		makeFile(t, dst, 4*MiB)
		st, err := Copy(t.Context(), src, dst, Options{Sparse: tc.sparse})
		if err != nil {
			t.Fatal(err)
		}
		if st.Read != MiB || st.Written != tc.written || st.Zeroed != tc.zeroed || st.Skipped != tc.skiped {
			t.Errorf("sparse=%v: stats %+v, want Read %d Written %d Zeroed %d Skipped %d", tc.sparse, st, MiB, tc.written, tc.zeroed, tc.skiped)
		}
	}
}

// differing counts the bytes of the sub-blocks in which src and dst differ
// over [0, size): where src's sub-block holds data, and where it is zeros.
// Sub-blocks are 4 KiB aligned to offsets and also cut where a copy with
// block size bs (0: the default) cuts its blocks. A compare copy must write
// exactly those.
func differing(t testing.TB, src, dst string, size, bs int64) (data, zero int64) {
	t.Helper()
	bs = min(cmp.Or(bs, defaultBlockSize), maxBlockSize)
	a, b := readRange(t, src, 0, size), readRange(t, dst, 0, size)
	for i, j := int64(0), int64(0); i < size; i = j {
		j = min(size, (i/subBlock+1)*subBlock, (i/bs+1)*bs)
		switch {
		case bytes.Equal(a[i:j], b[i:j]):
		case isZero(a[i:j]):
			zero += j - i
		default:
			data += j - i
		}
	}
	return data, zero
}

// TestCopyCompare reverts destinations that hold the source's bytes with a
// few changes, thin (with a hole where the source has data) and thick: only
// the sub-blocks that differ are written or zeroed, holes in both are not
// read, and the result equals the source.
func TestCopyCompare(t *testing.T) {
	for _, l := range layouts {
		for _, bs := range blockSizes {
			for _, thick := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/bs=%d/thick=%v", l.name, bs, thick), func(t *testing.T) {
					dir := t.TempDir()
					src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
					makeFile(t, src, l.size, l.spans...)
					var spans []span
					if thick {
						spans = filled(l.size, 0xAA)
					}
					spans = append(spans, l.spans...)
					spans = append(spans, span{0, bytes.Repeat([]byte{0xAB}, 5000)},
						span{l.size / 2, bytes.Repeat([]byte{0xAB}, 2*MiB)}, span{l.size - 100, bytes.Repeat([]byte{0xAB}, 100)})
					makeFile(t, dst, l.size, spans...)
					if !thick {
						punch(t, dst, MiB, 64*KiB)
					}
					data, zero := differing(t, src, dst, l.size, bs)

					opts := Options{Compare: true, BlockSize: bs}
					st, err := Copy(t.Context(), src, dst, opts)
					if err != nil {
						t.Fatal(err)
					}
					checkStats(t, st, l.size, opts)
					if st.Written != data || st.Zeroed != zero {
						t.Errorf("Written %d, Zeroed %d; the sub-blocks that differ hold %d bytes of data, %d of zeros", st.Written, st.Zeroed, data, zero)
					}
					if a := allocated(t, src); st.Read > a {
						t.Errorf("Read %d bytes of the source, more than its %d allocated", st.Read, a)
					}
					sameContent(t, src, dst, l.size)
					if a := allocated(t, dst); thick && a < l.size/4096*4096 {
						t.Errorf("thick destination now has %d bytes allocated, fewer than its %d", a, l.size)
					}
				})
			}
		}
	}
}

// punch makes [off, off+n) of path a hole.
func punch(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // fallocate's error is the one that matters
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		t.Fatal(err)
	}
}

// TestCopyCompareIdentical reads a thin destination equal to its source and
// writes nothing.
func TestCopyCompareIdentical(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	spans := []span{{MiB, random(30, 3*MiB)}}
	makeFile(t, src, 64*MiB, spans...)
	makeFile(t, dst, 64*MiB, spans...)
	st, err := Copy(t.Context(), src, dst, Options{Compare: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 0 || st.Zeroed != 0 || st.Skipped != 64*MiB || st.Read != 3*MiB {
		t.Errorf("stats %+v; want 3 MiB read, all 64 MiB skipped", st)
	}
	if a := allocated(t, dst); a > 3*MiB+64*KiB {
		t.Errorf("destination allocated %d bytes, its source 3 MiB", a)
	}
}

// TestCopyZeroTail copies onto a larger destination full of 0xAA: past the
// range copied it must read as zeros in a full and a compare copy, and
// bytes of the source past Size must not be copied.
func TestCopyZeroTail(t *testing.T) {
	const srcSize, dstSize = 4 * MiB, 8*MiB + 4*KiB
	for name, opts := range map[string]Options{
		"full":              {ZeroTail: true},
		"compare":           {ZeroTail: true, Compare: true},
		"size below source": {ZeroTail: true, Size: 2*MiB + 5},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			makeFile(t, src, srcSize, span{MiB, random(31, 3*MiB)})
			makeFile(t, dst, dstSize, filled(dstSize, 0xAA)...)
			st, err := Copy(t.Context(), src, dst, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkStats(t, st, dstSize, opts)
			size := cmp.Or(opts.Size, srcSize)
			if !bytes.Equal(readRange(t, dst, 0, size), readRange(t, src, 0, size)) {
				t.Error("the range copied differs from the source")
			}
			if tail := readRange(t, dst, size, dstSize-size); !bytes.Equal(tail, make([]byte, len(tail))) {
				t.Error("the destination's tail is not zeros")
			}
			if a := allocated(t, dst); a < dstSize {
				t.Errorf("thick destination now has %d bytes allocated, fewer than its %d", a, dstSize)
			}
		})
	}
}

// TestCopyBPSLimit copies 8 MiB at 8 MiB/s: reading and writing each take
// 1 s at that rate, and they overlap. Never faster than the limit; and well
// under the 2 s of reads and writes limited one after the other, leaving
// room for the final fdatasync and a busy machine's wake-ups (1.1 s was
// seen with other tests running).
func TestCopyBPSLimit(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeFile(t, src, 8*MiB, span{0, random(17, 8*MiB)})
	makeFile(t, dst, 8*MiB)

	start := time.Now()
	if _, err := Copy(t.Context(), src, dst, Options{BPSLimit: 8 * MiB}); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < 900*time.Millisecond || d > 1700*time.Millisecond {
		t.Errorf("8 MiB at 8 MiB/s took %v, want 0.9 s to 1.7 s", d)
	}
	sameContent(t, src, dst, 8*MiB)
}

// TestCopyProgress checks Progress is called during the copy, never
// backwards, and last with the final stats.
func TestCopyProgress(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeFile(t, src, 4*MiB, span{0, random(18, 4*MiB)})
	makeFile(t, dst, 4*MiB)

	var calls []Stats
	st, err := Copy(t.Context(), src, dst, Options{BPSLimit: 16 * MiB, ProgressInterval: 50 * time.Millisecond,
		Progress: func(s Stats) { calls = append(calls, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 3 {
		t.Fatalf("Progress called %d times in a 0.25 s copy at a 50 ms interval", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Read < calls[i-1].Read || calls[i].Written < calls[i-1].Written {
			t.Errorf("progress went backwards: %+v then %+v", calls[i-1], calls[i])
		}
	}
	if last := calls[len(calls)-1]; last != st {
		t.Errorf("last progress %+v, want the final stats %+v", last, st)
	}
	if calls[0].Written == st.Written {
		t.Errorf("first progress %+v already complete", calls[0])
	}
}

// TestCopyCancel cancels a slow copy: it must stop promptly with the context's error.
func TestCopyCancel(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeFile(t, src, 16*MiB, span{0, random(19, 16*MiB)})
	makeFile(t, dst, 16*MiB)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	st, err := Copy(ctx, src, dst, Options{BPSLimit: 4 * MiB}) // 4 s uncancelled
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelled copy returned after %v", d)
	}
	if st.Written >= 16*MiB {
		t.Errorf("cancelled copy wrote everything: %+v", st)
	}
}

// TestCopyBadInput checks that bad arguments get a clear error.
func TestCopyBadInput(t *testing.T) {
	dir := t.TempDir()
	src, dst, small := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "small")
	makeFile(t, src, 2*MiB, span{0, random(20, 100)})
	makeFile(t, dst, 2*MiB)
	makeFile(t, small, MiB)
	for _, tc := range []struct {
		name, src, dst string
		opts           Options
		want           string
	}{
		{"missing source", filepath.Join(dir, "none"), dst, Options{}, "open src"},
		{"missing destination", src, filepath.Join(dir, "none"), Options{}, "open dst"},
		{"destination too small", src, small, Options{}, "fewer than the 2097152 to copy"},
		{"size beyond the source", src, dst, Options{Size: 3 * MiB}, "exceeds the source's"},
		{"source is a directory", dir, dst, Options{}, "neither a regular file nor a block device"},
		{"destination is a character device", src, "/dev/null", Options{}, "neither a regular file nor a block device"},
		{"same file", src, src, Options{}, "same file"},
		{"negative block size", src, dst, Options{BlockSize: -1}, "negative block size"},
		{"negative size", src, dst, Options{Size: -1}, "negative size"},
		{"negative bps limit", src, dst, Options{BPSLimit: -5}, "negative bps limit"},
		{"sparse and compare", src, dst, Options{Sparse: true, Compare: true}, "both sparse and compare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Copy(t.Context(), tc.src, tc.dst, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// needRoot skips t unless it runs as root.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("SKIP: %s needs root", why)
	}
}

// unusable skips or, when services are required, fails t.
func unusable(t *testing.T, what string, err error) {
	t.Helper()
	if testenv.Required() {
		t.Fatalf("%s required (CINDER_TEST_REQUIRE_SERVICES=1, root) but unusable: %v", what, err)
	}
	t.Skipf("SKIP: %s unusable (%v); set CINDER_TEST_REQUIRE_SERVICES=1 to make this fail", what, err)
}

// loop attaches file to a loop device, detached when t ends.
func loop(t *testing.T, file string) string {
	t.Helper()
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		unusable(t, "loop devices", err)
	}
	out, err := exec.Command("losetup", "-f", "--show", file).CombinedOutput()
	if err != nil {
		unusable(t, "loop devices", fmt.Errorf("losetup: %v: %s", err, out))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// copyOntoStaleLoop copies a source of spans onto a loop device whose bytes
// are all 0xAA, in full or comparing, and checks the device then equals the source.
func copyOntoStaleLoop(t *testing.T, size int64, spans []span, opts Options) {
	t.Helper()
	dir := t.TempDir()
	src, backing := filepath.Join(dir, "src"), filepath.Join(dir, "backing")
	makeFile(t, src, size, spans...)
	makeFile(t, backing, size, filled(size, 0xAA)...)
	dev := loop(t, backing)

	st, err := Copy(t.Context(), src, dev, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, st, size, opts)
	sameContent(t, src, dev, size)
}

// TestCopyBlockDevices copies to and from loop devices.
func TestCopyBlockDevices(t *testing.T) {
	needRoot(t, "loop devices")
	const size = 16 * MiB
	spans := []span{
		{4097, random(21, 3*MiB)},
		{6 * MiB, zeroed(random(22, 4*MiB), [2]int{8 * KiB, 16 * KiB}, [2]int{MiB, 3 * MiB})},
		{size - 5*KiB, random(23, 5*KiB)},
	}

	t.Run("file to stale loop device", func(t *testing.T) { copyOntoStaleLoop(t, size, spans, Options{}) })
	t.Run("file to stale loop device, comparing", func(t *testing.T) { copyOntoStaleLoop(t, size, spans, Options{Compare: true}) })

	t.Run("loop device to file", func(t *testing.T) {
		dir := t.TempDir()
		backing, dst := filepath.Join(dir, "backing"), filepath.Join(dir, "dst")
		makeFile(t, backing, size, spans...)
		makeFile(t, dst, size)
		dev := loop(t, backing)

		st, err := Copy(t.Context(), dev, dst, Options{Sparse: true})
		if err != nil {
			t.Fatal(err)
		}
		checkStats(t, st, size, Options{Sparse: true})
		if st.Read != size {
			t.Errorf("Read = %d; a block device reports all data, want %d", st.Read, size)
		}
		sameContent(t, backing, dst, size)
		if a, b := allocated(t, dst), allocated(t, backing); a > b-2*MiB+64*KiB {
			t.Errorf("destination allocated %d bytes; the source has %d, 2 MiB of them zeros", a, b)
		}
	})
}

// TestCopyNoSpace fills a small tmpfs: the error must wrap ENOSPC and name
// the destination.
func TestCopyNoSpace(t *testing.T) {
	needRoot(t, "mounting a tmpfs")
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		unusable(t, "tmpfs mount", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	src, dst := filepath.Join(dir, "src"), filepath.Join(mnt, "dst")
	makeFile(t, src, 4*MiB, span{0, random(24, 4*MiB)})
	makeFile(t, dst, 4*MiB)

	_, err := Copy(t.Context(), src, dst, Options{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "write dst "+dst+" at offset ") {
		t.Errorf("err = %q, want it to name the write on %s", err, dst)
	}
}

// BenchmarkIsZero measures the zero check on 4 KiB sub-blocks.
func BenchmarkIsZero(b *testing.B) {
	buf := make([]byte, MiB)
	b.SetBytes(MiB)
	for b.Loop() {
		for i := 0; i < MiB; i += subBlock {
			if !isZero(buf[i : i+subBlock]) {
				b.Fatal("zero buffer reported non-zero")
			}
		}
	}
}

// zeroingPaths runs f once with zeroing up front allowed and once with the
// test seam slowZeroing set, so a full copy zeroes run by run.
func zeroingPaths(t *testing.T, f func(t *testing.T)) {
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprintf("slowZeroing=%v", slow), func(t *testing.T) {
			slowZeroing = slow
			t.Cleanup(func() { slowZeroing = false })
			f(t)
		})
	}
}

// TestCopyFullZeroAhead copies a sparse source larger than the zeroing probe
// onto a thick, stale file: with zeroing offloaded (ext4, xfs) the range is
// zeroed up front and only data written; either way no stale byte is left,
// the destination stays thick, and only the source's data is read.
func TestCopyFullZeroAhead(t *testing.T) {
	const size = zeroProbe + 16*MiB + 4*KiB
	spans := []span{
		{3 * MiB, random(25, 2*MiB)},
		{zeroProbe - MiB, zeroed(random(26, 3*MiB), [2]int{MiB / 2, MiB/2 + 12*KiB})},
		{size - 5*KiB, random(27, 5*KiB)},
	}
	zeroingPaths(t, func(t *testing.T) {
		dir := t.TempDir()
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		makeFile(t, src, size, spans...)
		makeFile(t, dst, size, filled(size, 0xAA)...)

		st, err := Copy(t.Context(), src, dst, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkStats(t, st, size, Options{})
		if st.Read > allocated(t, src) {
			t.Errorf("Read %d bytes, more than the source's %d allocated", st.Read, allocated(t, src))
		}
		sameContent(t, src, dst, size)
		if a := allocated(t, dst); a < size/4096*4096 {
			t.Errorf("thick destination now has %d bytes allocated, fewer than its %d", a, int64(size))
		}
	})
}

// TestCopyLoopZeroAhead copies onto a stale loop device, which offloads
// write-zeroes on ext4: through the up-front BLKZEROOUT path and, with the
// seam set, through run-by-run zeroing. Both must leave no stale block.
func TestCopyLoopZeroAhead(t *testing.T) {
	needRoot(t, "loop devices")
	const size = zeroProbe + 8*MiB
	spans := []span{{MiB, random(28, 3*MiB)}, {zeroProbe + MiB, zeroed(random(29, 2*MiB), [2]int{4 * KiB, MiB + 8*KiB})}}
	zeroingPaths(t, func(t *testing.T) { copyOntoStaleLoop(t, size, spans, Options{}) })
}

// TestProbeZero checks the probe: a file zeroes by fallocate, offloaded; the
// bytes probed read as zeros afterwards.
func TestProbeZero(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	makeFile(t, path, 8*MiB, filled(8*MiB, 0xAA)...)
	f, err := open(path, "dst", unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if !f.probeZero(4 * MiB) {
		t.Skip("SKIP: fallocate zeroing not offloaded on this filesystem")
	}
	if got := readRange(t, path, 0, 4*MiB); !bytes.Equal(got, make([]byte, 4*MiB)) {
		t.Error("probed range does not read as zeros")
	}
	if got := readRange(t, path, 4*MiB, 4*MiB); !bytes.Equal(got, bytes.Repeat([]byte{0xAA}, 4*MiB)) {
		t.Error("bytes past the probed range changed")
	}
}

// BenchmarkRevert copies a source onto a destination holding it but for 64
// changed ranges of 16 KiB (0.4% of a 256 MiB volume), as a revert to
// snapshot: a full copy against a compare copy, on a dense and a sparse source.
func BenchmarkRevert(b *testing.B) {
	const size = 256 * MiB
	dense := []span{{0, random(40, size)}}
	var sparse []span
	for off := int64(0); off < size; off += 8 * MiB { // 12.5% data
		sparse = append(sparse, span{off, random(uint64(41+off/MiB), MiB)})
	}
	for _, l := range []struct {
		name  string
		spans []span
	}{{"dense", dense}, {"sparse", sparse}} {
		for _, opts := range []Options{{}, {Compare: true}} {
			b.Run(fmt.Sprintf("%s/compare=%v", l.name, opts.Compare), func(b *testing.B) {
				dir := b.TempDir()
				src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
				makeFile(b, src, size, l.spans...)
				makeFile(b, dst, size, l.spans...)
				var changes []span
				for i := range int64(64) {
					changes = append(changes, span{i * size / 64, bytes.Repeat([]byte{0xAB}, 16*KiB)})
				}
				b.SetBytes(size)
				var st Stats
				for b.Loop() {
					b.StopTimer()
					writeSpans(b, dst, changes)
					b.StartTimer()
					var err error
					if st, err = Copy(b.Context(), src, dst, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(st.Written+st.Zeroed)/MiB, "MiB-changed/op")
			})
		}
	}
}
