// Package testdb gives a test a migrated SQLite or PostgreSQL database of
// its own and waits on the volumes in it.
package testdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testenv"
)

// SQLite opens a new SQLite database in t's temporary directory, applies
// the schema migrations and closes it when t ends.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	return open(t, "sqlite:///"+filepath.Join(t.TempDir(), "cinder.sqlite"))
}

// Postgres opens a new PostgreSQL database of its own (testenv.PostgresURL,
// which skips t where PostgreSQL is unreachable), migrated, closed when t ends.
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	return open(t, testenv.PostgresURL(t))
}

// open opens the database at url, applies the schema migrations and
// closes it when t ends.
func open(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := store.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// WaitVolume polls volume id in store every 10 ms until done holds for it
// and returns it; it fails t after timeout, saying it waited for what.
func WaitVolume(t testing.TB, store *db.DB, id string, timeout time.Duration, what string, done func(*cinder.Volume) bool) *cinder.Volume {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := store.GetVolume(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s: waited %s for %s; status %q, migration_status %q", id, timeout, what, v.Status, v.MigrationStatus)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitMigration waits until volume id's migration succeeded or failed.
func WaitMigration(t testing.TB, store *db.DB, id string) *cinder.Volume {
	t.Helper()
	return WaitVolume(t, store, id, 30*time.Second, "its migration to end", func(v *cinder.Volume) bool {
		return v.MigrationStatus == cinder.MigrationSuccess || v.MigrationStatus == cinder.MigrationError
	})
}
