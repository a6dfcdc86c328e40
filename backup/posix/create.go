package posix

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/extents"
)

// zeroObjectMax is the longest zero object: it bounds the md5 table of
// zeros to this many bytes of hashing, once per process.
const zeroObjectMax = 64 << 20

// prefetchWindow is how much of the source's data is queued for reading
// ahead of the reader: 16 reads of 1 MiB in flight, which this project's
// virtual disk serves at twice the rate of one read at a time.
const prefetchWindow = 16 << 20

// Create backs up the first size bytes of src, a volume or a snapshot of
// one (a regular file or a block device), as backup b: in full, or, when
// b.Parent is set, as an incremental holding only the blocks whose sha256
// differs from the parent's. It returns the prefix to record as the
// backup's service_metadata in Stats.Prefix.
//
// Only src's data is read, once, with reads queued ahead (of an
// incremental with b.Changed, only in the sha blocks those ranges touch);
// holes, and zero runs of 2 MiB or more, become zero objects (see the
// package documentation). Up to Workers segments of 1 MiB are hashed, and as many
// compressed, at once; memory stays bounded by a few segments per worker
// whatever the volume's size.
func Create(ctx context.Context, opts Options, b Backup, src string, size int64) (Stats, error) {
	o, err := opts.resolve()
	if err != nil {
		return Stats{}, err
	}
	if err := checkID(&b); err != nil {
		return Stats{}, err
	}
	if size <= 0 {
		return Stats{}, fmt.Errorf("create backup %s: volume size %d is invalid", b.ID, size)
	}
	if b.Prefix == "" {
		b.Prefix = newPrefix(&b)
	}
	c := &creator{o: &o, b: &b, size: size, changed: []extents.Range{{Length: size}}}
	if b.Parent != nil && b.Changed != nil {
		c.changed = roundOut(b.Changed, int64(o.SHABlockSize), size)
	}
	st, err := c.create(ctx, src)
	if err != nil {
		o.removeFiles(ctx, &b, c.files)
		return Stats{}, fmt.Errorf("create backup %s: %w", b.ID, err)
	}
	return st, nil
}

// creator makes one backup. Its pipeline: a reader reads the source in
// batches of one segment, skipping holes; hashers hash the blocks of
// batches in parallel; the planner compares each block's sha256 with the
// parent's and cuts the changed runs into objects (pieces of data objects,
// zero objects); workers add pieces to their object's md5, in order, and
// compress them; the writer appends them, in order, to the object files.
type creator struct {
	o      *options
	b      *Backup
	size   int64
	src    *volume
	parent *shaReader
	// parentOpen is closed once parent, or parentErr, is set: nil for a
	// full backup.
	parentOpen chan struct{}
	parentErr  error
	sha        *shaWriter
	seg        int64 // segment size: a multiple of the sha block size
	zmin       int64 // shortest zero run made a zero object when it splits data
	zmax       int64 // longest zero object

	// changed are the sha blocks to read, in runs; the others take the
	// parent's sha256. next is the index of the first run not yet passed.
	changed []extents.Range
	next    int

	free   chan []byte   // segment buffers
	work   chan *piece   // raw and zero pieces of data objects, for the workers
	order  chan *piece   // every piece, in order, for the writer
	read   atomic.Int64  // bytes read from the source
	files  []string      // files written, removed if the backup fails
	ahead  chan *os.File // object files created ahead of the writer
	done   chan *os.File // object files written, for closeObjects
	opened []string      // names of the files created ahead
	objs   []map[string]objectMeta

	plan planner
	out  writer
}

// batch is one segment of the source: its bytes (nil when all holes or
// kept), the blocks that read as zeros (those entirely in holes were not
// read), those kept unread as the parent has them (nil when none), and
// the sha256 of the others in hex, as the sha256file lists them, set by a
// hasher before hashed is closed. A batch allKept is instead a run of
// segments whose blocks are all kept, with none of these: one hand-off
// between reader and planner for what is most of the volume in a tracked
// incremental, rather than one a segment, each a wake-up that waited for
// a CPU busy hashing.
type batch struct {
	off     int64
	n       int64
	buf     []byte
	zero    []bool
	kept    []bool
	sums    [][64]byte
	allKept bool
	hashed  chan struct{}
	refs    atomic.Int32 // pieces using buf, plus one while planned
}

