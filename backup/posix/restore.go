package posix

import (
	"bufio"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Restore writes backup b, and through its parent_id chain the backups it
// is incremental to, into the first size bytes of dst, a regular file or a
// block device. sparse says dst already reads as zeros (a new thin volume):
// zeros are then not written and dst stays sparse; otherwise every byte is
// written or zeroed.
//
// Each byte is written once, from the newest backup holding it, rather than
// layered as Cinder's restore does, so objects wholly overwritten by newer
// backups are not read. Every object read is checked against the sha256s
// of its backup's sha256file, block by block before the block is written,
// and against its md5; a mismatch, or an object missing from its container
// or not listed in the metadata, fails the restore naming the object.
func Restore(ctx context.Context, opts Options, b Backup, dst string, size int64, sparse bool) (Stats, error) {
	o, err := opts.resolve()
	if err != nil {
		return Stats{}, err
	}
	r := &restorer{o: &o, size: size, sparse: sparse}
	if err := r.restore(ctx, &b, dst); err != nil {
		return Stats{}, fmt.Errorf("restore backup %s: %w", b.ID, err)
	}
	st := Stats{Prefix: r.layers[0].prefix, Objects: int(r.objects.Load()), ZeroBytes: r.zeroBytes.Load(),
		Read: r.read.Load(), Written: r.written.Load()}
	for _, l := range slices.Backward(r.layers) {
		if l.md.VolumeMeta != nil {
			st.VolumeMeta = *l.md.VolumeMeta
		}
	}
	return st, nil
}

// span is the byte range [off, end) of the volume.
type span struct{ off, end int64 }

// layer is one backup of the chain.
type layer struct {
	b      *Backup
	prefix string
	dir    string
	md     *metadata
	objs   []object
	need   [][]span // per object, the ranges no newer backup holds
}

type restorer struct {
	o      *options
	size   int64
	sparse bool
	dst    *volume
	layers []*layer // the backup asked for first, the full backup last

	objects, zeroBytes, read, written atomic.Int64
}

// job is an object to restore, with the sha256s its blocks must have.
type job struct {
	l     *layer
	obj   object
	need  []span
	block int64 // the sha block size of the object's backup
	sums  [][32]byte
}

func (r *restorer) restore(ctx context.Context, b *Backup, dst string) error {
	if err := r.chain(b); err != nil {
		return err
	}
	covered, err := r.plan()
	if err != nil {
		return err
	}
	if r.dst, err = openVolume(dst, os.O_WRONLY); err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer func() { _ = r.dst.Close() }()
	if r.dst.size < r.size {
		if r.dst.block {
			return fmt.Errorf("target %s holds %d bytes, fewer than the volume's %d", dst, r.dst.size, r.size)
		}
		if err := r.dst.Truncate(r.size); err != nil {
			return fmt.Errorf("extend target: %w", err)
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	jobs, handed := make(chan *job, r.o.Workers), make(chan int, 1)
	g.Go(func() error {
		defer close(jobs)
		return r.dispatch(ctx, jobs, handed)
	})
	g.Go(func() error {
		r.prefetch(handed)
		return nil
	})
	// The bytes of each object restored start for the disk at once, from
	// a goroutine apart, as the workers are mostly busy hashing: the final
	// sync then finds little left to write.
	var wb sync.WaitGroup
	written := make(chan span, 64)
	wb.Go(func() {
		for s := range written {
			startWriteback(r.dst.File, s.off, s.end-s.off)
		}
	})
	for range r.o.Workers {
		g.Go(func() error {
			buf, br := make([]byte, zeroUnit), bufio.NewReaderSize(nil, 256<<10)
			for j := range jobs {
				if err := r.restoreObject(ctx, j, buf, br); err != nil {
					return fmt.Errorf("object %s of backup %s: %w", j.obj.name, j.l.b.ID, err)
				}
				select {
				case written <- span{j.obj.Offset, j.obj.Offset + j.obj.Length}:
				default: // a hint: never wait for it
				}
			}
			return ctx.Err()
		})
	}
	if !r.sparse { // bytes no backup holds read as zeros
		g.Go(func() error {
			for _, s := range subtract(span{0, r.size}, covered) {
				if err := r.dst.zero(s.off, s.end-s.off); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err = g.Wait()
	close(written)
	wb.Wait()
	if err != nil {
		return err
	}
	if err := unix.Fdatasync(int(r.dst.Fd())); err != nil {
		return fmt.Errorf("sync target: %w", err)
	}
	return nil
}

// chain reads the metadata of b and of the backups it is incremental to,
// checking each container holds exactly the objects its metadata lists
// (as _restore_v1 does).
func (r *restorer) chain(b *Backup) error {
	seen := map[string]bool{}
	for cur := b; ; {
		if err := checkID(cur); err != nil {
			return err
		}
		if seen[cur.ID] {
			return fmt.Errorf("backup %s is its own ancestor", cur.ID)
		}
		seen[cur.ID] = true
		prefix, err := r.o.findPrefix(cur)
		if err != nil {
			return err
		}
		l := &layer{b: cur, prefix: prefix, dir: r.o.dir(cur)}
		if l.md, err = readMetadata(filepath.Join(l.dir, prefix+"_metadata")); err != nil {
			return fmt.Errorf("backup %s: %w", cur.ID, err)
		}
		if l.objs, err = l.md.objects(); err != nil {
			return fmt.Errorf("backup %s: %w", cur.ID, err)
		}
		if err := r.o.checkObjects(l); err != nil {
			return err
		}
		r.layers = append(r.layers, l)
		if l.md.ParentID == nil || *l.md.ParentID == "" {
			return nil
		}
		next := cur.Parent
		switch {
		case next == nil:
			next = &Backup{ID: *l.md.ParentID}
		case next.ID != *l.md.ParentID:
			return fmt.Errorf("backup %s: metadata names parent %s, not %s", cur.ID, *l.md.ParentID, next.ID)
		}
		cur = next
	}
}

// checkObjects compares the objects in l's container with its metadata's.
func (o *options) checkObjects(l *layer) error {
	names, err := o.list(l.b)
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(l.objs))
	for _, obj := range l.objs {
		listed[obj.name] = true
	}
	for _, n := range names {
		if !strings.HasPrefix(n, l.prefix) || n == l.prefix+"_metadata" || n == l.prefix+"_sha256file" {
			continue
		}
		if !listed[n] {
			return fmt.Errorf("backup %s: container %s holds object %s, which its metadata does not list", l.b.ID, l.dir, n)
		}
		delete(listed, n)
	}
	for _, obj := range l.objs { // in metadata order, for a stable message
		if listed[obj.name] {
			return fmt.Errorf("backup %s: object %s is missing from container %s", l.b.ID, obj.name, l.dir)
		}
	}
	return nil
}

// plan finds, for every object, the ranges that no newer backup holds, and
// returns the ranges that some backup holds.
func (r *restorer) plan() ([]span, error) {
	var covered []span
	for _, l := range r.layers {
		l.need = make([][]span, len(l.objs))
		var own []span
		for i, obj := range l.objs {
			s := span{obj.Offset, obj.Offset + obj.Length}
			if obj.Offset < 0 || obj.Length <= 0 || s.end > r.size {
				return nil, fmt.Errorf("backup %s: object %s holds bytes %d-%d, outside the volume's %d",
					l.b.ID, obj.name, s.off, s.end, r.size)
			}
			l.need[i] = subtract(s, covered)
			own = append(own, s)
		}
		covered = union(covered, own)
	}
	return covered, nil
}

// subtract returns the parts of s outside covered, which is sorted and
// disjoint.
func subtract(s span, covered []span) []span {
	var out []span
	i, _ := slices.BinarySearchFunc(covered, s.off, func(c span, off int64) int {
		switch {
		case c.end <= off:
			return -1
		case c.off > off:
			return 1
		}
		return 0
	})
	for ; i < len(covered) && covered[i].off < s.end && s.off < s.end; i++ {
		if c := covered[i]; c.off > s.off {
			out = append(out, span{s.off, c.off})
		}
		s.off = max(s.off, covered[i].end)
	}
	if s.off < s.end {
		out = append(out, s)
	}
	return out
}

// union merges spans into covered, returning a sorted, disjoint list.
func union(covered, spans []span) []span {
	all := slices.Concat(covered, spans)
	slices.SortFunc(all, func(a, b span) int { return cmp.Compare(a.off, b.off) })
	var out []span
	for _, s := range all {
		if n := len(out); n > 0 && s.off <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// needed yields the objects that hold needed bytes, as layer and index,
// in the order they are restored: the full backup's first.
func (r *restorer) needed() iter.Seq2[*layer, int] {
	return func(yield func(*layer, int) bool) {
		for _, l := range slices.Backward(r.layers) {
			for i := range l.objs {
				if len(l.need[i]) > 0 && !yield(l, i) {
					return
				}
			}
		}
	}
}

// dispatch hands out the needed objects, each with the sha256s of its
// blocks read from its backup's sha256file, and tells the prefetcher on
// handed how many it handed out, when it can at once.
func (r *restorer) dispatch(ctx context.Context, jobs chan<- *job, handed chan<- int) error {
	defer close(handed)
	var (
		cur  *layer
		path string
		shas *shaReader
		n    int
	)
	defer func() {
		if shas != nil {
			shas.close()
		}
	}()
	handed <- 0 // the prefetcher starts before the first object
	for l, i := range r.needed() {
		obj := l.objs[i]
		if l != cur {
			if shas != nil {
				shas.close()
			}
			cur, path = l, filepath.Join(l.dir, l.prefix+"_sha256file")
			var err error
			if shas, err = openSHAFile(path); err != nil {
				return fmt.Errorf("backup %s: %w", l.b.ID, err)
			}
		}
		bs := int64(shas.chunkSize)
		if obj.Offset%bs != 0 {
			return fmt.Errorf("backup %s: object %s starts at %d, not on a sha256 block (%d bytes)", l.b.ID, obj.name, obj.Offset, bs)
		}
		first := int(obj.Offset / bs)
		if first < shas.n { // objects out of offset order: read the list again
			shas.close()
			var err error
			if shas, err = openSHAFile(path); err != nil {
				return fmt.Errorf("backup %s: %w", l.b.ID, err)
			}
		}
		j := &job{l: l, obj: obj, need: l.need[i], block: bs, sums: make([][32]byte, (obj.Length+bs-1)/bs)}
		for shas.n < first+len(j.sums) {
			sum, ok, err := shas.next()
			if err != nil {
				return fmt.Errorf("backup %s: %w", l.b.ID, err)
			}
			if !ok {
				return fmt.Errorf("backup %s: sha256file %s lists %d blocks, fewer than object %s covers", l.b.ID, path, shas.n, obj.name)
			}
			if k := shas.n - 1 - first; k >= 0 {
				j.sums[k] = sum
			}
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
		n++
		select {
		case handed <- n:
		default:
		}
	}
	return nil
}

// prefetchObjects bounds the objects opened ahead of the workers, of which
// most may be the few bytes of a zero object.
const prefetchObjects = 64

// prefetch has the kernel read the needed objects ahead of the workers,
// in the order dispatch hands them out, so that many short objects are
// read at once rather than each when a worker opens it. It keeps
// prefetchWindow bytes of objects (at most that much of each, the
// kernel's own readahead going on from there), and at most
// prefetchObjects objects, queued beyond the count of objects dispatch
// reports on handed, until handed is closed. It is a hint: an object that
// cannot be opened is left to its worker to report.
func (r *restorer) prefetch(handed <-chan int) {
	next, stop := iter.Pull2(r.needed())
	defer stop()
	var (
		sizes []int64 // bytes queued for each object prefetched, not yet handed out
		ahead int64   // their sum
		done  int     // objects handed out
	)
	for n := range handed {
		for ; done < n; done++ {
			if len(sizes) > 0 {
				ahead -= sizes[0]
				sizes = sizes[1:]
			} else if _, _, ok := next(); !ok {
				return
			}
		}
		for ahead < prefetchWindow && len(sizes) < prefetchObjects {
			l, i, ok := next()
			if !ok {
				break
			}
			k := prefetchFile(filepath.Join(l.dir, l.objs[i].name))
			sizes = append(sizes, k)
			ahead += k
		}
	}
}

// prefetchFile queues the reading of the first prefetchWindow bytes of the
// file path and returns how many it queued.
func prefetchFile(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	n := min(fi.Size(), prefetchWindow)
	if unix.Fadvise(int(f.Fd()), 0, n, unix.FADV_WILLNEED) != nil {
		return 0
	}
	return n
}

// restoreObject checks one object and writes its needed ranges, reading
// it through the worker's own br and buf.
func (r *restorer) restoreObject(ctx context.Context, j *job, buf []byte, br *bufio.Reader) error {
	f, err := os.Open(filepath.Join(j.l.dir, j.obj.name))
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	r.objects.Add(1)
	r.read.Add(fi.Size())
	c, err := codecFor(j.obj.Compression)
	if err != nil {
		return err
	}
	zero, err := isZeroObject(c, f, fi.Size(), j.obj.Length)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if zero {
		return r.restoreZeros(j)
	}
	br.Reset(f)
	rd, err := c.decoder(br)
	if err != nil {
		return fmt.Errorf("decompress %s: %w", j.obj.Compression, err)
	}
	defer func() { _ = rd.Close() }()
	h := md5.New()
	w := runWriter{r: r, need: j.need}
	buf = buf[:len(buf)/int(j.block)*int(j.block)]
	if len(buf) == 0 {
		buf = make([]byte, j.block)
	}
	for done := int64(0); done < j.obj.Length; {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := buf[:min(int64(len(buf)), j.obj.Length-done)]
		if _, err := io.ReadFull(rd, b); err != nil {
			return fmt.Errorf("decompress %s at byte %d of %d: %w", j.obj.Compression, done, j.obj.Length, err)
		}
		h.Write(b)
		w.base, w.baseOff = b, j.obj.Offset+done
		for k := int64(0); k < int64(len(b)); k += j.block {
			blk := b[k:min(k+j.block, int64(len(b)))]
			i := (done + k) / j.block
			zero := isZero(blk)
			if got := blockSHA(blk, zero); got != j.sums[i] {
				return fmt.Errorf("sha256 mismatch in block %d (volume offset %d): the sha256file records %x, the data has %x",
					i, j.obj.Offset+done+k, j.sums[i], got)
			}
			if err := w.put(j.obj.Offset+done+k, int64(len(blk)), zero); err != nil {
				return err
			}
		}
		if !w.zero { // a data run must be written while base holds it
			if err := w.flush(); err != nil {
				return err
			}
		}
		done += int64(len(b))
	}
	if err := w.flush(); err != nil {
		return err
	}
	if n, err := rd.Read(buf[:1]); n > 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("more data than its length")
		}
		return fmt.Errorf("decompress %s after %d bytes: %w", j.obj.Compression, j.obj.Length, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != j.obj.MD5 {
		return fmt.Errorf("md5 mismatch: the metadata records %s, the data has %s", j.obj.MD5, got)
	}
	return nil
}

// blockSHA is the sha256 of a block, without hashing it when it is zero.
func blockSHA(b []byte, zero bool) [32]byte {
	if zero {
		return zeroSHA.get(int64(len(b)))
	}
	return sha256.Sum256(b)
}

// restoreZeros restores a zero object, checking its md5 and sha256s
// without reading any zeros.
func (r *restorer) restoreZeros(j *job) error {
	if want := md5Zeros.sum(j.obj.Length); want != j.obj.MD5 {
		return fmt.Errorf("md5 mismatch: the metadata records %s, the data (%d zero bytes) has %s", j.obj.MD5, j.obj.Length, want)
	}
	for i, sum := range j.sums {
		n := min(j.block, j.obj.Length-int64(i)*j.block)
		if sum != zeroSHA.get(n) {
			return fmt.Errorf("sha256 mismatch in block %d (volume offset %d): the sha256file records %x, the data is zeros",
				i, j.obj.Offset+int64(i)*j.block, sum)
		}
	}
	r.zeroBytes.Add(j.obj.Length)
	if r.sparse {
		return nil
	}
	for _, s := range j.need {
		if err := r.dst.zero(s.off, s.end-s.off); err != nil {
			return err
		}
	}
	return nil
}

// runWriter writes an object's decoded bytes to the target, only within
// its needed ranges, gathering blocks into runs: data runs are written,
// zero runs zeroed (or skipped on a sparse target).
type runWriter struct {
	r       *restorer
	need    []span
	i       int    // need[:i] ends before the bytes put so far
	base    []byte // the decoded bytes at hand, starting at volume offset baseOff
	baseOff int64
	run     span // the pending run
	zero    bool // the pending run is zeros
}

// put adds the n bytes at off, zero or not, to the runs.
func (w *runWriter) put(off, n int64, zero bool) error {
	for w.i < len(w.need) && w.need[w.i].end <= off {
		w.i++
	}
	for _, s := range w.need[w.i:] {
		if s.off >= off+n {
			break
		}
		from, to := max(s.off, off), min(s.end, off+n)
		if w.run.end == from && w.zero == zero && w.run.end > w.run.off {
			w.run.end = to
			continue
		}
		if err := w.flush(); err != nil {
			return err
		}
		w.run, w.zero = span{from, to}, zero
	}
	return nil
}

// flush writes the pending run; a data run must lie in base.
func (w *runWriter) flush() error {
	s := w.run
	w.run = span{}
	if s.end <= s.off {
		return nil
	}
	if w.zero {
		if w.r.sparse {
			return nil
		}
		return w.r.dst.zero(s.off, s.end-s.off)
	}
	if _, err := w.r.dst.WriteAt(w.base[s.off-w.baseOff:s.end-w.baseOff], s.off); err != nil {
		return err
	}
	w.r.written.Add(s.end - s.off)
	return nil
}
