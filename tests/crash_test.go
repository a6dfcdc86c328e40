package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to lock the deployment's database

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/scheduler"
)

// Recovery made quick for the crash tests: the scheduler fails a volume left
// creating with no host after 4 s, looking every second, so that no volume
// stays creating longer than recoveryInterval once the services run again.
// cinder-volume recovers its backends' volumes at start.
const (
	crashRecovery    = "periodic_interval = 1\nscheduler_create_volume_timeout = 4\n"
	recoveryInterval = 5 * time.Second
)

// crashBackends are thin, and thick that zeroes what it deletes.
var crashBackends = map[string]string{
	"thin":  "volume_driver = thin\n",
	"thick": "volume_driver = thick\nvolume_clear = zero\n",
}

// backendType creates a volume type pinned to backend and returns its name.
func (d *deployment) backendType(backend string) string {
	d.t.Helper()
	name := "on-" + backend
	typ := d.do("POST", "/admin/types", map[string]any{"volume_type": map[string]any{"name": name}}, 200)["volume_type"].(map[string]any)
	d.do("POST", "/admin/types/"+typ["id"].(string)+"/extra_specs",
		map[string]any{"extra_specs": map[string]string{"volume_backend_name": backend}}, 200)
	return name
}

// volumeFile is where backend keeps the bytes of volume id.
func (d *deployment) volumeFile(backend, id string) string {
	return filepath.Join(d.dir, "volumes", backend, "volume-"+id)
}

// audit runs cinder-manage volume audit with the deployment's cinder.conf
// and returns its output and exit status.
func (d *deployment) audit() (string, int) {
	d.t.Helper()
	out, err := run("cinder-manage", "--config-file", d.conf, "volume", "audit")
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out, exit.ExitCode()
	}
	if err != nil {
		d.t.Fatalf("volume audit: %v\n%s", err, out)
	}
	return out, 0
}

// settle waits up to within until no volume is in a transitional status,
// then checks that cinder-manage volume audit finds the database and the
// storage agreeing.
func settle(t *testing.T, d *deployment, within time.Duration) {
	t.Helper()
	var busy []string
	waitFor(t, within, "volumes leaving their transitional statuses", func() bool {
		busy = nil
		for _, v := range d.do("GET", "/admin/volumes/detail?all_tenants=1", nil, 200)["volumes"].([]any) {
			v := v.(map[string]any)
			switch st := v["status"].(string); st {
			case "creating", "deleting", "extending", "attaching", "detaching":
				busy = append(busy, v["id"].(string)+" "+st)
			}
		}
		return len(busy) == 0
	})
	if out, code := d.audit(); code != 0 {
		t.Fatalf("volume audit after recovery: exit %d, want 0:\n%s", code, out)
	}
}

// hostOfVolume is the os-vol-host-attr:host of volume view v, "" when unset.
func hostOfVolume(v map[string]any) string {
	host, _ := v["os-vol-host-attr:host"].(string)
	return host
}

// gone fails t unless no backend of the deployment holds storage of volume id.
func gone(t *testing.T, d *deployment, id string) {
	t.Helper()
	for backend := range crashBackends {
		if _, err := os.Stat(d.volumeFile(backend, id)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("storage of volume %s on %s: %v, want none", id, backend, err)
		}
	}
}

