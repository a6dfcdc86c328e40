package posix

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	stdadler32 "hash/adler32"
	"io"
	"os"
	"strings"
	"sync"

	dbzip2 "github.com/dsnet/compress/bzip2"
	kflate "github.com/klauspost/compress/flate"
	kzlib "github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// codec is one compression algorithm of backup_compression_algorithm.
//
// Objects of zlib and bz2 are made of segments encoded independently, so
// that workers compress them in parallel: a zlib object is a zlib header,
// raw deflate segments each ending in a sync flush, an empty final block and
// the Adler-32 of the whole (one valid stream, as pigz makes); a bz2 object
// is a concatenation of bz2 streams, which Python's bz2.decompress reads.
// A zstd object must be a single frame that records its content size
// (python-zstd refuses anything else), so it is compressed as a whole.
type codec interface {
	// segmenter returns an encoder of independent segments for one worker,
	// or nil when the object sink encodes the raw bytes itself.
	segmenter() segmenter
	// sink returns an encoder of whole objects for the writer.
	sink() sink
	// zeroObject writes the canonical encoding of n zero bytes.
	zeroObject(w io.Writer, n int64) error
	// decoder returns the uncompressed bytes of the object read by r.
	decoder(r io.Reader) (io.ReadCloser, error)
}

// segmenter encodes one segment of an object, independent of the others,
// returning the bytes of the object the segment takes.
type segmenter interface {
	encode(dst *bytes.Buffer, raw []byte) (int, error)
}

// recycler is a segmenter the worker gives back when done, for the next
// backup's workers.
type recycler interface{ recycle() }

// sink encodes an object's bytes, in order, into its file.
type sink interface {
	start(f *os.File) error
	add(raw, enc []byte) error // raw bytes and their segment encoding, if any
	addZeros(n int64) error
	finish(length int64) (stored int64, err error)
}

// codecFor returns the codec of a compression name, as Cinder's
// _get_compressor accepts it.
func codecFor(name string) (codec, error) {
	switch strings.ToLower(name) {
	case "none", "off", "no":
		return noneCodec{}, nil
	case "zlib", "gzip":
		return zlibCodec{}, nil
	case "bz2", "bzip2":
		return bz2Codec{}, nil
	case "zstd":
		return zstdCodec{}, nil
	}
	return nil, fmt.Errorf("unsupported compression algorithm: %s", name)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// writeZeroObject writes the canonical encoding of n zeros to f.
func writeZeroObject(c codec, f *os.File, n int64) (int64, error) {
	if _, none := c.(noneCodec); none {
		return 0, f.Truncate(n) // a hole: no byte stored
	}
	w := &countWriter{w: f}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := c.zeroObject(bw, n); err != nil {
		return 0, err
	}
	err := bw.Flush()
	return w.n, err
}

// isZeroObject reports whether f, of size size, holds the canonical
// encoding of n zeros, checking it without decompressing anything.
func isZeroObject(c codec, f *os.File, size, n int64) (bool, error) {
	if _, none := c.(noneCodec); none {
		if size != n {
			return false, nil
		}
		_, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_DATA)
		return errors.Is(err, unix.ENXIO), nil
	}
	var cw countWriter
	if err := c.zeroObject(&cw, n); err != nil || cw.n != size {
		return false, err
	}
	cmp := &compareWriter{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10), same: true}
	if err := c.zeroObject(cmp, n); err != nil {
		return false, err
	}
	return cmp.same, nil
}

// countWriter counts the bytes written through it to w, if any.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}

// compareWriter compares the bytes written to it with those r reads.
type compareWriter struct {
	r    *bufio.Reader
	buf  []byte
	same bool
}

func (c *compareWriter) Write(p []byte) (int, error) {
	for q := p; c.same && len(q) > 0; {
		n := min(len(q), 64<<10)
		if cap(c.buf) < n {
			c.buf = make([]byte, 64<<10)
		}
		if _, err := io.ReadFull(c.r, c.buf[:n]); err != nil {
			return 0, err
		}
		c.same = bytes.Equal(q[:n], c.buf[:n])
		q = q[n:]
	}
	return len(p), nil
}

