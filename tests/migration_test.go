package tests

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
)

// fourBackends are thin and thick on hostA, thin2 and thick2 on hostB.
func fourBackends(thickClear string) map[string]string {
	return map[string]string{
		"thin":   "volume_driver = thin\n",
		"thick":  "volume_driver = thick\nvolume_clear = " + thickClear + "\n",
		"thin2":  "volume_driver = thin\nbackend_host = hostB\n",
		"thick2": "volume_driver = thick\nvolume_clear = " + thickClear + "\nbackend_host = hostB\n",
	}
}

// volumeOn returns a new, empty 1 GiB volume of the default type on
// backend: placed by the scheduler, then migrated there if it landed
// elsewhere. (A type pinning volume_backend_name would, as in Cinder, make
// the CapabilitiesFilter refuse any other destination.)
func (d *deployment) volumeOn(backend string) string {
	d.t.Helper()
	id := d.createVolume(1, nil)
	v := d.waitStatus(id, "available")
	if !strings.Contains(v["os-vol-host-attr:host"].(string), "@"+backend+"#") {
		d.migrate(id, hostOf(backend), nil)
	}
	return id
}

// hostOf is the host@backend of a backend of fourBackends.
func hostOf(backend string) string {
	if strings.HasSuffix(backend, "2") {
		return "hostB@" + backend
	}
	return "hostA@" + backend
}

// migrate asks for volume id to move to host and waits for the end of the
// migration, failing unless it ends in success.
func (d *deployment) migrate(id, host string, extra map[string]any) map[string]any {
	d.t.Helper()
	args := map[string]any{"host": host}
	for k, v := range extra {
		args[k] = v
	}
	d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-migrate_volume": args}, 202)
	v := d.waitMigration(id)
	if v["migration_status"] != "success" {
		d.t.Fatalf("migration of %s to %s ended %v", id, host, v["migration_status"])
	}
	return v
}

// waitMigration polls volume id until its migration ends (success or error).
func (d *deployment) waitMigration(id string) map[string]any {
	d.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		v := d.volume(id)
		if st := v["migration_status"]; st == "success" || st == "error" {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("migration of %s not finished after 120s: %v", id, d.volume(id))
	return nil
}

// extent is a byte range of a volume written with data.
type extent struct{ off, len int64 }

// spread returns n extents of size bytes spread over a 1 GiB volume, the
// last one unaligned and ending at the volume's last byte.
func spread(n int, size int64) []extent {
	var es []extent
	step := int64(1<<30) / int64(n)
	for i := 0; i < n-1; i++ {
		es = append(es, extent{int64(i)*step + int64(i)*4096, size})
	}
	return append(es, extent{1<<30 - 1000, 1000})
}

// fill writes random bytes (or pattern, when given) over extents of path.
func fill(t *testing.T, path string, es []extent, pattern byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b := make([]byte, e.len)
		if pattern != 0 {
			for i := range b {
				b[i] = pattern
			}
		} else {
			rand.Read(b)
		}
		if _, err := f.WriteAt(b, e.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// migrateAllPairs moves one volume holding data along a chain covering every
// pair of thin and thick backends (thin to thin on another host, thin to
// thick, thick to thin, thick to thick on another host) and checks after
// each that its bytes, id, name and metadata survive and nothing is left
// behind.
func migrateAllPairs(t *testing.T, d *deployment) {
	id := d.volumeOn("thin")
	d.do("PUT", "/admin/volumes/"+id, map[string]any{"volume": map[string]any{"metadata": map[string]string{"kept": "yes"}}}, 200)
	src := devicePath(t, d, id)
	fill(t, src, spread(16, 1<<20), 0)
	want := testfile.Checksum(t, src)
	name := d.volume(id)["name"]
	for _, to := range []string{"thin2", "thick", "thin", "thick", "thick2"} {
		from := d.volume(id)["os-vol-host-attr:host"].(string)
		t.Run(from+"-to-"+to, func(t *testing.T) {
			v := d.migrate(id, hostOf(to), map[string]any{"force_host_copy": true})
			if host := v["os-vol-host-attr:host"].(string); !strings.HasPrefix(host, hostOf(to)+"#") {
				t.Fatalf("after migration host is %s, want %s#…", host, hostOf(to))
			}
			if v["id"] != id || v["name"] != name || v["metadata"].(map[string]any)["kept"] != "yes" ||
				v["volume_type"] != "__DEFAULT__" || v["status"] != "available" {
				t.Fatalf("migrated volume lost its identity: %v", v)
			}
			dst := devicePath(t, d, id)
			if dst == src {
				t.Fatalf("device path %s did not change backend", dst)
			}
			if got := testfile.Checksum(t, dst); got != want {
				t.Fatalf("destination checksum %s, source was %s", got, want)
			}
			// The old data is deleted after success, as Cinder casts it:
			// soon only the volume remains, and its old storage is gone.
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, err := os.Stat(src)
				n := len(d.do("GET", "/admin/volumes?all_tenants=1", nil, 200)["volumes"].([]any))
				if os.IsNotExist(err) && n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("30s after the migration: source storage %s: %v; %d volumes listed, want 1", src, err, n)
				}
				time.Sleep(50 * time.Millisecond)
			}
			src = dst
		})
	}
	d.do("DELETE", "/admin/volumes/"+id, nil, 202)
	d.waitStatus(id, "deleted")
}

func TestMigrationAllPairsInProcess(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{backends: fourBackends("zero")})
	d.startAll()
	migrateAllPairs(t, d)
}