// cinder-all, so its cinder-volume, killed while a delete zeroes a thick
// volume: the restarted service finishes the delete; the audit then finds no difference, and one
// when a volume's file is removed or a file no volume names appears.
func TestCrashVolumeDuringDelete(t *testing.T) {
	d := newDeployment(t, setup{backends: crashBackends, extra: crashRecovery})
	d.startAll()
	id := d.createVolume(1, map[string]any{"volume_type": d.backendType("thick")})
	d.waitStatus(id, "available")
	path := d.volumeFile("thick", id)
	data := make([]byte, 1<<20)
	rand.Read(data)
	testfile.WriteAt(t, path, 0, data)

	// volume_clear = zero writes 1 GiB of zeros from the start: once the
	// first MiB is zero the delete has begun and has most of its work ahead.
	d.do("DELETE", "/admin/volumes/"+id, nil, 202)
	zeros := make([]byte, len(data))
	waitFor(t, 10*time.Second, "the delete to start zeroing", func() bool {
		return bytes.Equal(testfile.ReadAt(t, path, 0, len(zeros)), zeros)
	})
	d.kill("cinder-all")
	if info, err := os.Stat(path); err != nil || info.Size() != 1<<30 {
		t.Fatalf("volume file after the kill: %v, want the whole 1 GiB still there, not yet released", err)
	}

	d.startAll()
	d.waitStatus(id, "deleted")
	gone(t, d, id)
	if !strings.Contains(d.log("cinder-all"), "volume was left deleting; deleting it") {
		t.Fatal("cinder-all did not log finishing the interrupted delete")
	}
	settle(t, d, recoveryInterval)

	// The audit names a volume whose storage went and storage no volume names.
	lost := d.createVolume(1, map[string]any{"volume_type": d.backendType("thin")})
	d.waitStatus(lost, "available")
	if err := os.Remove(d.volumeFile("thin", lost)); err != nil {
		t.Fatal(err)
	}
	stray := uuid.NewString()
	if err := os.WriteFile(d.volumeFile("thick", stray), []byte("stray"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := d.audit()
	if code != 1 || !strings.Contains(out, "volume "+lost+" (available, 1 GiB) has no storage") ||
		!strings.Contains(out, "volume-"+stray+" (5 bytes) belongs to no volume") {
		t.Fatalf("volume audit with a missing and a stray file: exit %d, want 1 naming %s and %s:\n%s", code, lost, stray, out)
	}
}

// lockDatabase takes the write lock of the deployment's SQLite database, as
// another client's long transaction would: every write then waits until
// release.
func lockDatabase(t *testing.T, d *deployment) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(d.dir, "cinder.sqlite")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	}
	if err != nil {
		_ = db.Close() // the lock's error is the one to report
		t.Fatalf("lock the database: %v", err)
	}
	return func() {
		_, err := conn.ExecContext(ctx, "ROLLBACK")
		if err := errors.Join(err, conn.Close(), db.Close()); err != nil {
			t.Errorf("unlock the database: %v", err)
		}
	}
}

// cinder-volume killed after its driver made a volume's storage but before
// the volume became available (held up by a database lock): restarted, it
// sets the volume to error and removes the storage.
func TestCrashVolumeDuringCreate(t *testing.T) {
	d := newDeployment(t, setup{transport: testenv.RabbitURL(t), backends: map[string]string{
		"thin":  "volume_driver = thin\n",
		"thick": "volume_driver = thick\nvolume_clear = none\n",
	}, extra: crashRecovery})
	d.startSplit()
	typ := d.backendType("thick")

	// Frozen, cinder-volume takes the create only once the lock is held.
	d.signal("cinder-volume", syscall.SIGSTOP)
	id := d.createVolume(1, map[string]any{"volume_type": typ})
	waitFor(t, 10*time.Second, "the scheduler to place the volume", func() bool {
		return hostOfVolume(d.volume(id)) != ""
	})
	release := lockDatabase(t, d)
	d.signal("cinder-volume", syscall.SIGCONT)
	path := d.volumeFile("thick", id)
	waitFor(t, 10*time.Second, "the driver to allocate the volume", func() bool {
		info, err := os.Stat(path)
		return err == nil && info.Size() == 1<<30
	})
	d.kill("cinder-volume")
	release()
	if v := d.volume(id); v["status"] != "creating" {
		t.Fatalf("volume after the kill is %v, want still creating", v["status"])
	}

	d.start("cinder-volume")
	d.waitStatusAny(id, "error")
	gone(t, d, id)
	d.waitLog("cinder-volume", 1, "volume was left creating; removing its storage", id)
	settle(t, d, recoveryInterval)
}

// cinder-scheduler killed: the creates cast meanwhile wait in its queue and
// are served once it is back, after the backends report their stats.
func TestCrashSchedulerWithCastsPending(t *testing.T) {
	d := newDeployment(t, setup{transport: testenv.RabbitURL(t), backends: crashBackends, extra: crashRecovery})
	d.startSplit()
	d.kill("cinder-scheduler")
	var ids []string
	for range 3 {
		ids = append(ids, d.createVolume(1, nil))
	}
	for _, id := range ids {
		if v := d.volume(id); v["status"] != "creating" || hostOfVolume(v) != "" {
			t.Fatalf("volume created with no scheduler: %v on %q, want creating with no host", v["status"], hostOfVolume(v))
		}
	}

	d.start("cinder-scheduler")
	for _, id := range ids {
		d.waitStatus(id, "available")
		if size, _ := testfile.Stat(t, d.volumeFile("thin", id)); size != 1<<30 {
			t.Fatalf("volume %s file is %d bytes, want 1 GiB", id, size)
		}
	}
	settle(t, d, recoveryInterval)
}

