// Package posix implements Cinder's posix backup driver (cinder/backup/
// drivers/posix.py over cinder/backup/chunkeddriver.py) and its on-disk
// format, so that a backup made here restores with Cinder's driver and one
// made by Cinder's driver restores here.
//
// # Format
//
// A backup lives in a container directory under Options.Path, by default
// id[0:2]/id[2:4]/<backup id>. Its files share the prefix
// volume_<volume id>_<YYYYmmddHHMMSS>_backup_<backup id> (Cinder's
// service_metadata): objects <prefix>-00001, -00002, … each holding the
// volume bytes [offset, offset+length) compressed as a whole with the
// algorithm its metadata entry names; <prefix>_sha256file, a JSON list of
// the sha256 of every SHABlockSize block of the volume; and
// <prefix>_metadata, a JSON document listing the objects with their offset,
// length, compression and the md5 of their uncompressed bytes. An
// incremental backup names its parent in parent_id and holds objects only
// for the runs of blocks whose sha256 differs from the parent's; a restore
// applies the full backup and then each incremental on top.
//
// # Compression
//
// As Cinder's _prepare_output_data, an object that compressing does not
// shrink is stored uncompressed, its metadata entry naming compression
// none. Whether it shrinks is judged on the object's first segment of up
// to 1 MiB, compressed before the rest is: when that does not shrink, the
// object is written uncompressed at once and its other segments are not
// compressed, so incompressible data costs no compression and no second
// write; an object whose first segment shrank but the whole did not is
// rewritten uncompressed at its end. An object of more than one segment
// whose first one is incompressible is thus stored uncompressed even if
// the rest would compress (Cinder would compress it). zstd, which
// compresses an object as a whole, is always judged on the whole.
//
// # Zeros
//
// Holes of the source are found with SEEK_DATA/SEEK_HOLE and never read;
// their blocks take the sha256 of a zero block without hashing. A run of
// zero blocks (holes or zero data) of at least 2 MiB, or one that no data
// follows in its run, becomes an object of its own, at most 64 MiB long, written as a canonical encoding of zeros
// made without compressing anything (a sparse file for compression none)
// and whose md5 comes from a table of md5 states of zeros. Cinder's driver
// restores these like any object: they are in its format. A restore
// recognises them by their bytes, checks them without decompressing and,
// on a target that already reads as zeros, writes nothing for them.
//
// # Crashes
//
// Create writes the objects, the sha256file and the metadata, these two
// under temporary names, syncs them all at once, then renames the
// sha256file and last the metadata: a backup whose metadata exists is
// complete. After a crash the container may hold
// objects (the last few possibly empty: files are created ahead of use), a
// sha256file or temporary files (.tmp-<prefix>…) of a backup without
// metadata; Restore refuses such a backup and Delete removes all of
// its files. A failed Create removes what it wrote itself.
package posix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cinder-go/cinder/internal/extents"
)

// Defaults of Cinder's backup options.
const (
	DefaultFileSize     = 61035 * 32768 // backup_file_size
	DefaultSHABlockSize = 32768         // backup_sha_block_size_bytes
	DefaultCompression  = "zlib"        // backup_compression_algorithm
	formatVersion       = "1.0.0"       // ChunkedBackupDriver.DRIVER_VERSION
	tmpPrefix           = ".tmp-"       // temporary names never start with a backup's prefix
)

// Options are the posix driver's settings, named after Cinder's options.
type Options struct {
	// Path is backup_posix_path, the directory holding the containers.
	Path string
	// FileSize is backup_file_size: the most volume bytes one object holds.
	// It must be a multiple of SHABlockSize. 0 means DefaultFileSize.
	FileSize int64
	// SHABlockSize is backup_sha_block_size_bytes, the unit of change
	// tracking for incremental backups. 0 means DefaultSHABlockSize.
	SHABlockSize int
	// Compression is backup_compression_algorithm: none (off, no), zlib
	// (gzip), bz2 (bzip2) or zstd, in any case. "" means zlib.
	Compression string
	// Workers compress and restore objects concurrently. 0 means GOMAXPROCS.
	Workers int
}