// splitTwoHosts runs the scheduler, the API and two cinder-volume processes,
// hostA (thin, thick) and hostB (thin2, thick2), over RabbitMQ.
func splitTwoHosts(t *testing.T, d *deployment) {
	d.start("cinder-scheduler")
	d.startAs("cinder-volume-hostA", "cinder-volume", "[DEFAULT]\nenabled_backends = thin,thick\n")
	d.startAs("cinder-volume-hostB", "cinder-volume", "[DEFAULT]\nenabled_backends = thin2,thick2\n")
	d.start("cinder-api")
	d.waitReady()
}

// TestMigrationAllPairsOverRabbitMQ migrates between every pair of backends
// of two hosts, each its own process, over RabbitMQ and on PostgreSQL: the
// deployment the project scales to (the in-process test runs on SQLite).
func TestMigrationAllPairsOverRabbitMQ(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{transport: testenv.RabbitVhostURL(t), database: testenv.PostgresURL(t), backends: fourBackends("zero")})
	splitTwoHosts(t, d)
	migrateAllPairs(t, d)
}

// A thick destination whose storage holds old bytes: after migrating a
// mostly empty thin volume there, not one old byte remains.
func TestMigrationLeavesNoStaleData(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{backends: fourBackends("none")})
	d.startAll()
	old := d.volumeOn("thick")
	fill(t, devicePath(t, d, old), []extent{{0, 1 << 30}}, 0xAA)
	d.do("DELETE", "/admin/volumes/"+old, nil, 202)
	d.waitStatus(old, "deleted")

	id := d.volumeOn("thin")
	fill(t, devicePath(t, d, id), spread(4, 64<<10), 0x11)
	want := testfile.Checksum(t, devicePath(t, d, id))
	d.migrate(id, "hostA@thick", nil)
	dst := devicePath(t, d, id)
	if got := testfile.Checksum(t, dst); got != want {
		f, _ := os.ReadFile(dst)
		t.Fatalf("destination differs from source; 1 MiB blocks holding old bytes: %d", staleBlocks(f))
	}
}

// staleBlocks counts the 1 MiB blocks of b holding a 0xAA byte.
func staleBlocks(b []byte) int {
	n := 0
	for off := 0; off < len(b); off += 1 << 20 {
		if bytes.IndexByte(b[off:min(off+1<<20, len(b))], 0xAA) >= 0 {
			n++
		}
	}
	return n
}