// objPlan is an object being planned; id is 0 until its first piece. The
// workers feed md5 with its bytes in order; the one of its first raw piece
// sets raw, which the workers of the later pieces see, as they see md5,
// once the piece before theirs is summed.
type objPlan struct {
	id             int
	offset, length int64
	md5            hash.Hash
	raw            bool // stored uncompressed: its first raw piece did not shrink

	// The planner's own: whether a raw piece was planned, and the summed
	// channel of the last piece handed to the workers.
	started bool
	last    chan struct{}
}

// piece is a unit of the writer's work: raw bytes of a data object, zeros
// of a data object, the end of a data object, or a whole zero object.
type piece struct {
	obj     *objPlan
	raw     []byte
	zeros   int64
	end     bool
	zeroObj bool
	first   bool // the first raw piece of its object: it decides obj.raw
	batch   *batch
	enc     *bytes.Buffer // raw compressed, if it was
	prev    chan struct{} // summed of the object's piece before, if any
	summed  chan struct{} // closed once the piece is in obj.md5
	done    chan struct{}
}

func (c *creator) create(ctx context.Context, src string) (Stats, error) {
	o, b := c.o, c.b
	dir := o.dir(b)
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return Stats{}, err
	}
	if err := os.Chmod(dir, 0o770); err != nil { // as put_container
		return Stats{}, err
	}
	names, err := o.list(b)
	if err != nil {
		return Stats{}, err
	}
	for _, n := range names {
		if strings.HasPrefix(strings.TrimPrefix(n, tmpPrefix), b.Prefix) {
			return Stats{}, fmt.Errorf("container %s already holds %s: delete the backup first", dir, n)
		}
	}
	if c.src, err = openVolume(src, os.O_RDONLY); err != nil {
		return Stats{}, fmt.Errorf("open source: %w", err)
	}
	defer func() { _ = c.src.Close() }()
	if c.src.size < c.size {
		return Stats{}, fmt.Errorf("source %s holds %d bytes, fewer than the volume's %d", src, c.src.size, c.size)
	}
	if b.Parent != nil {
		// The parent's metadata and sha256file are found and opened (a
		// few cold reads and a JSON decode: milliseconds) while the
		// pipeline starts reading the volume; the planner waits for them
		// before its first block.
		c.parentOpen = make(chan struct{})
		go func() {
			defer close(c.parentOpen)
			c.parent, c.parentErr = o.openParent(b.Parent)
		}()
		defer func() {
			<-c.parentOpen
			if c.parent != nil {
				c.parent.close()
			}
		}()
	}
	shaTmp := tmpPrefix + b.Prefix + "_sha256file"
	shaFile, err := c.createFile(shaTmp)
	if err != nil {
		return Stats{}, err
	}
	defer func() { _ = shaFile.Close() }()
	c.sha = newSHAWriter(&writeback{f: shaFile}, shaHeader{
		BackupDescription: nullable(b.Description), BackupID: b.ID, BackupName: nullable(b.Name),
		ChunkSize: o.SHABlockSize, CreatedAt: pyTime(b.CreatedAt), Version: formatVersion, VolumeID: b.VolumeID,
	})
	if err := c.run(ctx); err != nil {
		return Stats{}, err
	}
	if err := c.sha.close(); err != nil {
		return Stats{}, fmt.Errorf("write sha256file: %w", err)
	}
	mdTmp, err := c.writeMetadata()
	if err != nil {
		return Stats{}, fmt.Errorf("write metadata: %w", err)
	}
	// One sync makes the objects, the sha256file and the metadata durable
	// under their temporary names; the renames then complete the backup,
	// the metadata last, and the directory's sync makes them durable. A
	// crash before leaves no metadata, an incomplete backup that
	// cleanup and Delete remove, temporary files included.
	if err := unix.Syncfs(int(shaFile.Fd())); err != nil {
		return Stats{}, fmt.Errorf("sync %s: %w", dir, err)
	}
	for _, r := range [][2]string{{shaTmp, b.Prefix + "_sha256file"}, {mdTmp, b.Prefix + "_metadata"}} {
		if err := os.Rename(filepath.Join(dir, r[0]), filepath.Join(dir, r[1])); err != nil {
			return Stats{}, err
		}
		c.files = append(c.files, r[1])
	}
	if err := syncDir(dir); err != nil {
		return Stats{}, fmt.Errorf("sync %s: %w", dir, err)
	}
	st := c.out.st
	st.Prefix, st.Read, st.Objects = b.Prefix, c.read.Load(), len(c.objs)
	return st, nil
}

