package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/backup/posix"
	"github.com/cinder-go/cinder/drivers/volcopy"
	"github.com/cinder-go/cinder/internal/testfile"
)

// testSize is the size of the test's volumes: the bench's layouts, small.
const testSize = 64 * mib

// slack is what a sparse destination may allocate beyond the source's data:
// a few filesystem blocks of metadata.
const slack = 64 << 10

// inputs builds the bench's S and F sources at testSize.
func inputs(t *testing.T) (s, f input) {
	t.Helper()
	dir := t.TempDir()
	s, err := makeSparse(filepath.Join(dir, "s"), testSize, 0.05, seedS)
	if err != nil {
		t.Fatal(err)
	}
	f, err = makeHalfZero(filepath.Join(dir, "f"), testSize, seedF)
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

// engineRun runs the engine on c once, as make bench does, and checks the
// destination equals the source and holds no stale extent.
func engineRun(t *testing.T, c *copyCase) sample {
	t.Helper()
	b := &bench{}
	s, err := b.runOnce(context.Background(), c, &tools[0], true)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if !s.check.equal || s.check.stale != 0 {
		t.Fatalf("%s: destination differs from the source: %+v", c.name, *s.check)
	}
	return s
}

// The inputs have the layouts the bench describes: S holds 5% data in
// extents and allocates only those; F is fully allocated, half zeros.
func TestInputLayouts(t *testing.T) {
	s, f := inputs(t)
	if want := int64(testSize/extent/20) * extent; s.data != want {
		t.Errorf("S holds %d data bytes, want %d", s.data, want)
	}
	if a := mustAllocated(t, s.path); a < s.data || a > s.data+slack {
		t.Errorf("S allocates %d bytes for %d of data", a, s.data)
	}
	if f.data != testSize/2 {
		t.Errorf("F holds %d data bytes, want half of %d", f.data, testSize)
	}
	if a := mustAllocated(t, f.path); a < testSize {
		t.Errorf("F allocates %d bytes, want all %d", a, testSize)
	}
}

// S and F onto new files: the engine copies sparsely, the destination
// equals the source and allocates only the source's non-zero extents.
func TestEngineOntoNewFiles(t *testing.T) {
	s, f := inputs(t)
	for _, src := range []input{s, f} {
		dst := filepath.Join(t.TempDir(), "dst")
		c := &copyCase{name: filepath.Base(src.path), src: src, dst: dst, backing: dst, dest: newFile}
		x := engineRun(t, c)
		if x.allocated < src.data || x.allocated > src.data+slack {
			t.Errorf("%s: destination allocates %d bytes for %d non-zero bytes", c.name, x.allocated, src.data)
		}
	}
}

// T, and E's thick destination: the engine copies fully onto a file full
// of old bytes and onto a new allocated file, leaving no stale extent.
func TestEngineOntoThickFiles(t *testing.T) {
	s, _ := inputs(t)
	for _, d := range []dest{staleData, allocatedFile} {
		dst := filepath.Join(t.TempDir(), "dst")
		c := &copyCase{name: caseTFile, src: s, dst: dst, backing: dst, dest: d}
		x := engineRun(t, c)
		if d == allocatedFile && x.allocated < testSize {
			t.Errorf("allocated destination shrank to %d bytes", x.allocated)
		}
	}
}

// T on a loop block device over a file full of old bytes.
func TestEngineOntoLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: loop devices need root")
	}
	s, _ := inputs(t)
	file := filepath.Join(t.TempDir(), "t")
	dev, detach, err := attachLoop(context.Background(), file, testSize)
	if err != nil {
		if os.Getenv("CINDER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("loop device required (CINDER_TEST_REQUIRE_SERVICES=1): %v", err)
		}
		t.Skipf("SKIP: no loop device: %v", err)
	}
	defer detach()
	engineRun(t, &copyCase{name: caseTLoop, src: s, dst: dev, backing: file, dest: staleData})
}

// The check catches a wrong copy: a sparse copy onto old bytes leaves every
// extent that is a hole or zeros in the source stale, and the bench counts
// them.
func TestCompareCatchesStaleExtents(t *testing.T) {
	s, _ := inputs(t)
	dst := filepath.Join(t.TempDir(), "dst")
	if err := fill(dst, testSize); err != nil {
		t.Fatal(err)
	}
	if _, err := volcopy.Copy(context.Background(), s.path, dst, volcopy.Options{Sparse: true}); err != nil {
		t.Fatal(err)
	}
	c, err := compare(s.path, dst, testSize)
	if err != nil {
		t.Fatal(err)
	}
	if want := (testSize - s.data) / extent; c.equal || c.stale != want {
		t.Fatalf("compare after a sparse copy onto old bytes: %+v, want unequal with %d stale extents", c, want)
	}
}