// writeZeroSegments writes the canonical segment encoding of n zeros, in
// segments of zeroUnit bytes and one of the rest.
func writeZeroSegments(w io.Writer, n int64, seg *cache[[]byte]) error {
	for n > 0 {
		k := min(n, zeroUnit)
		if _, err := w.Write(seg.get(k)); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// noneCodec stores objects uncompressed; zeros stay holes of the object.
type noneCodec struct{}

func (noneCodec) segmenter() segmenter { return nil }
func (noneCodec) sink() sink           { return &noneSink{} }
func (noneCodec) zeroObject(io.Writer, int64) error {
	return errors.New("compression none has no zero encoding")
}
func (noneCodec) decoder(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(r), nil }

type noneSink struct {
	f   *os.File
	off int64
	n   int64 // bytes written
}

func (s *noneSink) start(f *os.File) error { s.f, s.off, s.n = f, 0, 0; return nil }

func (s *noneSink) add(raw, _ []byte) error {
	_, err := s.f.WriteAt(raw, s.off)
	s.off += int64(len(raw))
	s.n += int64(len(raw))
	return err
}

func (s *noneSink) addZeros(n int64) error { s.off += n; return nil }

func (s *noneSink) finish(length int64) (int64, error) { return s.n, s.f.Truncate(length) }

// zlibCodec makes zlib streams of independently deflated segments.
type zlibCodec struct{}

// zlibHeader is the zlib header Python's zlib.compress writes at level 6.
var zlibHeader = []byte{0x78, 0x9c}

// deflateEnd is an empty final block with fixed codes: it ends the stream
// after segments that each end in a sync flush.
var deflateEnd = []byte{0x03, 0x00}

// zlibZeroSegment is the canonical deflate segment of n zeros.
var zlibZeroSegment = cache[[]byte]{f: func(n int64) []byte {
	var b bytes.Buffer
	w := must(flate.NewWriter(&b, flate.BestCompression))
	_ = writeZeroBytes(w, n)
	_ = w.Flush()
	return b.Bytes()
}}

func (zlibCodec) segmenter() segmenter {
	if s, ok := zlibSegmenters.Get().(*zlibSegmenter); ok {
		return s
	}
	return &zlibSegmenter{}
}
func (zlibCodec) sink() sink { return &zlibSink{} }

func (zlibCodec) zeroObject(w io.Writer, n int64) error {
	if _, err := w.Write(zlibHeader); err != nil {
		return err
	}
	if err := writeZeroSegments(w, n, &zlibZeroSegment); err != nil {
		return err
	}
	a := newAdler32()
	a.zeros(n)
	_, err := w.Write(binary.BigEndian.AppendUint32(bytes.Clone(deflateEnd), a.sum()))
	return err
}

func (zlibCodec) decoder(r io.Reader) (io.ReadCloser, error) { return kzlib.NewReader(r) }

// zlibSegmenter deflates a segment and appends the Adler-32 of its raw
// bytes, which the sink combines into the object's: workers compute it in
// parallel rather than the writer.
type zlibSegmenter struct{ w *kflate.Writer }

// zlibSegmenters keeps segmenters, and the deflate state each allocates
// once, from one backup to the next.
var zlibSegmenters sync.Pool

func (s *zlibSegmenter) recycle() { zlibSegmenters.Put(s) }

func (s *zlibSegmenter) encode(dst *bytes.Buffer, raw []byte) (int, error) {
	if s.w == nil {
		s.w = must(kflate.NewWriter(dst, kflate.DefaultCompression))
	} else {
		s.w.Reset(dst)
	}
	if _, err := s.w.Write(raw); err != nil {
		return 0, err
	}
	if err := s.w.Flush(); err != nil {
		return 0, err
	}
	n := dst.Len()
	dst.Write(binary.BigEndian.AppendUint32(nil, stdadler32.Checksum(raw)))
	return n, nil
}

type zlibSink struct {
	w     *bufio.Writer
	cw    countWriter
	adler adler32
}

func (s *zlibSink) start(f *os.File) error {
	s.cw = countWriter{w: f}
	s.w = bufio.NewWriterSize(&s.cw, 256<<10)
	s.adler = newAdler32()
	_, err := s.w.Write(zlibHeader)
	return err
}

func (s *zlibSink) add(raw, enc []byte) error {
	n := len(enc) - 4
	s.adler.append(binary.BigEndian.Uint32(enc[n:]), int64(len(raw)))
	_, err := s.w.Write(enc[:n])
	return err
}

func (s *zlibSink) addZeros(n int64) error {
	s.adler.zeros(n)
	return writeZeroSegments(s.w, n, &zlibZeroSegment)
}

func (s *zlibSink) finish(int64) (int64, error) {
	_, _ = s.w.Write(deflateEnd) // a bufio.Writer keeps its first error for Flush
	_, _ = s.w.Write(binary.BigEndian.AppendUint32(nil, s.adler.sum()))
	err := s.w.Flush()
	return s.cw.n, err
}

// adler32 is an Adler-32 checksum built from the checksums of the parts
// of a stream (zlib's adler32_combine), which takes zeros without reading
// them; newAdler32 makes the checksum of nothing.
type adler32 struct{ a, b uint32 }

const adlerMod = 65521

func newAdler32() adler32 { return adler32{a: 1} }

// append adds a part of n bytes whose own checksum is sum.
func (s *adler32) append(sum uint32, n int64) {
	rem := uint64(n % adlerMod)
	a2, b2 := uint64(sum&0xffff), uint64(sum>>16)
	a, b := uint64(s.a), uint64(s.b)
	s.b = uint32((b + b2 + rem*a + 2*adlerMod - rem) % adlerMod)
	s.a = uint32((a + a2 + adlerMod - 1) % adlerMod)
}

// zeros adds n zero bytes.
func (s *adler32) zeros(n int64) { s.append(1|uint32(n%adlerMod)<<16, n) }

func (s *adler32) sum() uint32 { return s.b<<16 | s.a }

// bz2Codec makes concatenations of bz2 streams, one per segment.
type bz2Codec struct{}

// bz2ZeroSegment is the canonical bz2 stream of n zeros.
var bz2ZeroSegment = cache[[]byte]{f: func(n int64) []byte {
	var b bytes.Buffer
	if _, err := (&bz2Segmenter{}).encode(&b, zeros[:n]); err != nil {
		panic(err) // writing to memory cannot fail
	}
	return b.Bytes()
}}

func (bz2Codec) segmenter() segmenter { return &bz2Segmenter{} }
func (bz2Codec) sink() sink           { return &segmentSink{} }

func (bz2Codec) zeroObject(w io.Writer, n int64) error {
	return writeZeroSegments(w, n, &bz2ZeroSegment)
}

func (bz2Codec) decoder(r io.Reader) (io.ReadCloser, error) {
	return io.NopCloser(bzip2.NewReader(r)), nil
}

type bz2Segmenter struct{ w *dbzip2.Writer }

func (s *bz2Segmenter) encode(dst *bytes.Buffer, raw []byte) (int, error) {
	if s.w == nil {
		s.w = must(dbzip2.NewWriter(dst, &dbzip2.WriterConfig{Level: dbzip2.BestCompression}))
	} else if err := s.w.Reset(dst); err != nil {
		return 0, err
	}
	if _, err := s.w.Write(raw); err != nil {
		return 0, err
	}
	err := s.w.Close()
	return dst.Len(), err
}

// segmentSink concatenates segments that need no framing around them.
type segmentSink struct {
	w  *bufio.Writer
	cw countWriter
}

func (s *segmentSink) start(f *os.File) error {
	s.cw = countWriter{w: f}
	s.w = bufio.NewWriterSize(&s.cw, 256<<10)
	return nil
}

func (s *segmentSink) add(_, enc []byte) error {
	_, err := s.w.Write(enc)
	return err
}

func (s *segmentSink) addZeros(n int64) error { return writeZeroSegments(s.w, n, &bz2ZeroSegment) }

func (s *segmentSink) finish(int64) (int64, error) {
	err := s.w.Flush()
	return s.cw.n, err
}

// zstdCodec makes one zstd frame per object.
type zstdCodec struct{}

const (
	zstdMagic      = 0xFD2FB528
	zstdMaxBlock   = 128 << 10
	zstdFCS8       = 0xC0 // frame header descriptor: an 8-byte content size
	zstdWindow128K = 0x38 // window descriptor: 2^(10+7) bytes
	zstdHeaderPad  = 8    // room the sink leaves for the content size
)

func (zstdCodec) segmenter() segmenter { return nil }
func (zstdCodec) sink() sink           { return &zstdSink{} }

// zeroObject writes a frame of RLE blocks of zeros, with its content size.
func (zstdCodec) zeroObject(w io.Writer, n int64) error {
	b := binary.LittleEndian.AppendUint32(nil, zstdMagic)
	b = append(b, zstdFCS8, zstdWindow128K)
	b = binary.LittleEndian.AppendUint64(b, uint64(n))
	for last := n == 0; !last; {
		k := min(n, zstdMaxBlock)
		n -= k
		last = n == 0
		h := uint32(k)<<3 | 1<<1 // an RLE block of k bytes
		if last {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0)
		if len(b) >= 64<<10 || last {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if len(b) > 0 { // n == 0: an empty last raw block
		_, err := w.Write(append(b, 1, 0, 0))
		return err
	}
	return nil
}

func (zstdCodec) decoder(r io.Reader) (io.ReadCloser, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	return d.IOReadCloser(), nil
}

// zstdSink compresses an object as it comes, leaving room before the frame
// for the 8-byte content size it writes into the header at the end, when
// the length is known: python-zstd needs the content size.
type zstdSink struct {
	enc *zstd.Encoder
	f   *os.File
	w   *bufio.Writer
	cw  countWriter
}

func (s *zstdSink) start(f *os.File) error {
	if _, err := f.Seek(zstdHeaderPad, io.SeekStart); err != nil {
		return err
	}
	s.f, s.cw = f, countWriter{w: f}
	s.w = bufio.NewWriterSize(&s.cw, 256<<10)
	if s.enc == nil {
		s.enc = must(zstd.NewWriter(s.w, zstd.WithEncoderConcurrency(2)))
	} else {
		s.enc.Reset(s.w)
	}
	return nil
}

func (s *zstdSink) add(raw, _ []byte) error {
	_, err := s.enc.Write(raw)
	return err
}

func (s *zstdSink) addZeros(n int64) error { return writeZeroBytes(s.enc, n) }

func (s *zstdSink) finish(length int64) (int64, error) {
	if err := s.enc.Close(); err != nil {
		return 0, err
	}
	if err := s.w.Flush(); err != nil {
		return 0, err
	}
	var h [6]byte // magic, frame header descriptor, window descriptor
	if _, err := s.f.ReadAt(h[:], zstdHeaderPad); err != nil {
		return 0, err
	}
	fhd := h[4]
	if binary.LittleEndian.Uint32(h[:]) != zstdMagic || fhd&0xE3 != 0 {
		return 0, fmt.Errorf("zstd frame header %x has a content size, single segment or dictionary", h)
	}
	hdr := append(h[:4:4], fhd|zstdFCS8, h[5])
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(length))
	if _, err := s.f.WriteAt(hdr, 0); err != nil {
		return 0, err
	}
	return s.cw.n + zstdHeaderPad, nil
}
