// Package testenv gives tests the external services they need: RabbitMQ and
// PostgreSQL. A test skips when a service is unreachable, unless
// CINDER_TEST_REQUIRE_SERVICES=1 (as in CI), where it fails instead.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"golang.org/x/sys/unix"
)

// Required reports whether external services are mandatory for this run.
func Required() bool { return os.Getenv("CINDER_TEST_REQUIRE_SERVICES") == "1" }

// unavailable skips or fails t because a service cannot be reached.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (CINDER_TEST_REQUIRE_SERVICES=1) but unreachable: %v", what, err)
	}
	t.Skipf("SKIP: %s unreachable (%v); set CINDER_TEST_REQUIRE_SERVICES=1 to make this fail", what, err)
}

func reachable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// RabbitURL returns the transport_url of the local RabbitMQ
// (CINDER_TEST_RABBIT_URL, default rabbit://guest:guest@127.0.0.1:5672/).
// The test process holds the broker alone until the test ends: test
// processes of other packages wait, since Cinder's queue names
// (cinder-scheduler, cinder-volume.<host>) are shared by every exchange and
// one package's broker restart would break another's calls.
func RabbitURL(t testing.TB) string {
	t.Helper()
	lockBroker(t)
	return rabbitURL(t)
}

// RabbitVhostURL is RabbitURL on a virtual host of its own, made with
// rabbitmqctl and deleted when t ends: Cinder's queue and fanout exchange
// names do not carry control_exchange, so tests sharing a virtual host
// would consume one another's messages. Tests of one process may then use
// the broker at the same time.
func RabbitVhostURL(t testing.TB) string {
	t.Helper()
	base := strings.TrimSuffix(RabbitURL(t), "/")
	if strings.Count(strings.TrimPrefix(base, "rabbit://"), "/") > 0 {
		t.Fatalf("RabbitVhostURL: %s names a virtual host already", base)
	}
	user := "guest"
	if creds, _, ok := strings.Cut(strings.TrimPrefix(base, "rabbit://"), "@"); ok {
		user, _, _ = strings.Cut(creds, ":")
	}
	vhost := "cinder-test-" + uuid.NewString()[:8]
	ctl := func(args ...string) error {
		out, err := exec.Command("rabbitmqctl", append([]string{"-q"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		unavailable(t, "rabbitmqctl, to make a RabbitMQ virtual host", err)
	}
	if err := ctl("add_vhost", vhost); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctl("delete_vhost", vhost); err != nil {
			t.Logf("delete test virtual host: %v", err)
		}
	})
	if err := ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*"); err != nil {
		t.Fatal(err)
	}
	return base + "/" + vhost
}

// broker is this process's hold on the broker lock file, shared by its tests.
var broker struct {
	sync.Mutex
	holders int
	file    *os.File
}

// lockBroker takes the broker for this process until t ends.
func lockBroker(t testing.TB) {
	t.Helper()
	broker.Lock()
	defer broker.Unlock()
	if broker.holders == 0 {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "cinder-go-test-rabbitmq.lock"), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("open broker lock: %v", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			_ = f.Close() // the lock's error is the one to report
			t.Fatalf("lock broker: %v", err)
		}
		broker.file = f
	}
	broker.holders++
	t.Cleanup(func() {
		broker.Lock()
		defer broker.Unlock()
		if broker.holders--; broker.holders == 0 {
			if err := broker.file.Close(); err != nil { // releases the lock
				t.Error(err)
			}
		}
	})
}

func rabbitURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("CINDER_TEST_RABBIT_URL")
	if url == "" {
		url = "rabbit://guest:guest@127.0.0.1:5672/"
	}
	host := strings.TrimPrefix(url, "rabbit://")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	host, _, _ = strings.Cut(host, "/")
	if err := reachable(host); err != nil {
		unavailable(t, "RabbitMQ at "+host, err)
	}
	return url
}

// PostgresURL creates a throwaway database on the local PostgreSQL
// (CINDER_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres),
// drops it when the test ends, and returns its connection URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("CINDER_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgresql://postgres@127.0.0.1:5432/postgres"
	}
	if err := reachable("127.0.0.1:5432"); err != nil && os.Getenv("CINDER_TEST_POSTGRES_URL") == "" {
		unavailable(t, "PostgreSQL at 127.0.0.1:5432", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	name := "cinder_test_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = db.Close() // the creation's error is the one to report
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	i := strings.LastIndex(admin, "/")
	return fmt.Sprintf("%s/%s", admin[:i], name)
}