// brokerProxy forwards TCP connections to a broker. hold stops it delivering,
// as a network that freezes; drop then cuts its connections, losing what it
// held, and lets new ones through.
type brokerProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	moving *sync.Cond // signalled when held becomes false
	held   bool
	conns  []net.Conn
}

// newBrokerProxy forwards to the broker of transport URL rabbit until t ends
// and returns the transport URL that goes through it.
func newBrokerProxy(t *testing.T, rabbit string) (*brokerProxy, string) {
	t.Helper()
	u, err := url.Parse(rabbit)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerProxy{ln: ln, target: u.Host}
	p.moving = sync.NewCond(&p.mu)
	t.Cleanup(func() {
		if err := ln.Close(); err != nil {
			t.Error(err)
		}
		p.drop()
	})
	go p.accept()
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *brokerProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close() // cut, as the broker it would reach is
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, waiting while the proxy holds.
func (p *brokerProxy) pipe(dst, src net.Conn) {
	// Either side may have been cut already, by drop or by the other pipe.
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held {
				p.moving.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold stops delivering bytes in either direction.
func (p *brokerProxy) hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// drop closes every connection, losing the bytes held, and delivers again.
func (p *brokerProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close() // a pipe may have closed it already
	}
	p.conns = nil
	p.held = false
	p.moving.Broadcast()
}

// cinder-api killed after writing a volume's row but before its cast to the
// scheduler reached the broker (its link to the broker frozen): the
// scheduler fails the volume after scheduler_create_volume_timeout with a
// user message, and ignores the request if it comes after all.
func TestCrashAPIMidRequest(t *testing.T) {
	rabbit := testenv.RabbitURL(t)
	proxy, viaProxy := newBrokerProxy(t, rabbit)
	d := newDeployment(t, setup{transport: rabbit, backends: crashBackends, extra: crashRecovery})
	d.start("cinder-scheduler")
	d.start("cinder-volume")
	apiConf := "[DEFAULT]\ntransport_url = " + viaProxy + "\n"
	d.startAs("cinder-api", "cinder-api", apiConf)
	d.waitReady()

	proxy.hold()
	name := "cut-" + uuid.NewString()[:8]
	answered := make(chan error, 1)
	go func() {
		code, _, err := d.try("POST", "/admin/volumes", map[string]any{"volume": map[string]any{"size": 1, "name": name}})
		if err == nil {
			err = fmt.Errorf("answered %d", code)
		}
		answered <- err
	}()
	var id string
	waitFor(t, 10*time.Second, "cinder-api to write the volume's row", func() bool {
		vols := d.do("GET", "/admin/volumes/detail?all_tenants=1&name="+name, nil, 200)["volumes"].([]any)
		if len(vols) == 1 {
			id = vols[0].(map[string]any)["id"].(string)
		}
		return id != ""
	})
	written := time.Now()
	d.kill("cinder-api")
	proxy.drop()
	if err := <-answered; !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("create request to the killed cinder-api: %v, want its connection cut", err)
	}

	d.startAs("cinder-api", "cinder-api", apiConf)
	d.waitReady()
	if v := d.volume(id); v["status"] != "creating" || hostOfVolume(v) != "" {
		t.Fatalf("volume whose cast was lost: %v on %q, want creating with no host", v["status"], hostOfVolume(v))
	}
	waitFor(t, recoveryInterval+2*time.Second-time.Since(written), "the scheduler to fail the lost create", func() bool {
		return d.volume(id)["status"] == "error"
	})
	found := false
	for _, m := range d.do("GET", "/admin/messages", nil, 200)["messages"].([]any) {
		m := m.(map[string]any)
		found = found || m["resource_uuid"] == id && m["event_id"] == "VOLUME_VOLUME_001_001"
	}
	if !found {
		t.Fatalf("no user message VOLUME_VOLUME_001_001 explains volume %s's error", id)
	}

	// The lost request arrives late: the scheduler leaves the volume be.
	tr, err := rpc.Dial(context.Background(), rabbit, rpc.Options{ControlExchange: d.exchange})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := scheduler.NewClient(tr).CreateVolume(context.Background(), &cinder.Volume{ID: id, Size: 1},
		cinder.RequestSpec{VolumeID: id, Size: 1}); err != nil {
		t.Fatal(err)
	}
	d.waitLog("cinder-scheduler", 1, "volume to schedule is no longer creating", id)
	if v := d.volume(id); v["status"] != "error" || hostOfVolume(v) != "" {
		t.Fatalf("volume after its late create request: %v on %q, want error with no host", v["status"], hostOfVolume(v))
	}
	gone(t, d, id)
	settle(t, d, recoveryInterval)
}
