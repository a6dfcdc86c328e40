package posix

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// testSize is not a multiple of the chunk or of the sha block.
const testSize = 13*mib + 12345

// testOptions use 4 MiB chunks, so a test volume spans several.
func testOptions(t *testing.T, compression string) Options {
	return Options{Path: t.TempDir(), FileSize: 4 * mib, Compression: compression, Workers: 2}
}

func testBackup(id string, parent *Backup) Backup {
	return Backup{
		ID: id, VolumeID: "0c3a8f2e-5d1b-4c6e-9f7a-2b8d4e6f1a3c", Name: "nightly", Description: "a test backup",
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC), Parent: parent,
	}
}

// random returns n incompressible bytes.
func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

// text returns n compressible bytes.
func text(seed uint64, n int) []byte {
	words := []string{"volume ", "backup ", "cinder ", "posix ", "chunk ", "sha256 ", "zlib\n"}
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// write writes b into path at off.
func write(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// punch makes [off, off+n) of path a hole.
func punch(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		t.Fatal(err)
	}
}

// sparseFile creates a sparse file of size bytes.
func sparseFile(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// makeVolume writes a volume of testSize with incompressible data,
// compressible data, short and long holes, allocated zeros and an
// unaligned tail.
func makeVolume(t *testing.T, path string) {
	t.Helper()
	sparseFile(t, path, testSize)
	write(t, path, 0, random(1, 3*mib))                 // an incompressible object
	write(t, path, 3*mib+40*kib, text(2, 200*kib))      // after a short hole
	write(t, path, 6*mib+512*kib, make([]byte, 64*kib)) // allocated zeros
	write(t, path, 6*mib+576*kib, text(3, 500*kib))     // 4-8 MiB: a long hole first
	write(t, path, 10*mib, random(5, 2*mib))            // an incompressible object after a hole
	write(t, path, 12*mib+100, text(4, testSize-12*mib-100))
}

// newVolume makes a test volume in a new directory and returns the
// directory, the volume's path and its bytes.
func newVolume(t *testing.T) (dir, src string, want []byte) {
	t.Helper()
	dir = t.TempDir()
	src = filepath.Join(dir, "volume")
	makeVolume(t, src)
	return dir, src, content(t, src)
}

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func content(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameContent fails unless path holds want's bytes.
func sameContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got := content(t, path)
	if len(got) != len(want) {
		t.Fatalf("%s holds %d bytes, want %d", path, len(got), len(want))
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s differs first at byte %d: %#x, want %#x", path, i, got[i], want[i])
			}
		}
	}
}

// hasNoData fails unless [off, end) of path is a hole.
func hasNoData(t *testing.T, path string, off, end int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if err == nil && data < end {
		t.Errorf("%s has data at %d, in [%d, %d) which should be a hole", path, data, off, end)
	}
}

