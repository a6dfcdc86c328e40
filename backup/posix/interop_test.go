package posix

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cinder-go/cinder/internal/extents"
)

// cinder runs Cinder's own PosixBackupDriver, from Debian's python3-cinder,
// through testdata/cinder_posix.py. The script mocks only what stands for
// Cinder's database (the DB engine, db.volume_get, objects.Backup.get_by_id
// for the parent chain, the Backup rows' save and refresh) and the usage
// notifications (RPC): backup() and restore() of ChunkedBackupDriver read
// and write the objects, metadata and sha256file themselves.
type cinder struct {
	t    *testing.T
	opts Options
}

const python = "/usr/bin/python3"

var script = filepath.Join("testdata", "cinder_posix.py")

// newCinder skips the test when Cinder's driver cannot be imported, unless
// CINDER_TEST_REQUIRE_SERVICES=1 asks for it to fail instead.
func newCinder(t *testing.T, opts Options) *cinder {
	t.Helper()
	if out, err := exec.Command(python, script, "check").CombinedOutput(); err != nil {
		msg := "Cinder's posix backup driver is not importable by " + python +
			" (install Debian's python3-cinder): " + err.Error() + "\n" + string(out)
		if os.Getenv("CINDER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return &cinder{t: t, opts: opts}
}

// row is a backup as the script's fake database holds it.
type row struct {
	ID        string  `json:"id"`
	VolumeID  string  `json:"volume_id"`
	Container string  `json:"container"`
	Prefix    string  `json:"prefix,omitempty"`
	ParentID  *string `json:"parent_id"`
}

func rowOf(b Backup, prefix string) row {
	r := row{ID: b.ID, VolumeID: b.VolumeID, Container: b.container(), Prefix: prefix}
	if b.Parent != nil {
		r.ParentID = &b.Parent.ID
	}
	return r
}

// run runs the script's command on the volume file with backup b, whose
// ancestors are chain, and returns what it prints.
func (c *cinder) run(cmd, volume string, b row, chain ...row) []byte {
	c.t.Helper()
	conf, err := json.Marshal(map[string]any{
		"path": c.opts.Path, "file_size": c.opts.FileSize, "sha_block_size": DefaultSHABlockSize,
		"compression": c.opts.Compression, "volume": volume, "backup": b, "chain": chain,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.t.TempDir(), "conf.json")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		c.t.Fatal(err)
	}
	out, err := exec.Command(python, script, cmd, path).Output()
	if err != nil {
		stderr := ""
		if e, ok := err.(*exec.ExitError); ok {
			stderr = string(e.Stderr)
		}
		c.t.Fatalf("Cinder's driver: %s: %v\n%s", cmd, err, stderr)
	}
	return out
}

// backup makes backup b of volume with Cinder's driver and returns its prefix.
func (c *cinder) backup(volume string, b Backup, chain ...row) string {
	var res struct{ Prefix string }
	if err := json.Unmarshal(c.run("backup", volume, rowOf(b, ""), chain...), &res); err != nil {
		c.t.Fatal(err)
	}
	return res.Prefix
}

// TestCinderRestoresOurs has Cinder's driver restore full backups made
// here in each compression, onto a target full of stale bytes.
func TestCinderRestoresOurs(t *testing.T) {
	for _, compression := range []string{"none", "zlib", "bz2", "zstd"} {
		t.Run(compression, func(t *testing.T) {
			opts := testOptions(t, compression)
			cin := newCinder(t, opts)
			dir, src, want := newVolume(t)
			b := testBackup("e1000000-0000-4000-8000-000000000001", nil)
			st := mustCreate(t, opts, b, src)
			dst := filepath.Join(dir, "restored")
			write(t, dst, 0, random(7, testSize))
			cin.run("restore", dst, rowOf(b, st.Prefix))
			sameContent(t, dst, want)
		})
	}
}

// TestCinderChain alternates the two drivers along an incremental chain:
// each backs up on top of the other's backup, and each restores the
// other's, so each reads the other's metadata and sha256file.
func TestCinderChain(t *testing.T) {
	opts := testOptions(t, "zlib")
	cin := newCinder(t, opts)
	dir, src, _ := newVolume(t)

	b1 := testBackup("f1000000-0000-4000-8000-000000000001", nil) // here
	st1 := mustCreate(t, opts, b1, src)
	b1.Prefix = st1.Prefix

	write(t, src, 9*mib, text(5, 50*kib))
	write(t, src, 100*kib, random(6, 50*kib))
	punch(t, src, 12*mib, 64*kib)
	v2 := content(t, src)
	b2 := testBackup("f2000000-0000-4000-8000-000000000002", &b1) // Cinder's, on ours
	b2.Prefix = cin.backup(src, b2, rowOf(b1, b1.Prefix))
	got := filepath.Join(dir, "v2")
	sparseFile(t, got, testSize)
	mustRestore(t, opts, b2, got, true)
	sameContent(t, got, v2)

	write(t, src, 2*mib, text(8, 300*kib))
	punch(t, src, 0, mib)
	v3 := content(t, src)
	b3 := testBackup("f3000000-0000-4000-8000-000000000003", &b2) // ours, on Cinder's
	st3, err := Create(context.Background(), opts, b3, src, testSize)
	if err != nil {
		t.Fatal(err)
	}
	got = filepath.Join(dir, "v3")
	write(t, got, 0, random(9, testSize))
	cin.run("restore", got, rowOf(b3, st3.Prefix), rowOf(b2, b2.Prefix), rowOf(b1, b1.Prefix))
	sameContent(t, got, v3)

	zopts := opts
	zopts.Compression = "zstd"
	b4 := testBackup("f4000000-0000-4000-8000-000000000004", nil) // Cinder's full, zstd
	newCinder(t, zopts).backup(src, b4)
	got = filepath.Join(dir, "v4")
	write(t, got, 0, random(10, testSize))
	mustRestore(t, zopts, b4, got, false)
	sameContent(t, got, v3)
}

// TestCinderRestoresTrackedIncremental: Cinder's driver restores an
// incremental made here with changed ranges (change tracking) on top of
// the full backup.
func TestCinderRestoresTrackedIncremental(t *testing.T) {
	opts := testOptions(t, "zlib")
	cin := newCinder(t, opts)
	dir, src, _ := newVolume(t)
	b1 := testBackup("e1000000-0000-4000-8000-000000000001", nil)
	b1.Prefix = mustCreate(t, opts, b1, src).Prefix

	write(t, src, 9*mib+5, text(5, 50*kib))
	punch(t, src, 6*mib+576*kib, 128*kib)
	want := content(t, src)
	b2 := testBackup("e2000000-0000-4000-8000-000000000002", &b1)
	b2.Changed = []extents.Range{{Offset: 9*mib + 5, Length: 50 * kib}, {Offset: 6*mib + 576*kib, Length: 128 * kib}}
	st := mustCreate(t, opts, b2, src)
	if st.Read > 200*kib {
		t.Fatalf("the tracked incremental read %d bytes, want only its ranges' blocks", st.Read)
	}
	got := filepath.Join(dir, "restored")
	write(t, got, 0, random(9, testSize))
	cin.run("restore", got, rowOf(b2, st.Prefix), rowOf(b1, b1.Prefix))
	sameContent(t, got, want)
}