// A thin volume stays thin through a migration to a thin destination (a
// sparse copy), and is copied in full to a thick one.
func TestMigrationSparseStaysSparse(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{backends: fourBackends("zero")})
	d.startAll()
	id := d.volumeOn("thin")
	src := devicePath(t, d, id)
	fill(t, src, spread(51, 1<<20), 0) // 5% of 1 GiB
	_, srcAlloc := testfile.Stat(t, src)
	want := testfile.Checksum(t, src)

	d.migrate(id, "hostB@thin2", nil)
	dst := devicePath(t, d, id)
	if _, got := testfile.Stat(t, dst); got > srcAlloc*11/10 || got < srcAlloc*9/10 {
		t.Fatalf("thin destination allocates %d bytes, source allocated %d (want within 10%%)", got, srcAlloc)
	}
	if got := testfile.Checksum(t, dst); got != want {
		t.Fatal("thin destination differs from the source")
	}
	if modes := copyModes(d, id); len(modes) != 1 || modes[0] != "sparse" {
		t.Fatalf("copy modes logged %v, want [sparse]", modes)
	}

	d.migrate(id, "hostA@thick", nil)
	if got := testfile.Checksum(t, devicePath(t, d, id)); got != want {
		t.Fatal("thick destination differs from the source")
	}
	if modes := copyModes(d, id); len(modes) != 2 || modes[1] != "full" {
		t.Fatalf("copy modes logged %v, want [sparse full]", modes)
	}
}

// copyModes returns the copy mode of each migration of volume id, from the
// "copied volume" log lines, oldest first.
func copyModes(d *deployment, id string) []string {
	var modes []string
	for _, line := range strings.Split(d.logs(), "\n") {
		if !strings.Contains(line, "copied volume") || !strings.Contains(line, id) {
			continue
		}
		_, rest, ok := strings.Cut(line, " mode=")
		if ok {
			mode, _, _ := strings.Cut(rest, " ")
			modes = append(modes, mode)
		}
	}
	return modes
}

// TestRetypeOverRabbitMQ retypes a volume holding data, across processes:
// API, scheduler and two cinder-volume hosts over RabbitMQ, on PostgreSQL.
// A type its backend serves changes in place; one only hostB's thick2
// serves migrates it there on demand, bytes intact, and the volume ends
// with the new type.
func TestRetypeOverRabbitMQ(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{transport: testenv.RabbitVhostURL(t), database: testenv.PostgresURL(t), backends: fourBackends("zero")})
	splitTwoHosts(t, d)
	typeID := map[string]string{}
	for name, backend := range map[string]string{"on-thin": "thin", "also-thin": "thin", "on-thick2": "thick2"} {
		vt := d.do("POST", "/admin/types", map[string]any{"volume_type": map[string]any{"name": name}}, 200)["volume_type"].(map[string]any)
		d.do("POST", "/admin/types/"+vt["id"].(string)+"/extra_specs", map[string]any{"extra_specs": map[string]string{"volume_backend_name": backend}}, 200)
		typeID[name] = vt["id"].(string)
	}
	id := d.createVolume(1, map[string]any{"volume_type": "on-thin"})
	d.waitStatus(id, "available")
	src := devicePath(t, d, id)
	fill(t, src, spread(16, 1<<20), 0)
	want := testfile.Checksum(t, src)

	retype := func(to, policy string) map[string]any {
		d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-retype": map[string]any{"new_type": to, "migration_policy": policy}}, 202)
		var v map[string]any
		waitFor(t, 60*time.Second, "the retype to end", func() bool {
			v = d.volume(id)
			return v["status"] == "available" && v["migration_status"] != "starting" && v["migration_status"] != "migrating" && v["migration_status"] != "completing"
		})
		return v
	}
	if v := retype("also-thin", "never"); v["volume_type"] != "also-thin" || !strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thin#") {
		t.Fatalf("after retype in place: %v", v)
	}
	v := retype("on-thick2", "on-demand")
	if v["volume_type"] != "on-thick2" || v["volume_type_id"] != typeID["on-thick2"] || v["migration_status"] != "success" ||
		!strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostB@thick2#") {
		t.Fatalf("after retype on demand: %v", v)
	}
	if got := testfile.Checksum(t, devicePath(t, d, id)); got != want {
		t.Fatalf("retyped volume's checksum %s, it was %s", got, want)
	}
}