// Backup identifies a backup, as Cinder's backups table row does.
type Backup struct {
	ID, VolumeID      string
	Name, Description string // display_name, display_description; "" is null
	CreatedAt         time.Time
	// Container is the directory under Options.Path; "" means
	// id[0:2]/id[2:4]/id, as Cinder's posix driver names it.
	Container string
	// Prefix is the object name prefix (Cinder's service_metadata). Create
	// makes it from VolumeID, CreatedAt (now if zero) and ID; elsewhere ""
	// means it is found by listing the container.
	Prefix string
	// VolumeMeta is Cinder's serialized volume metadata (volume_meta), kept
	// opaque; "" is null.
	VolumeMeta string
	// Parent is the backup an incremental backup is based on, nil for a
	// full one. Create compares the volume with it; Restore follows the
	// metadata's parent_id and uses Parent, when set, to locate the parent.
	Parent *Backup
	// Changed, when not nil, are the only bytes of the volume that may
	// differ from Parent's, as change tracking found them: Create reads and
	// hashes only the sha blocks they touch and takes the parent's sha256
	// for the others. nil means not known: every data extent is read.
	Changed []extents.Range
}

// Stats tell what an operation did.
type Stats struct {
	Prefix     string // the backup's object name prefix (service_metadata)
	Objects    int    // objects written (Create: Cinder's object_count) or read (Restore)
	ZeroBytes  int64  // volume bytes stored as zero objects (Create) or found zero (Restore)
	Read       int64  // bytes read from the source (Create) or from objects (Restore)
	Stored     int64  // bytes of the objects written (Create)
	Written    int64  // bytes written to the target (Restore)
	VolumeMeta string // Restore: the last volume_meta along the chain, full backup first
}

// options are Options with defaults filled in and the codec resolved.
type options struct {
	Options
	codec codec
	name  string // the compression metadata records: lower-cased, or none
}

