package db

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testenv"
)

// each runs test against a fresh SQLite file and a fresh PostgreSQL database.
func each(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, "sqlite:///"+filepath.Join(t.TempDir(), "cinder.db"))
	})
	t.Run("postgresql", func(t *testing.T) { test(t, testenv.PostgresURL(t)) })
}

// open opens url, closed when t ends.
func open(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// synced opens url and applies the migrations.
func synced(t *testing.T, url string) *DB {
	t.Helper()
	db := open(t, url)
	if _, err := db.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return db
}

// wantCode fails t unless err is a *cinder.Error with this code and class.
func wantCode(t *testing.T, err error, code int, class string) {
	t.Helper()
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Code != code || ce.Class != class {
		t.Fatalf("error %v (%T), want %s %d", err, err, class, code)
	}
}

func TestParseConnection(t *testing.T) {
	for _, c := range []struct{ in, driver, dsnPrefix, what string }{
		{"sqlite:////var/lib/cinder/cinder.db", "sqlite", "/var/lib/cinder/cinder.db?_pragma=busy_timeout(5000)", "/var/lib/cinder/cinder.db"},
		{"sqlite:///cinder.db", "sqlite", "cinder.db?", "cinder.db"},
		{"/tmp/x/cinder.db", "sqlite", "/tmp/x/cinder.db?", "/tmp/x/cinder.db"},
		{"state/cinder.db", "sqlite", "state/cinder.db?", "state/cinder.db"},
		{"postgresql://cinder:secret@db:5432/cinder", "pgx", "postgresql://cinder:secret@db:5432/cinder", "postgresql://cinder:xxxxx@db:5432/cinder"},
		{"postgres://db/cinder", "pgx", "postgresql://db/cinder", "postgresql://db/cinder"},
		{"postgresql+psycopg2://cinder:secret@db/cinder", "pgx", "postgresql://cinder:secret@db/cinder", "postgresql://cinder:xxxxx@db/cinder"},
	} {
		_, driver, dsn, what, err := parseConnection(c.in)
		if err != nil || driver != c.driver || !strings.HasPrefix(dsn, c.dsnPrefix) || what != c.what {
			t.Errorf("parseConnection(%q) = %q, %q, %q, %v; want %q, %q…, %q", c.in, driver, dsn, what, err, c.driver, c.dsnPrefix, c.what)
		}
	}
	for _, bad := range []string{"mysql+pymysql://cinder@db/cinder", "sqlite://", "sqlite:///"} {
		if _, _, _, _, err := parseConnection(bad); err == nil {
			t.Errorf("parseConnection(%q) succeeded, want an error", bad)
		}
	}
}

func TestOpenCreatesParentDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "sub", "cinder.db")
	synced(t, "sqlite:///"+path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

// TestOpenWaitsForABusyFile opens a SQLite file that another connection
// holds locked for longer than the busy timeout, as a process starting on
// it can: Open must retry until the lock goes, not fail.
func TestOpenWaitsForABusyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cinder.sqlite")
	holder, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := holder.Close(); err != nil {
			t.Error(err)
		}
	})
	conn, err := holder.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	held := 6 * time.Second // past the 5 s busy timeout of one attempt
	release := time.AfterFunc(held, func() {
		// A COMMIT that fails keeps the lock, and Open's error says so.
		_, _ = conn.ExecContext(context.Background(), "COMMIT")
	})
	defer release.Stop()
	start := time.Now()
	store, err := Open(t.Context(), "sqlite:///"+path)
	if err != nil {
		t.Fatalf("Open while the file was locked for %v: %v", held, err)
	}
	if err := store.Close(); err != nil {
		t.Error(err)
	}
	if waited := time.Since(start); waited < held {
		t.Errorf("Open returned after %v, before the lock was released at %v", waited, held)
	}
}

func TestSyncIsIdempotent(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := open(t, url)
		if v, err := db.Version(ctx); err != nil || v != 0 {
			t.Fatalf("Version of an empty database = %d, %v; want 0", v, err)
		}
		ms, err := loadMigrations()
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			v, err := db.Sync(ctx)
			if err != nil || v != len(ms) {
				t.Fatalf("Sync = %d, %v; want %d", v, err, len(ms))
			}
		}
		if v, err := db.Version(ctx); err != nil || v != len(ms) {
			t.Fatalf("Version = %d, %v; want %d", v, err, len(ms))
		}
		types, err := db.ListVolumeTypes(ctx, TypeFilter{})
		if err != nil || len(types) != 1 {
			t.Fatalf("ListVolumeTypes after two Syncs = %v, %v; want only the default type", types, err)
		}
		def := types[0]
		if def.Name != cinder.DefaultVolumeType || def.Description != "Default Volume Type" || !def.IsPublic || len(def.ExtraSpecs) != 0 || def.ID == "" {
			t.Fatalf("default type = %+v", def)
		}
	})
}

