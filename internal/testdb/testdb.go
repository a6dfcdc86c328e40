// Package testdb gives a test a migrated SQLite database of its own.
package testdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cinder-go/cinder/db"
)

// SQLite opens a new SQLite database in t's temporary directory, applies
// the schema migrations and closes it when t ends.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "cinder.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}
