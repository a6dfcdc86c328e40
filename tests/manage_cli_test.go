package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cinder-go/cinder/internal/testfile"
)

// TestCinderCLIManage drives manage and unmanage with Debian's cinder CLI
// against real processes: a foreign file in the thin backend's volumes_dir
// is listed manageable, managed as a volume holding exactly its bytes,
// unmanaged (kept as unmanaged-volume-<id>, same bytes) and managed back;
// a snapshot is unmanaged and managed back the same way; an unknown host,
// a path escaping the directory and a volume's own file are refused.
func TestCinderCLIManage(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()

	probe := cliField(cinderCLI(t, d, "create", "--name", "probe", "1"), "id")
	d.waitStatus(probe, "available")
	pool := cliField(cinderCLI(t, d, "show", probe), "os-vol-host-attr:host")
	host, _, _ := strings.Cut(pool, "#")
	dir := filepath.Dir(devicePath(t, d, probe))

	legacy := filepath.Join(dir, "legacy-disk")
	if err := os.WriteFile(legacy, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(legacy, 1<<30); err != nil {
		t.Fatal(err)
	}
	fill(t, legacy, spread(4, 64<<10), 0)
	sum := testfile.Checksum(t, legacy)

	list := cinderCLI(t, d, "manageable-list", host)
	if !strings.Contains(list, "legacy-disk") || !strings.Contains(list, "True") {
		t.Fatalf("manageable-list lacks legacy-disk, safe:\n%s", list)
	}
	if list := cinderCLI(t, d, "manageable-list", "--detailed", "True", host); !strings.Contains(list, "already managed") {
		t.Fatalf("manageable-list --detailed does not show the probe's file as managed:\n%s", list)
	}

	// Refused at once: an unknown host, a path, a volume's own file.
	for _, args := range [][]string{
		{"manage", "nowhere@none", "legacy-disk"},
		{"manage", pool, "../../../etc/passwd"},
		{"manage", pool, "volume-" + probe},
	} {
		out, err := cinderRun(d, args...)
		if err == nil || !strings.Contains(out, "(HTTP 40") {
			t.Fatalf("cinder %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	vol := cliField(cinderCLI(t, d, "manage", "--name", "adopted", pool, "legacy-disk"), "id")
	d.waitStatus(vol, "available")
	show := cinderCLI(t, d, "show", vol)
	if cliField(show, "name") != "adopted" || cliField(show, "size") != "1" || cliField(show, "os-vol-host-attr:host") != pool {
		t.Fatalf("managed volume:\n%s", show)
	}
	if got := testfile.Checksum(t, devicePath(t, d, vol)); got != sum {
		t.Fatalf("managed volume holds %s, the file held %s", got, sum)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("legacy-disk still there after manage: %v", err)
	}

	cinderCLI(t, d, "unmanage", vol)
	d.waitStatus(vol, "deleted")
	kept := filepath.Join(dir, "unmanaged-volume-"+vol)
	if got := testfile.Checksum(t, kept); got != sum {
		t.Fatalf("unmanaged file holds %s, want %s", got, sum)
	}
	if list := cinderCLI(t, d, "manageable-list", host); !strings.Contains(list, "unmanaged-volume-"+vol) {
		t.Fatalf("manageable-list lacks the unmanaged file:\n%s", list)
	}
	back := cliField(cinderCLI(t, d, "manage", "--name", "back", pool, "unmanaged-volume-"+vol), "id")
	d.waitStatus(back, "available")
	if got := testfile.Checksum(t, devicePath(t, d, back)); got != sum {
		t.Fatalf("volume managed back holds %s, want %s", got, sum)
	}

	snap := cliField(cinderCLI(t, d, "snapshot-create", "--name", "s1", back), "id")
	d.waitSnapshot(snap, "available")
	snapSum := testfile.Checksum(t, filepath.Join(dir, "snapshot-"+snap))
	cinderCLI(t, d, "snapshot-unmanage", snap)
	d.waitSnapshot(snap, "deleted")
	if list := cinderCLI(t, d, "snapshot-manageable-list", host); !strings.Contains(list, "unmanaged-snapshot-"+snap) {
		t.Fatalf("snapshot-manageable-list lacks the unmanaged snapshot:\n%s", list)
	}
	snap2 := cliField(cinderCLI(t, d, "snapshot-manage", "--name", "s2", back, "unmanaged-snapshot-"+snap), "id")
	d.waitSnapshot(snap2, "available")
	if got := cliField(cinderCLI(t, d, "snapshot-show", snap2), "name"); got != "s2" {
		t.Fatalf("managed snapshot name %q", got)
	}
	if got := testfile.Checksum(t, filepath.Join(dir, "snapshot-"+snap2)); got != snapSum {
		t.Fatalf("managed snapshot holds %s, want %s", got, snapSum)
	}
	if list := cinderCLI(t, d, "snapshot-manageable-list", "--detailed", "True", host); !strings.Contains(list, snap2) {
		t.Fatalf("snapshot-manageable-list does not name the managed snapshot:\n%s", list)
	}
}