func TestConcurrentSync(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		dbs := []*DB{open(t, url), open(t, url), open(t, url)}
		versions := make([]int, len(dbs))
		errs := make([]error, len(dbs))
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() { versions[i], errs[i] = db.Sync(ctx) })
		}
		wg.Wait()
		for i := range dbs {
			if errs[i] != nil || versions[i] != versions[0] || versions[0] == 0 {
				t.Fatalf("concurrent Syncs returned %v, %v", versions, errs)
			}
		}
		var applied int
		if err := dbs[0].sql.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil || applied != versions[0] {
			t.Fatalf("schema_migrations has %d rows (%v), want %d", applied, err, versions[0])
		}
		if types, err := dbs[1].ListVolumeTypes(ctx, TypeFilter{}); err != nil || len(types) != 1 {
			t.Fatalf("volume types after concurrent Syncs: %d, %v; want the default only", len(types), err)
		}
	})
}

func TestTwoHandlesShareTheDatabase(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		a, b := synced(t, url), open(t, url)
		va := &cinder.Volume{Size: 1, Status: cinder.StatusCreating}
		if err := a.CreateVolume(ctx, va); err != nil {
			t.Fatal(err)
		}
		if _, err := b.UpdateVolume(ctx, va.ID, func(v *cinder.Volume) error {
			v.Status = cinder.StatusAvailable
			return nil
		}); err != nil {
			t.Fatalf("second handle does not see the first's volume: %v", err)
		}
		if got, err := a.GetVolume(ctx, va.ID); err != nil || got.Status != cinder.StatusAvailable {
			t.Fatalf("first handle reads %+v, %v; want the second's update", got, err)
		}
	})
}

func TestErrorsSayWhatFailed(t *testing.T) {
	db := synced(t, "sqlite:///"+filepath.Join(t.TempDir(), "cinder.db"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := db.GetVolume(context.Background(), "1234")
	if err == nil || !strings.HasPrefix(err.Error(), "get volume 1234: ") {
		t.Fatalf("GetVolume on a closed database: %v", err)
	}
}

// TestLimitPool holds more queries in flight than a PostgreSQL pool of 2
// plus 1 overflow may open, and counts the server's connections to the
// database meanwhile: never more than 3, and every query still answers.
func TestLimitPool(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	db, watch := open(t, url), open(t, url)
	db.LimitPool(2, 1)
	const queries = 12
	var wg sync.WaitGroup
	errs := make(chan error, queries)
	for range queries {
		wg.Go(func() {
			_, err := db.sql.ExecContext(ctx, "SELECT pg_sleep(0.2)")
			errs <- err
		})
	}
	peak := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		if err := watch.sql.QueryRowContext(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, n)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("query through the bounded pool: %v", err)
		}
	}
	if peak == 0 || peak > 3 {
		t.Fatalf("the server saw at most %d connections of the pool, want 1 to 3", peak)
	}
}

// TestPoolReusesOverflow runs rounds of 3 concurrent queries through a
// PostgreSQL pool of 2 plus 1 overflow: the overflow connection stays open
// between rounds, so the server sees at most 3 backends, not a new one for
// each round.
func TestPoolReusesOverflow(t *testing.T) {
	url := testenv.PostgresURL(t)
	db := open(t, url)
	db.LimitPool(2, 1)
	pids := map[int]bool{}
	var mu sync.Mutex
	for range 10 {
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				var pid int
				if err := db.sql.QueryRowContext(context.Background(), "SELECT pg_backend_pid() FROM pg_sleep(0.05)").Scan(&pid); err != nil {
					t.Error(err)
				}
				mu.Lock()
				pids[pid] = true
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	if len(pids) > 3 {
		t.Fatalf("10 rounds of 3 queries used %d server backends, want at most 3", len(pids))
	}
}

// TestSQLiteReadsBesideWrites: on SQLite, reads go on while writes hold
// the writer (one in a transaction, another waiting for it), as the
// periodic heartbeats and stats do under a burst of API reads: reads and
// writes sharing two connections, such writers held both and every read
// waited.
func TestSQLiteReadsBesideWrites(t *testing.T) {
	ctx := context.Background()
	db := synced(t, "sqlite:///"+filepath.Join(t.TempDir(), "cinder.db"))
	v := &cinder.Volume{ProjectID: "p", Status: "available", Size: 1}
	if err := db.CreateVolume(ctx, v); err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	var writers sync.WaitGroup
	write := func(hold bool) {
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "UPDATE volumes SET size = size + 1 WHERE id = ?", v.ID); err != nil {
				return err
			}
			if hold {
				close(held)
				<-release
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	writers.Go(func() { write(true) })
	<-held
	waits := db.w.Stats().WaitCount
	writers.Go(func() { write(false) })
	for deadline := time.Now().Add(10 * time.Second); db.w.Stats().WaitCount == waits; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			writers.Wait()
			t.Fatal("the second writer never waited for the first's connection")
		}
	}
	readCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			if _, err := db.GetVolume(readCtx, v.ID); err != nil {
				t.Errorf("read beside the writers: %v", err)
			}
		})
	}
	readers.Wait()
	cancel()
	close(release)
	writers.Wait()
	if got, err := db.GetVolume(ctx, v.ID); err != nil || got.Size != 3 {
		t.Fatalf("after both writes: %+v, %v", got, err)
	}
}
