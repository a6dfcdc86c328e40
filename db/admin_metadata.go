package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// VolumeAdminMetadata returns the admin metadata of volume id, never nil.
func (db *DB) VolumeAdminMetadata(ctx context.Context, id string) (map[string]string, error) {
	rows, err := db.query(ctx, `SELECT "key", value FROM volume_admin_metadata WHERE volume_id = ?`, id)
	if err != nil {
		return nil, wrap(err, "admin metadata of volume %s", id)
	}
	defer rows.Close()
	md := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, wrap(err, "admin metadata of volume %s", id)
		}
		md[k] = v
	}
	return md, wrap(rows.Err(), "admin metadata of volume %s", id)
}

// SetVolumeAdminMetadata sets key to value in the admin metadata of volume id.
func (db *DB) SetVolumeAdminMetadata(ctx context.Context, id, key, value string) error {
	_, err := db.sql.ExecContext(ctx, db.dialect.rebind(`INSERT INTO volume_admin_metadata (volume_id, "key", value) VALUES (?, ?, ?)
		ON CONFLICT (volume_id, "key") DO UPDATE SET value = excluded.value`), id, key, value)
	return wrap(err, "set admin metadata %s of volume %s", key, id)
}

// TakeVolumeAdminMetadata removes keys from the admin metadata of volume id
// and returns the values they had, or nil, taking none, unless all are
// there: of two callers, one takes them.
func (db *DB) TakeVolumeAdminMetadata(ctx context.Context, id string, keys ...string) (map[string]string, error) {
	taken := map[string]string{}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		clear(taken)
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
		args := []any{id}
		for _, k := range keys {
			args = append(args, k)
		}
		where := ` FROM volume_admin_metadata WHERE volume_id = ? AND "key" IN (` + marks + ")"
		rows, err := tx.QueryContext(ctx, db.dialect.rebind(`SELECT "key", value`+where+db.dialect.forUpdate), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				_ = rows.Close() // the scan's error says what failed
				return err
			}
			taken[k] = v
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if len(taken) < len(keys) {
			return nil
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind("DELETE"+where), args...)
		return err
	})
	if err != nil {
		return nil, wrap(err, "take admin metadata of volume %s", id)
	}
	if len(taken) < len(keys) {
		return nil, nil
	}
	return taken, nil
}