// openParent opens the sha256file of a complete parent backup.
func (o *options) openParent(p *Backup) (*shaReader, error) {
	if err := checkID(p); err != nil {
		return nil, err
	}
	prefix, err := o.findPrefix(p)
	if err != nil {
		return nil, fmt.Errorf("parent: %w", err)
	}
	if _, err := readMetadata(filepath.Join(o.dir(p), prefix+"_metadata")); err != nil {
		return nil, fmt.Errorf("parent backup %s: %w", p.ID, err)
	}
	s, err := openSHAFile(filepath.Join(o.dir(p), prefix+"_sha256file"))
	if err != nil {
		return nil, fmt.Errorf("parent backup %s: %w", p.ID, err)
	}
	if s.chunkSize != o.SHABlockSize {
		s.close()
		return nil, fmt.Errorf("hash block size has changed since the last backup. New hash block size: %d. "+
			"Old hash block size: %d. Do a full backup", o.SHABlockSize, s.chunkSize)
	}
	return s, nil
}

// createFile creates a new file in the backup's container, mode 0660 as
// get_object_writer sets it, and remembers it for cleanup.
func (c *creator) createFile(name string) (*os.File, error) {
	f, err := newFile(c.o.dir(c.b), name)
	if err == nil {
		c.files = append(c.files, name)
	}
	return f, err
}

