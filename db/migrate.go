package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// migrations holds the schema migrations, NNN_name.sql, applied in order.
// They may use {{autoid}} (the dialect's autoincrement primary key),
// {{uuid}} (a new UUID) and {{now}} (the current time as stored).
//
//go:embed migrations/*.sql
var migrations embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations by version, checking they
// are numbered 1, 2, 3… without gaps.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for i, path := range names { // Glob sorts, and numbers are zero-padded
		name := strings.TrimPrefix(path, "migrations/")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %03d", name, i+1)
		}
		text, err := migrations.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms, nil
}

// Sync applies every schema migration not yet applied (cinder-manage db
// sync) and returns the resulting schema version. Safe to run concurrently
// from several processes.
func (db *DB) Sync(ctx context.Context) (int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, fmt.Errorf("sync database: %w", err)
	}
	// Each migration runs in its own transaction that first takes the
	// migration lock, so concurrent Syncs apply each migration exactly once.
	for {
		var applied int
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if db.dialect.migrateLock != "" {
				if _, err := tx.ExecContext(ctx, db.dialect.migrateLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at VARCHAR(27) NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&applied); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if applied >= len(ms) {
				return nil
			}
			m := ms[applied]
			if _, err := tx.ExecContext(ctx, db.expand(m.sql)); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, formatTime(now())); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
			applied = m.version
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("sync database: %w", err)
		}
		if applied >= len(ms) {
			return applied, nil
		}
	}
}

// expand fills a migration's {{…}} words for this database.
func (db *DB) expand(text string) string {
	return strings.NewReplacer(
		"{{autoid}}", db.dialect.autoID,
		"{{uuid}}", uuid.NewString(),
		"{{now}}", formatTime(now()),
	).Replace(text)
}

// Version returns the applied schema version, 0 for an empty database.
func (db *DB) Version(ctx context.Context) (int, error) {
	var tables, v int
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind(db.dialect.tableExists), "schema_migrations").Scan(&tables)
	if err == nil && tables > 0 {
		err = db.sql.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