// Case N on the test's filesystem, small: every snapshot and clone the thin
// driver makes equals the volume, and the engine's copy of it too.
func TestSnapshotCase(t *testing.T) {
	b := &bench{size: sizes{lGiB: 1, lData: 8 * mib}, runs: 1, dir: t.TempDir(), programs: map[string]string{}}
	rows, err := b.snapshotCase(context.Background(), caseNWorkDir, filepath.Join(b.dir, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || b.failed {
		t.Fatalf("%d rows, failed %t; want the engine's and 3 of the driver's", len(rows), b.failed)
	}
	for _, r := range rows {
		if !r.equal() || r.Allocated < 8*mib || r.Allocated > 8*mib+slack {
			t.Errorf("%s: equal %s, %d bytes allocated for 8 MiB of data", r.Tool, yesNo(r.Equal), r.Allocated)
		}
	}
}

// Case B on the S layout, small, without the external tools: the restores
// of the full and the incremental backups equal their volumes.
func TestBackupCases(t *testing.T) {
	s, _ := inputs(t)
	b := &bench{runs: 1, dir: t.TempDir(), programs: map[string]string{}}
	rows, err := b.backupCases(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || b.failed {
		t.Fatalf("%d rows, failed %t; want 3 full backups, a restore, an incremental and the xfs case", len(rows), b.failed)
	}
	if xfs := rows[5]; xfs.Case != caseBReflinkIncr || !strings.HasPrefix(xfs.Note, "skipped") {
		t.Errorf("xfs case without mkfs.xfs: %+v; want it skipped", xfs)
	}
	rows = rows[:5]
	for _, r := range rows[:3] {
		if measured := r.Tool == toolBackup; r.measured() != measured || measured == (r.Note != "") {
			t.Errorf("%s: %.3f s, note %q; want ours alone measured, the tools missing", r.Tool, r.Seconds, r.Note)
		}
	}
	for _, r := range rows[3:] {
		if !r.equal() || !r.measured() {
			t.Errorf("%s: %.3f s, equal %s; want measured and equal", r.Case, r.Seconds, yesNo(r.Equal))
		}
	}
}

// Case B on xfs with reflink, 1 GiB: the full backup and the incremental
// with change tracking are measured and the incremental restores its volume.
func TestTrackedBackupCase(t *testing.T) {
	mnt := testfile.XFS(t)
	b := &bench{size: sizes{volumeGiB: 1}, runs: 1, dir: t.TempDir(), programs: map[string]string{}}
	opts := posix.Options{Path: filepath.Join(b.dir, "backups"), Compression: "zlib"}
	rows, err := b.trackedCase(context.Background(), opts, filepath.Join(mnt, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || b.failed || !rows[0].measured() || !rows[1].measured() || !rows[1].equal() {
		t.Fatalf("rows %+v, failed %t; want the full and the incremental measured, the incremental restoring its volume", rows, b.failed)
	}
}

func TestParseWrk(t *testing.T) {
	const report = `Running 10s test @ http://127.0.0.1:8776/v3/admin/volumes/detail
  2 threads and 8 connections
  Latency Distribution
     50%    2.10ms
     75%    3.00ms
     90%    4.51ms
     99%  812.00us
  12345 requests in 10.00s, 50.00MB read
Requests/sec:   1234.50
Transfer/sec:      5.00MB
`
	w, err := parseWrk(report)
	if err != nil || w.rps != 1234.5 || w.p50 != 2100*time.Microsecond || w.p99 != 812*time.Microsecond {
		t.Fatalf("parseWrk = %+v, %v; want 1234.5, 2.1ms, 812µs", w, err)
	}
	if _, err := parseWrk(report + "  Non-2xx or 3xx responses: 12\n"); err == nil {
		t.Fatal("parseWrk accepted a report with failed requests")
	}
}

func mustAllocated(t *testing.T, path string) int64 {
	t.Helper()
	a, err := allocated(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Case P's goals hold each measure at 100,000 volumes to its p99 and
// throughput limits and to its reference at 100 volumes (its own figures,
// the first page's for the filtered page), the worse of the two ratios; a
// measure that failed has no value to check.
func TestPagingGoals(t *testing.T) {
	const filtered = "filtered page, status=error"
	rows := []pageRow{
		{Database: "SQLite", Volumes: pagingSmall, Measure: "first page", P99Ms: 5, RPS: 2000},
		{Database: "SQLite", Volumes: pagingLarge, Measure: "first page", P99Ms: 8, RPS: 1500},
		{Database: "SQLite", Volumes: pagingSmall, Measure: filtered, P99Ms: 1, RPS: 8000},
		{Database: "SQLite", Volumes: pagingLarge, Measure: filtered, P99Ms: 6, RPS: 1600},
		{Database: "SQLite", Volumes: pagingSmall, Measure: "summary", P99Ms: 5, RPS: 2000},
		{Database: "SQLite", Volumes: pagingLarge, Measure: "summary", Note: "failed: wrk saw failures"},
	}
	gs := pagingGoals(rows)
	if len(gs) != 9 {
		t.Fatalf("pagingGoals gave %d goals, want 9: %+v", len(gs), gs)
	}
	if gs[0].Value != 8 || gs[1].Value != 1500 || !gs[1].AtLeast || gs[2].Value != 8.0/5 {
		t.Errorf("first page goals = %+v", gs[:3])
	}
	if g := gs[5]; g.Value != 2000.0/1600 || !strings.Contains(g.What, "from first page at 100 volumes") {
		t.Errorf("filtered page's slowdown = %+v, want 1.25 against the first page at 100 volumes", g)
	}
	for _, g := range gs[6:] {
		if g.Missing == "" {
			t.Errorf("%s: no Missing for a failed measure", g.What)
		}
	}
}