func mustCreate(t *testing.T, opts Options, b Backup, src string) Stats {
	t.Helper()
	st, err := Create(context.Background(), opts, b, src, testSize)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustRestore(t *testing.T, opts Options, b Backup, dst string, sparse bool) Stats {
	t.Helper()
	st, err := Restore(context.Background(), opts, b, dst, testSize, sparse)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRoundTrip(t *testing.T) {
	for _, compression := range []string{"none", "zlib", "bz2", "zstd", "gzip"} {
		t.Run(compression, func(t *testing.T) {
			opts := testOptions(t, compression)
			dir, src, want := newVolume(t)
			b := testBackup("4f2a9c1e-8b3d-4e5f-a6b7-c8d9e0f1a2b3", nil)
			st := mustCreate(t, opts, b, src)
			// Blocks partly data are read whole: 2 per data extent at most.
			// Incompressible objects are found so by their first segment and
			// written as they are; zstd, judged on the whole object, reads
			// them again.
			most := allocated(t, src) + 12*DefaultSHABlockSize
			if compression == "zstd" {
				most += 5 * mib
			}
			if st.Read > most {
				t.Errorf("read %d bytes of a source with %d allocated: holes were read", st.Read, allocated(t, src))
			}
			if st.ZeroBytes < 4*mib+512*kib {
				t.Errorf("%d bytes stored as zero objects, want the 4.5 MiB of long holes at least", st.ZeroBytes)
			}
			b.Prefix = st.Prefix

			thin := filepath.Join(dir, "thin")
			sparseFile(t, thin, testSize)
			rst := mustRestore(t, opts, b, thin, true)
			sameContent(t, thin, want)
			if got, most := allocated(t, thin), allocated(t, src); got > most {
				t.Errorf("sparse restore allocated %d bytes, the source %d", got, most)
			}
			hasNoData(t, thin, 8*mib, 10*mib)
			hasNoData(t, thin, 6*mib+512*kib, 6*mib+576*kib) // the source's allocated zeros
			if rst.Objects != st.Objects {
				t.Errorf("restore read %d objects, the backup has %d", rst.Objects, st.Objects)
			}

			stale := filepath.Join(dir, "stale")
			write(t, stale, 0, random(9, testSize))
			mustRestore(t, opts, b, stale, false)
			sameContent(t, stale, want)

			grown := filepath.Join(dir, "new")
			if err := os.WriteFile(grown, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			mustRestore(t, opts, Backup{ID: b.ID}, grown, true) // prefix found by listing
			sameContent(t, grown, want)
		})
	}
}

// TestFormat checks the names, metadata and sha256file Cinder reads.
func TestFormat(t *testing.T) {
	opts := testOptions(t, "zlib")
	src := filepath.Join(t.TempDir(), "volume")
	makeVolume(t, src)
	b := testBackup("4f2a9c1e-8b3d-4e5f-a6b7-c8d9e0f1a2b3", nil)
	st := mustCreate(t, opts, b, src)
	want := "volume_" + b.VolumeID + "_20250304050607_backup_" + b.ID
	if st.Prefix != want {
		t.Errorf("prefix %s, want %s", st.Prefix, want)
	}
	dir := filepath.Join(opts.Path, "4f", "2a", b.ID)
	md, err := readMetadata(filepath.Join(dir, want+"_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	if md.CreatedAt != "2025-03-04 05:06:07.123456+00:00" || md.ParentID != nil || *md.BackupName != "nightly" {
		t.Errorf("metadata header %+v", md)
	}
	objs, err := md.objects()
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for i, obj := range objs {
		if obj.name != objectName(want, i+1) || obj.Offset != end {
			t.Errorf("object %d: %s at %d, want %s at %d", i, obj.name, obj.Offset, objectName(want, i+1), end)
		}
		end = obj.Offset + obj.Length
		if obj.Offset/opts.FileSize != (end-1)/opts.FileSize {
			t.Errorf("object %s (%d+%d) crosses a chunk boundary", obj.name, obj.Offset, obj.Length)
		}
	}
	if end != testSize {
		t.Errorf("objects cover %d bytes, want %d", end, testSize)
	}
	for _, obj := range objs { // an incompressible object is stored as is
		if obj.Offset == 10*mib && (obj.Compression != "none" || obj.Length != 2*mib) {
			t.Errorf("object %s at %d+%d has compression %s, want none", obj.name, obj.Offset, obj.Length, obj.Compression)
		}
	}
	shas, err := openSHAFile(filepath.Join(dir, want+"_sha256file"))
	if err != nil {
		t.Fatal(err)
	}
	defer shas.close()
	for {
		_, ok, err := shas.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if blocks := (testSize + DefaultSHABlockSize - 1) / DefaultSHABlockSize; shas.n != blocks || shas.chunkSize != DefaultSHABlockSize {
		t.Errorf("sha256file lists %d sha256s of %d-byte blocks, want %d of %d", shas.n, shas.chunkSize, blocks, DefaultSHABlockSize)
	}
	names, _ := os.ReadDir(dir)
	if len(names) != len(objs)+2 {
		t.Errorf("container holds %d files, want %d objects, metadata and sha256file", len(names), len(objs))
	}
}

// TestCompressionChoice checks which objects are stored uncompressed: those
// whose first segment does not shrink, and those whose first segment shrank
// but not the whole, which are read again to be rewritten.
func TestCompressionChoice(t *testing.T) {
	opts := testOptions(t, "zlib")
	opts.FileSize = 64 * mib
	dir := t.TempDir()
	src := filepath.Join(dir, "volume")
	barely, grows := barelyCompressible(t)
	size := 16*mib + int64(len(barely))
	sparseFile(t, src, size)
	write(t, src, 0, random(1, mib)) // incompressible first, then text
	write(t, src, mib, text(2, mib))
	write(t, src, 8*mib, text(3, 2*mib)) // text: compressed
	write(t, src, 16*mib, barely)
	b := testBackup("c1000000-0000-4000-8000-000000000001", nil)
	st, err := Create(context.Background(), opts, b, src, size)
	if err != nil {
		t.Fatal(err)
	}
	if !grows {
		t.Fatal("found no data whose first segment shrinks and whole grows")
	}
	if want := 4*mib + 2*int64(len(barely)); st.Read != want {
		t.Errorf("read %d bytes, want %d: the data once and the object that grew again", st.Read, want)
	}
	md, err := readMetadata(filepath.Join(opts.Path, "c1", "00", b.ID, st.Prefix+"_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := md.objects()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{0: "none", 8 * mib: "zlib", 16 * mib: "none"}
	for _, obj := range objs {
		if c, ok := want[obj.Offset]; ok {
			if obj.Compression != c {
				t.Errorf("object at %d: compression %s, want %s", obj.Offset, obj.Compression, c)
			}
			delete(want, obj.Offset)
		}
	}
	if len(want) > 0 {
		t.Errorf("no data object at %v", want)
	}
	dst := filepath.Join(dir, "restored")
	sparseFile(t, dst, size)
	if _, err := Restore(context.Background(), opts, b, dst, size, true); err != nil {
		t.Fatal(err)
	}
	sameContent(t, dst, content(t, src))
}

// barelyCompressible returns random bytes whose first MiB, starting with
// the fewest zeros that make it shrink under zlib, is followed by enough
// random MiBs, which each grow, for the whole to grow; and whether it found
// such zeros.
func barelyCompressible(t *testing.T) ([]byte, bool) {
	t.Helper()
	size := func(b []byte) int {
		n, err := (&zlibSegmenter{}).encode(new(bytes.Buffer), b)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	growth := size(random(5, mib)) - mib
	for z := 0; z < 64*kib; z += 256 {
		first := random(4, mib)
		clear(first[:z])
		if saved := mib - size(first); saved > 0 && growth > 0 {
			return append(first, random(5, (saved/growth+1)*mib)...), true
		}
	}
	return random(4, mib), false
}

func TestIncrementalChain(t *testing.T) {
	opts := testOptions(t, "zlib")
	dir, src, v1 := newVolume(t)
	b1 := testBackup("a1000000-0000-4000-8000-000000000001", nil)
	full := mustCreate(t, opts, b1, src)

	write(t, src, 9*mib, text(5, 50*kib))     // data into a hole
	write(t, src, 100*kib, random(6, 50*kib)) // data changed
	v2 := content(t, src)
	b2 := testBackup("a2000000-0000-4000-8000-000000000002", &b1)
	inc := mustCreate(t, opts, b2, src)
	if inc.Stored*10 > full.Stored || inc.Objects > 3 {
		t.Errorf("incremental stored %d bytes in %d objects, the full backup %d: unchanged blocks were stored",
			inc.Stored, inc.Objects, full.Stored)
	}

	punch(t, src, 0, 2*mib)                     // data discarded: zeros over the full backup's data
	write(t, src, testSize-10, []byte("tail!")) // the unaligned last block
	v3 := content(t, src)
	b3 := testBackup("a3000000-0000-4000-8000-000000000003", &b2)
	mustCreate(t, opts, b3, src)

	for _, c := range []struct {
		b    Backup
		want []byte
	}{{b1, v1}, {b2, v2}, {b3, v3}} {
		dst := filepath.Join(dir, "restore-"+c.b.ID)
		sparseFile(t, dst, testSize)
		mustRestore(t, opts, c.b, dst, true)
		sameContent(t, dst, c.want)
	}
	hasNoData(t, filepath.Join(dir, "restore-"+b3.ID), 0, 2*mib)

	// Back onto the volume, holding v1's bytes: stale bytes must go.
	dst := filepath.Join(dir, "source")
	write(t, dst, 0, v1)
	st := mustRestore(t, opts, Backup{ID: b3.ID}, dst, false) // parents found from parent_id
	sameContent(t, dst, v3)
	if st.Objects >= full.Objects+inc.Objects+2 {
		t.Errorf("restore read %d objects: objects overwritten by newer backups were read", st.Objects)
	}
}

func TestIncrementalRefused(t *testing.T) {
	opts := testOptions(t, "zlib")
	dir := t.TempDir()
	src := filepath.Join(dir, "volume")
	makeVolume(t, src)
	b1 := testBackup("b1000000-0000-4000-8000-000000000001", nil)
	mustCreate(t, opts, b1, src)

	other := opts
	other.SHABlockSize = 64 * kib
	_, err := Create(context.Background(), other, testBackup("b2000000-0000-4000-8000-000000000002", &b1), src, testSize)
	if err == nil || !strings.Contains(err.Error(), "Hash block size has changed") && !strings.Contains(err.Error(), "hash block size has changed") {
		t.Errorf("incremental with another sha block size: %v", err)
	}
	if err := os.Truncate(src, testSize+mib); err != nil {
		t.Fatal(err)
	}
	b3 := testBackup("b3000000-0000-4000-8000-000000000003", &b1)
	_, err = Create(context.Background(), opts, b3, src, testSize+mib)
	if err == nil || !strings.Contains(err.Error(), "size increased") {
		t.Errorf("incremental of a grown volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(opts.Path, "b3")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed backup left its container behind: %v", err)
	}
}

func TestCorruption(t *testing.T) {
	for _, c := range []struct {
		name, compression string
		damage            func(t *testing.T, dir string, objs []object, prefix string)
		want              []string
	}{
		{"flipped byte", "none", func(t *testing.T, dir string, objs []object, _ string) {
			flip(t, filepath.Join(dir, objs[1].name), 5000)
		}, []string{"-00002", "sha256 mismatch"}},
		{"flipped compressed byte", "zlib", func(t *testing.T, dir string, objs []object, _ string) {
			flip(t, filepath.Join(dir, objs[1].name), 100)
		}, []string{"-00002", "decompress zlib"}},
		{"flipped zero object", "zlib", func(t *testing.T, dir string, objs []object, _ string) {
			flip(t, filepath.Join(dir, objs[2].name), 300)
		}, []string{"-00003"}},
		{"wrong md5", "zstd", func(t *testing.T, dir string, objs []object, prefix string) {
			path := filepath.Join(dir, prefix+"_metadata")
			b := content(t, path)
			b = bytes.Replace(b, []byte(objs[1].MD5), []byte(strings.Repeat("0", 32)), 1)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"-00002", "md5 mismatch"}},
		{"missing object", "zlib", func(t *testing.T, dir string, objs []object, _ string) {
			if err := os.Remove(filepath.Join(dir, objs[3].name)); err != nil {
				t.Fatal(err)
			}
		}, []string{"-00004", "is missing from container"}},
		{"no metadata", "zlib", func(t *testing.T, dir string, _ []object, prefix string) {
			if err := os.Remove(filepath.Join(dir, prefix+"_metadata")); err != nil {
				t.Fatal(err)
			}
		}, []string{"no metadata", "incomplete"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := testOptions(t, c.compression)
			src := filepath.Join(t.TempDir(), "volume")
			makeVolume(t, src)
			b := testBackup("c1000000-0000-4000-8000-000000000001", nil)
			st := mustCreate(t, opts, b, src)
			dir := filepath.Join(opts.Path, "c1", "00", b.ID)
			md, err := readMetadata(filepath.Join(dir, st.Prefix+"_metadata"))
			if err != nil {
				t.Fatal(err)
			}
			objs, _ := md.objects()
			c.damage(t, dir, objs, st.Prefix)
			dst := filepath.Join(t.TempDir(), "dst")
			sparseFile(t, dst, testSize)
			_, err = Restore(context.Background(), opts, b, dst, testSize, true)
			if err == nil {
				t.Fatal("restore of a damaged backup succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// flip inverts the byte at off of path.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b := content(t, path)
	if off >= int64(len(b)) {
		t.Fatalf("%s holds %d bytes, none at %d", path, len(b), off)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDelete(t *testing.T) {
	opts := testOptions(t, "zlib")
	src := filepath.Join(t.TempDir(), "volume")
	makeVolume(t, src)
	b := testBackup("d1000000-0000-4000-8000-000000000001", nil)
	neighbour := testBackup("d1000000-0000-4000-8000-000000000002", nil)
	mustCreate(t, opts, b, src)
	mustCreate(t, opts, neighbour, src)

	// A crash before the metadata: Delete finds the files without a prefix.
	dir := filepath.Join(opts.Path, "d1", "00", b.ID)
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		if strings.HasSuffix(n.Name(), "_metadata") {
			if err := os.Rename(filepath.Join(dir, n.Name()), filepath.Join(dir, tmpPrefix+n.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := Delete(context.Background(), opts, b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("container %s left after delete: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(opts.Path, "d1", "00", neighbour.ID)); err != nil {
		t.Errorf("the neighbour's container is gone: %v", err)
	}
	if err := Delete(context.Background(), opts, b); err != nil {
		t.Errorf("deleting a deleted backup: %v", err)
	}
}

// TestZeroEncodings checks the canonical zero objects decode to zeros.
func TestZeroEncodings(t *testing.T) {
	for _, name := range []string{"zlib", "bz2", "zstd"} {
		c, _ := codecFor(name)
		for _, n := range []int64{1, 32 * kib, zeroUnit, 3*zeroUnit + 5*32*kib, 64 * mib} {
			var b bytes.Buffer
			if err := c.zeroObject(&b, n); err != nil {
				t.Fatal(err)
			}
			rd, err := c.decoder(&b)
			if err != nil {
				t.Fatal(err)
			}
			var got countWriter
			buf := make([]byte, mib)
			for {
				k, err := rd.Read(buf)
				if !isZero(buf[:k]) {
					t.Fatalf("%s zeros of %d decode to non-zero bytes", name, n)
				}
				got.n += int64(k)
				if err != nil {
					break
				}
			}
			if got.n != n {
				t.Errorf("%s zeros of %d decode to %d bytes", name, n, got.n)
			}
		}
	}
	h := md5Zeros.sum(3*zeroUnit + 7)
	if want := md5Of(make([]byte, 3*zeroUnit+7)); h != want {
		t.Errorf("md5 of zeros %s, want %s", h, want)
	}
}

func md5Of(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}