// resolve validates o and fills in its defaults.
func (o Options) resolve() (options, error) {
	if o.Path == "" {
		return options{}, errors.New("posix backup: backup_posix_path is not set")
	}
	if o.FileSize == 0 {
		o.FileSize = DefaultFileSize
	}
	if o.SHABlockSize == 0 {
		o.SHABlockSize = DefaultSHABlockSize
	}
	if o.Compression == "" {
		o.Compression = DefaultCompression
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.SHABlockSize < 0 || o.FileSize < 0 || o.FileSize%int64(o.SHABlockSize) != 0 {
		return options{}, fmt.Errorf("posix backup: backup_file_size %d is not a multiple of backup_sha_block_size_bytes %d",
			o.FileSize, o.SHABlockSize)
	}
	c, err := codecFor(o.Compression)
	if err != nil {
		return options{}, err
	}
	name := strings.ToLower(o.Compression)
	if _, none := c.(noneCodec); none {
		name = "none"
	}
	return options{Options: o, codec: c, name: name}, nil
}

// container returns b's container, relative to the backup path.
func (b *Backup) container() string {
	if b.Container != "" {
		return b.Container
	}
	return DefaultContainer(b.ID)
}

// DefaultContainer is the container of backup id when none is given,
// id[0:2]/id[2:4]/id, which Cinder records in the backup's row. id must
// have at least 4 characters.
func DefaultContainer(id string) string { return filepath.Join(id[0:2], id[2:4], id) }

// dir returns the directory of b's container.
func (o *options) dir(b *Backup) string { return filepath.Join(o.Path, b.container()) }

// checkID refuses ids that would not name a container of their own.
func checkID(b *Backup) error {
	if len(b.ID) < 4 || strings.ContainsAny(b.ID, "/\x00") || b.ID == ".." {
		return fmt.Errorf("posix backup: invalid backup id %q", b.ID)
	}
	return nil
}

// newPrefix makes the object name prefix as Cinder's
// _generate_object_name_prefix does, from the backup's creation time.
func newPrefix(b *Backup) string {
	t := b.CreatedAt
	if t.IsZero() {
		t = time.Now()
	}
	return fmt.Sprintf("volume_%s_%s_backup_%s", b.VolumeID, t.UTC().Format("20060102150405"), b.ID)
}

// prefixRE matches the names of any attempt at the backup with id id.
func prefixRE(id string) *regexp.Regexp { return nameRE(regexp.QuoteMeta(id)) }

// nameRE matches the names of the files of backups whose id matches the
// expression id: objects, sha256file, metadata and their temporary names.
// Its first group is the prefix, its second the backup id.
func nameRE(id string) *regexp.Regexp {
	return regexp.MustCompile(`^(?:` + regexp.QuoteMeta(tmpPrefix) + `)?(volume_.*_[0-9]{14}_backup_(` +
		id + `))(?:-[0-9]{5,}|_metadata|_sha256file)$`)
}

// findPrefix returns b's prefix: b.Prefix or, when empty, the one of the
// only metadata file of b in its container.
func (o *options) findPrefix(b *Backup) (string, error) {
	if b.Prefix != "" {
		return b.Prefix, nil
	}
	names, err := o.list(b)
	if err != nil {
		return "", err
	}
	re := prefixRE(b.ID)
	var found []string
	for _, n := range names {
		if m := re.FindStringSubmatch(n); m != nil && n == m[1]+"_metadata" {
			found = append(found, m[1])
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("backup %s: no metadata in container %s: the backup is missing or incomplete", b.ID, o.dir(b))
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("backup %s: container %s holds %d metadata files (%s)", b.ID, o.dir(b), len(found), strings.Join(found, ", "))
}

// list returns the names in b's container.
func (o *options) list(b *Backup) ([]string, error) {
	entries, err := os.ReadDir(o.dir(b))
	if err != nil {
		return nil, fmt.Errorf("backup %s: list container: %w", b.ID, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// objectName names the id'th object (from 1) of a backup, as _backup_chunk.
func objectName(prefix string, id int) string { return fmt.Sprintf("%s-%05d", prefix, id) }

// Delete removes every file of backup b, complete or not, and then its
// container directories that are left empty. Refusing to delete a backup
// that has incremental children is the caller's rule.
func Delete(ctx context.Context, opts Options, b Backup) error {
	o, err := opts.resolve()
	if err != nil {
		return err
	}
	if err := checkID(&b); err != nil {
		return err
	}
	names, err := o.list(&b)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	re := prefixRE(b.ID)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete backup %s: %w", b.ID, err)
		}
		m := re.FindStringSubmatch(n)
		if m == nil || b.Prefix != "" && m[1] != b.Prefix {
			continue
		}
		if err := os.Remove(filepath.Join(o.dir(&b), n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete backup %s: %w", b.ID, err)
		}
	}
	o.removeEmptyDirs(ctx, &b)
	return nil
}

// removeEmptyDirs removes b's container directory and its parents below
// the backup path while they are empty.
func (o *options) removeEmptyDirs(ctx context.Context, b *Backup) {
	dir := b.container()
	for dir != "." && dir != "/" && !strings.HasPrefix(dir, "..") {
		err := os.Remove(filepath.Join(o.Path, dir))
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) || errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			slog.WarnContext(ctx, "posix backup: remove empty container directory", "dir", dir, "err", err)
			return
		}
		dir = filepath.Dir(dir)
	}
}

// removeFiles removes the named files of b's container, logging failures:
// it cleans up after a failed Create.
func (o *options) removeFiles(ctx context.Context, b *Backup, names []string) {
	for _, n := range slices.Compact(names) {
		if err := os.Remove(filepath.Join(o.dir(b), n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			slog.WarnContext(ctx, "posix backup: remove file of failed backup", "backup", b.ID, "file", n, "err", err)
		}
	}
	o.removeEmptyDirs(ctx, b)
}