// newFile creates the file name in dir, mode 0660 as get_object_writer
// sets it.
func newFile(dir, name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o660)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o660); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// writeMetadata writes the metadata under a temporary name, which it
// returns: create renames it once the backup's files are durable.
func (c *creator) writeMetadata() (string, error) {
	b := c.b
	var parent *string
	if b.Parent != nil {
		parent = &b.Parent.ID
	}
	md := metadata{
		BackupDescription: nullable(b.Description), BackupID: b.ID, BackupName: nullable(b.Name),
		CreatedAt: pyTime(b.CreatedAt), Objects: c.objs, ParentID: parent, Version: formatVersion,
		VolumeID: b.VolumeID, VolumeMeta: nullable(b.VolumeMeta),
	}
	if md.Objects == nil {
		md.Objects = []map[string]objectMeta{}
	}
	data, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := tmpPrefix + b.Prefix + "_metadata"
	f, err := c.createFile(tmp)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return tmp, err
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// run drives the pipeline to its end.
func (c *creator) run(ctx context.Context) error {
	o := c.o
	sha := int64(o.SHABlockSize)
	c.seg = (zeroUnit + sha - 1) / sha * sha
	c.zmin = 2 * c.seg
	c.zmax = max(min(zeroObjectMax/sha*sha, o.FileSize), sha)
	inFlight := 2*o.Workers + 2
	c.free = make(chan []byte, inFlight+4)
	for range cap(c.free) {
		c.free <- getSegment(c.seg)
	}
	defer func() { // those back: all of them unless the backup failed
		for len(c.free) > 0 {
			putSegment(<-c.free)
		}
	}()
	c.work = make(chan *piece, inFlight)
	c.ahead = make(chan *os.File, 4)
	c.order = make(chan *piece, inFlight)
	c.plan = planner{c: c, rawFrom: -1}
	c.out = writer{c: c, sink: o.codec.sink()}

	g, ctx := errgroup.WithContext(ctx)
	batches, hashes := make(chan *batch, o.Workers+1), make(chan *batch, o.Workers)
	progress := make(chan int64, 1)
	g.Go(func() error { return c.readSource(ctx, batches, hashes, progress) })
	g.Go(func() error {
		c.src.prefetch(progress, c.changed, prefetchWindow)
		return nil
	})
	for range o.Workers {
		g.Go(func() error { return c.hashBlocks(hashes) })
	}
	g.Go(func() error {
		defer close(c.order)
		defer close(c.work)
		return c.plan.run(ctx, batches)
	})
	for range o.Workers {
		g.Go(func() error { return c.worker(ctx) })
	}
	stop := make(chan struct{})
	c.done = make(chan *os.File, 64)
	g.Go(func() error { return c.openAhead(ctx, stop) })
	g.Go(func() error {
		defer close(stop)
		defer close(c.done)
		return c.out.run(ctx)
	})
	g.Go(func() error { return closeObjects(c.done) })
	err := g.Wait()
	for f := range c.ahead {
		_ = f.Close()
	}
	c.files = append(c.files, c.opened...)
	if err != nil {
		return err
	}
	for _, name := range c.opened[len(c.objs):] { // created ahead, never used
		if err := os.Remove(filepath.Join(c.o.dir(c.b), name)); err != nil {
			return err
		}
	}
	c.files = c.files[:len(c.files)-len(c.opened)+len(c.objs)]
	return nil
}

// openAhead creates object files in id order ahead of the writer, so that
// their creation, about 1 ms each on this project's machines, overlaps
// the pipeline's work rather than adding to it.
func (c *creator) openAhead(ctx context.Context, stop <-chan struct{}) error {
	defer close(c.ahead)
	for id := 1; ; id++ {
		name := objectName(c.b.Prefix, id)
		f, err := newFile(c.o.dir(c.b), name)
		if err != nil {
			return err
		}
		c.opened = append(c.opened, name)
		select {
		case c.ahead <- f:
		case <-stop:
			_ = f.Close()
			return nil
		case <-ctx.Done():
			_ = f.Close()
			return ctx.Err()
		}
	}
}

// nextObject returns the file of the next object, which has the name name.
func (c *creator) nextObject(ctx context.Context, name string) (*os.File, error) {
	select {
	case f, ok := <-c.ahead:
		if !ok {
			return nil, errors.New("no object file was created")
		}
		if filepath.Base(f.Name()) != name {
			_ = f.Close()
			return nil, fmt.Errorf("object file %s was created where %s was expected", f.Name(), name)
		}
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readSource reads the source in batches that never cross a chunk
// (FileSize) boundary, reading only the runs of changed blocks that hold
// data. It sends each batch to out, in order, and those holding data to
// hashers, and tells the prefetcher on progress how much it read, when it
// can at once.
func (c *creator) readSource(ctx context.Context, out, hashers chan<- *batch, progress chan<- int64) error {
	defer close(out)
	defer close(hashers)
	defer close(progress)
	sha, chunk := int64(c.o.SHABlockSize), c.o.FileSize
	for off := int64(0); off < c.size; {
		select {
		case progress <- c.read.Load():
		default:
		}
		if end := c.keptUntil(off); end > off { // one batch for the whole run
			bt := &batch{off: off, n: end - off, allKept: true, hashed: make(chan struct{})}
			bt.refs.Store(1)
			close(bt.hashed)
			select {
			case out <- bt:
			case <-ctx.Done():
				return ctx.Err()
			}
			off = end
			continue
		}
		end := min(off+c.seg, (off/chunk+1)*chunk, c.size)
		bt := &batch{off: off, n: end - off, zero: make([]bool, (end-off+sha-1)/sha), hashed: make(chan struct{})}
		runStart := int64(-1) // start of the run of data blocks being gathered
		for i := range bt.zero {
			bo := off + int64(i)*sha
			be := min(bo+sha, end)
			var data bool
			var err error
			if !c.mayChange(bo, be) { // kept: read like a hole, not hashed
				if bt.kept == nil {
					bt.kept = make([]bool, len(bt.zero))
				}
				bt.kept[i] = true
			} else if data, err = c.src.hasData(bo, be); err != nil {
				return err
			}
			bt.zero[i] = !data
			if data && bt.buf == nil {
				select {
				case bt.buf = <-c.free:
				case <-ctx.Done():
					return ctx.Err()
				}
				bt.buf = bt.buf[:end-off]
				clear(bt.buf[:bo-off]) // the hole blocks before
			}
			switch {
			case data && runStart < 0:
				runStart = bo
			case !data && runStart >= 0:
				if err := c.readRun(bt, runStart, bo); err != nil {
					return err
				}
				runStart = -1
			}
			if !data && bt.buf != nil {
				clear(bt.buf[bo-off : be-off])
			}
		}
		if runStart >= 0 {
			if err := c.readRun(bt, runStart, end); err != nil {
				return err
			}
		}
		bt.refs.Store(1)
		to := hashers
		if bt.buf == nil {
			close(bt.hashed)
			to = nil
		}
		for q := out; q != nil || to != nil; {
			select {
			case q <- bt:
				q = nil
			case to <- bt:
				to = nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		off = end
	}
	return nil
}

// keptUntil returns where the run of whole segments from off, a segment's
// start, that touch no changed run ends: off when the segment at off
// touches one. Segments start every c.seg bytes from each chunk's start,
// so that the batches around changed runs are those of a full scan, whose
// pieces, hence compressed segments, they give.
func (c *creator) keptUntil(off int64) int64 {
	for c.next < len(c.changed) && c.changed[c.next].End() <= off {
		c.next++
	}
	if c.next == len(c.changed) {
		return c.size
	}
	x := c.changed[c.next].Offset
	if x <= off {
		return off
	}
	chunk := x / c.o.FileSize * c.o.FileSize
	return max(off, chunk+(x-chunk)/c.seg*c.seg)
}

// mayChange reports whether [off, end), a sha block after those asked
// about before, touches a changed run.
func (c *creator) mayChange(off, end int64) bool {
	for c.next < len(c.changed) && c.changed[c.next].End() <= off {
		c.next++
	}
	return c.next < len(c.changed) && c.changed[c.next].Offset < end
}

// roundOut returns rs, in order, rounded out to whole blocks of size
// block, cut to [0, size) and merged.
func roundOut(rs []extents.Range, block, size int64) []extents.Range {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b extents.Range) int { return cmp.Compare(a.Offset, b.Offset) })
	out := []extents.Range{}
	for _, r := range rs {
		off, end := max(r.Offset/block*block, 0), min((r.End()+block-1)/block*block, size)
		if r.Length <= 0 || off >= end {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End() >= off {
			out[n-1].Length = max(out[n-1].End(), end) - out[n-1].Offset
			continue
		}
		out = append(out, extents.Range{Offset: off, Length: end - off})
	}
	return out
}

// readRun reads the source's [from, to) into bt's buffer.
func (c *creator) readRun(bt *batch, from, to int64) error {
	c.read.Add(to - from)
	return c.src.readFull(bt.buf[from-bt.off:to-bt.off], from)
}

// release drops a reference to bt's buffer, returning it to the pool with
// the last one.
func (c *creator) release(bt *batch) {
	if bt != nil && bt.refs.Add(-1) == 0 && bt.buf != nil {
		c.free <- bt.buf[:cap(bt.buf)]
	}
}

// hashBlocks sets the zero flag and sha256 (in hex) of each block of the
// batches it takes.
func (c *creator) hashBlocks(in <-chan *batch) error {
	sha := int64(c.o.SHABlockSize)
	for bt := range in {
		bt.sums = make([][64]byte, len(bt.zero))
		for i, zero := range bt.zero {
			b := bt.buf[int64(i)*sha : min(int64(i+1)*sha, bt.n)]
			if !zero && !isZero(b) {
				sum := sha256.Sum256(b)
				hex.Encode(bt.sums[i][:], sum[:])
			} else {
				bt.zero[i] = true
			}
		}
		close(bt.hashed)
	}
	return nil
}

// worker adds the pieces the planner hands out to their object's md5, each
// after the piece before it, and compresses the raw ones when the codec
// compresses segments. An object whose first raw piece does not shrink is
// stored uncompressed, as _prepare_output_data stores a chunk that
// compressing does not shrink, and its later pieces are not compressed.
func (c *creator) worker(ctx context.Context) error {
	seg := c.o.codec.segmenter()
	if r, ok := seg.(recycler); ok {
		defer r.recycle()
	}
	for p := range c.work {
		if p.prev != nil {
			select {
			case <-p.prev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if p.raw == nil {
			_ = writeZeroBytes(p.obj.md5, p.zeros)
		} else {
			p.obj.md5.Write(p.raw)
		}
		var err error
		if p.first && seg != nil {
			var stored int
			stored, err = c.encode(seg, p)
			p.obj.raw = stored >= len(p.raw)
		}
		close(p.summed)
		if err == nil && p.raw != nil && !p.first && seg != nil && !p.obj.raw {
			_, err = c.encode(seg, p)
		}
		if err != nil {
			return err
		}
		close(p.done)
	}
	return ctx.Err()
}

// Buffers kept from one backup to the next, as cinder-backup makes them
// one after the other, rather than allocated (and zeroed, and collected)
// by each: a backup's segment buffers are about 10 MiB, its workers'
// deflate states hundreds of KiB each, its encoded segments a segment
// each. A sync.Pool lets the garbage collector have them when idle.
var (
	segments   sync.Pool // *[]byte, segment buffers
	encBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// getSegment returns a buffer of n bytes, of undefined content.
func getSegment(n int64) []byte {
	if b, ok := segments.Get().(*[]byte); ok && int64(cap(*b)) >= n {
		return (*b)[:n]
	}
	return make([]byte, n)
}

// putSegment keeps b for getSegment.
func putSegment(b []byte) { segments.Put(&b) }

// encode compresses p's raw bytes into p.enc, returning how many bytes
// of the object they take.
func (c *creator) encode(seg segmenter, p *piece) (int, error) {
	p.enc = encBuffers.Get().(*bytes.Buffer)
	p.enc.Reset()
	p.enc.Grow(len(p.raw) + len(p.raw)/4096 + 64) // incompressible: stored blocks, 5 bytes each 64 KiB
	n, err := seg.encode(p.enc, p.raw)
	if err != nil {
		return 0, fmt.Errorf("compress %s at %d: %w", c.o.name, p.obj.offset, err)
	}
	return n, nil
}

// planner records each block's sha256, compares it with the parent's and
// cuts the changed runs into objects, as ChunkedBackupDriver.backup does
// (runs of changed sha blocks, never across a chunk), with zero runs of
// zmin or more cut out as zero objects.
type planner struct {
	c       *creator
	ctx     context.Context
	obj     *objPlan // the object being planned, nil if none
	data    int64    // bytes of obj assigned to pieces or to the raw span
	zeros   int64    // zero bytes after those, not yet assigned
	bt      *batch   // the batch being planned
	rawFrom int64    // start of the raw span in bt, -1 if none
	nextID  int
	zeroN   int64 // zeroHex's memo: a length and its sum
	zeroSum [64]byte
}

func (p *planner) run(ctx context.Context, batches <-chan *batch) error {
	p.ctx = ctx
	c := p.c
	if c.parentOpen != nil {
		select {
		case <-c.parentOpen:
		case <-ctx.Done():
			return ctx.Err()
		}
		if c.parentErr != nil {
			return c.parentErr
		}
	}
	sha := int64(c.o.SHABlockSize)
	for bt := range batches {
		select {
		case <-bt.hashed:
		case <-ctx.Done():
			return ctx.Err()
		}
		if bt.allKept {
			if err := p.keep(bt); err != nil {
				return err
			}
			continue
		}
		p.bt = bt
		for i, zero := range bt.zero {
			bo := bt.off + int64(i)*sha
			n := min(sha, bt.off+bt.n-bo)
			var sum []byte // nil when kept
			switch {
			case bt.kept != nil && bt.kept[i]:
			case zero:
				sum = p.zeroHex(n)
			default:
				sum = bt.sums[i][:]
			}
			changed, err := p.record(sum)
			if err != nil {
				return err
			}
			if bo%c.o.FileSize == 0 || !changed {
				if err := p.close(); err != nil {
					return err
				}
			}
			switch {
			case !changed:
			case zero:
				err = p.zeroBlock(bo, n)
			default:
				err = p.dataBlock(bo, n)
			}
			if err != nil {
				return err
			}
		}
		if err := p.flushRaw(); err != nil {
			return err
		}
		c.release(bt)
		p.bt = nil
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	return p.close()
}

// keep plans bt, a run of kept blocks: they end the object being planned
// and take the parent's sha256s.
func (p *planner) keep(bt *batch) error {
	if err := p.close(); err != nil {
		return err
	}
	sha := int64(p.c.o.SHABlockSize)
	for range (bt.n + sha - 1) / sha {
		if _, err := p.record(nil); err != nil {
			return err
		}
	}
	p.c.release(bt)
	return nil
}

// record adds a block's sha256, sum in hex, to the sha256file and reports
// whether it differs from the parent's; a kept block (sum nil), not read,
// takes the parent's entry as it is and is unchanged.
func (p *planner) record(sum []byte) (changed bool, err error) {
	changed = true
	if p.c.parent != nil {
		old, ok, err := p.c.parent.nextHex()
		if err != nil {
			return false, fmt.Errorf("parent: %w", err)
		}
		if !ok {
			return false, errors.New("volume size increased since the last backup. Do a full backup")
		}
		if sum == nil {
			sum = old
		}
		changed = !bytes.Equal(old, sum)
	}
	if err := p.c.sha.addHex(sum); err != nil {
		return false, fmt.Errorf("write sha256file: %w", err)
	}
	return changed, nil
}

// zeroHex is the sha256 in hex of n zero bytes, remembered for the last n
// asked for: the sha block size but for the volume's last block.
func (p *planner) zeroHex(n int64) []byte {
	if n != p.zeroN {
		sum := zeroSHA.get(n)
		hex.Encode(p.zeroSum[:], sum[:])
		p.zeroN = n
	}
	return p.zeroSum[:]
}

func (p *planner) dataBlock(off, n int64) error {
	if p.obj == nil {
		p.obj = &objPlan{offset: off}
	}
	if p.zeros > 0 {
		if p.data == 0 && p.zeros >= p.c.zmin {
			if err := p.zeroObjects(p.obj.offset, p.zeros); err != nil {
				return err
			}
			p.obj, p.zeros = &objPlan{offset: off}, 0
		} else if err := p.absorb(); err != nil {
			return err
		}
	}
	if p.rawFrom < 0 {
		p.rawFrom = off
	}
	p.data += n
	return nil
}

func (p *planner) zeroBlock(off, n int64) error {
	if p.obj == nil {
		p.obj = &objPlan{offset: off}
	}
	p.zeros += n
	switch {
	case p.data > 0 && p.zeros >= p.c.zmin:
		end := p.obj.offset + p.data
		if err := p.endObject(); err != nil {
			return err
		}
		p.obj, p.data = &objPlan{offset: end}, 0
	case p.data == 0 && p.zeros >= p.c.zmax:
		if err := p.zeroObjects(p.obj.offset, p.c.zmax); err != nil {
			return err
		}
		p.obj.offset += p.c.zmax
		p.zeros -= p.c.zmax
	}
	return nil
}

// absorb makes the pending zeros part of the data object: in the raw span
// when they lie in the current batch's buffer, else as a zero piece.
func (p *planner) absorb() error {
	z0 := p.obj.offset + p.data
	if p.bt != nil && p.bt.buf != nil && (p.rawFrom >= 0 || z0 >= p.bt.off) {
		if p.rawFrom < 0 {
			p.rawFrom = z0
		}
	} else if err := p.emit(&piece{obj: p.obj, zeros: p.zeros}); err != nil {
		return err
	}
	p.data += p.zeros
	p.zeros = 0
	return nil
}

// close ends the run being planned.
func (p *planner) close() error {
	if p.obj == nil {
		return nil
	}
	var err error
	if p.data > 0 {
		if p.zeros > 0 {
			err = p.absorb()
		}
		if err == nil {
			err = p.endObject()
		}
	} else if p.zeros > 0 {
		err = p.zeroObjects(p.obj.offset, p.zeros)
	}
	p.obj, p.data, p.zeros = nil, 0, 0
	return err
}

// endObject emits the data object's last raw bytes and its end.
func (p *planner) endObject() error {
	if err := p.flushRaw(); err != nil {
		return err
	}
	p.obj.length = p.data
	return p.emit(&piece{obj: p.obj, end: true})
}

// flushRaw emits the raw span of the current batch.
func (p *planner) flushRaw() error {
	if p.rawFrom < 0 {
		return nil
	}
	end := p.obj.offset + p.data
	raw := p.bt.buf[p.rawFrom-p.bt.off : end-p.bt.off]
	p.rawFrom = -1
	return p.emit(&piece{obj: p.obj, raw: raw, batch: p.bt})
}

// zeroObjects emits zero objects covering [off, off+n).
func (p *planner) zeroObjects(off, n int64) error {
	for n > 0 {
		k := min(n, p.c.zmax)
		if err := p.emit(&piece{obj: &objPlan{offset: off, length: k}, zeroObj: true}); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// emit hands a piece to the writer, and raw ones to the workers first.
func (p *planner) emit(pc *piece) error {
	c := p.c
	if pc.obj.id == 0 {
		p.nextID++
		pc.obj.id = p.nextID
	}
	if pc.batch != nil {
		pc.batch.refs.Add(1)
	}
	pc.done = make(chan struct{})
	if pc.raw != nil || pc.zeros > 0 {
		o := pc.obj
		if o.md5 == nil {
			o.md5 = md5.New()
		}
		pc.first = pc.raw != nil && !o.started
		o.started = o.started || pc.raw != nil
		pc.prev, pc.summed = o.last, make(chan struct{})
		o.last = pc.summed
		select {
		case c.work <- pc:
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
	} else {
		close(pc.done)
	}
	select {
	case c.order <- pc:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// writer writes pieces, in order, into object files.
type writer struct {
	c     *creator
	sink  sink     // the codec's
	none  noneSink // for objects stored uncompressed
	cur   sink     // the data object's, nil until its first raw piece
	zeros int64    // zeros of the data object before its first raw piece
	f     *os.File // the data object being written
	obj   *objPlan
	st    Stats
	ctx   context.Context
}

// run writes the pieces until the planner ends. Whatever ends it, it
// closes the object it was writing: an open file would keep the space of
// a failed backup's objects after Create removes them.
func (w *writer) run(ctx context.Context) error {
	w.ctx = ctx
	defer func() {
		if w.f != nil {
			_ = w.f.Close()
		}
	}()
	for p := range w.c.order {
		select {
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := w.write(p)
		if p.enc != nil {
			encBuffers.Put(p.enc)
		}
		w.c.release(p.batch)
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) write(p *piece) error {
	c := w.c
	name := objectName(c.b.Prefix, p.obj.id)
	if p.zeroObj {
		f, err := c.nextObject(w.ctx, name)
		if err != nil {
			return err
		}
		stored, err := writeZeroObject(c.o.codec, f, p.obj.length)
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := w.close(f); err != nil {
			return err
		}
		w.st.Stored += stored
		w.st.ZeroBytes += p.obj.length
		w.record(name, p.obj, c.o.name, md5Zeros.sum(p.obj.length))
		return nil
	}
	if w.obj != p.obj {
		f, err := c.nextObject(w.ctx, name)
		if err != nil {
			return err
		}
		w.f, w.obj, w.cur, w.zeros = f, p.obj, nil, 0
	}
	var err error
	switch {
	case p.raw != nil:
		if w.cur == nil {
			err = w.begin()
		}
		var enc []byte
		if p.enc != nil {
			enc = p.enc.Bytes()
		}
		if err == nil {
			err = w.cur.add(p.raw, enc)
		}
	case p.zeros > 0 && w.cur == nil:
		w.zeros += p.zeros
	case p.zeros > 0:
		err = w.cur.addZeros(p.zeros)
	case p.end:
		err = w.finish(name)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// begin starts the data object in the sink its first raw piece chose,
// with the zeros before that piece.
func (w *writer) begin() error {
	w.cur = w.sink
	if w.obj.raw {
		w.cur = &w.none
	}
	if err := w.cur.start(w.f); err != nil {
		return err
	}
	if w.zeros > 0 {
		return w.cur.addZeros(w.zeros)
	}
	return nil
}

// finish ends the data object; when compression did not make it smaller
// (its first raw piece shrank, the whole did not) it is rewritten
// uncompressed from the source, as _prepare_output_data stores such chunks.
func (w *writer) finish(name string) error {
	obj, f, sink := w.obj, w.f, w.cur
	w.f, w.obj, w.cur = nil, nil, nil
	sum := hex.EncodeToString(obj.md5.Sum(nil))
	compression := w.c.o.name
	if obj.raw {
		compression = "none"
	}
	stored, err := sink.finish(obj.length)
	if err == nil && stored >= obj.length && compression != "none" {
		stored, err = w.c.rewriteRaw(f, obj, sum)
		compression = "none"
	}
	if err != nil {
		_ = f.Close()
		return err
	}
	if err := w.close(f); err != nil {
		return err
	}
	w.st.Stored += stored
	w.record(name, obj, compression, sum)
	return nil
}

// close hands f, an object file written in full, to closeObjects.
func (w *writer) close(f *os.File) error {
	select {
	case w.c.done <- f:
		return nil
	case <-w.ctx.Done():
		_ = f.Close()
		return w.ctx.Err()
	}
}

// writeback writes to f in order from its start, starting the writeback
// of each writebackStep bytes written (startWriteback), so that the sync
// before the metadata finds little left to write: a 4 GiB volume's
// sha256file is 9 MiB, a fifth of what a 1% incremental writes.
type writeback struct {
	f          *os.File
	off, start int64 // bytes written; where the writeback not started begins
}

// writebackStep is how many bytes writeback writes between two starts.
const writebackStep = 1 << 20

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.start >= writebackStep {
		startWriteback(w.f, w.start, w.off-w.start)
		w.start = w.off
	}
	return n, err
}

// closeObjects starts the writeback of each object file written and closes
// it, apart from the writer, so that the sync before the metadata finds
// little left to write; it returns the first error closing a file.
func closeObjects(files <-chan *os.File) error {
	var err error
	for f := range files {
		startWriteback(f, 0, 0)
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", filepath.Base(f.Name()), cerr)
		}
	}
	return err
}

func (w *writer) record(name string, obj *objPlan, compression, sum string) {
	w.c.objs = append(w.c.objs, map[string]objectMeta{name: {
		Compression: compression, Length: obj.length, MD5: sum, Offset: obj.offset,
	}})
}

// rewriteRaw replaces f's content with the source's bytes of obj, leaving
// zero blocks as holes, and checks they still have the md5 sum.
func (c *creator) rewriteRaw(f *os.File, obj *objPlan, sum string) (int64, error) {
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	buf := make([]byte, c.seg)
	h := md5.New()
	var stored int64
	for off := int64(0); off < obj.length; off += c.seg {
		b := buf[:min(c.seg, obj.length-off)]
		if err := c.src.readFull(b, obj.offset+off); err != nil {
			return 0, err
		}
		c.read.Add(int64(len(b)))
		h.Write(b)
		if isZero(b) {
			continue
		}
		if _, err := f.WriteAt(b, off); err != nil {
			return 0, err
		}
		stored += int64(len(b))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return 0, fmt.Errorf("source changed while it was backed up: bytes %d-%d read again have md5 %s, not %s",
			obj.offset, obj.offset+obj.length, got, sum)
	}
	return stored, f.Truncate(obj.length)
}
