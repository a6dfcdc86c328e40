package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// typeColumns are the volume_types table's columns, id first, in the order
// typeValues and scanType use.
var typeColumns = []string{"id", "name", "description", "is_public", "extra_specs", "created_at", "updated_at"}

var selectTypes = "SELECT " + strings.Join(typeColumns, ", ") + " FROM volume_types"

func typeValues(t *cinder.VolumeType) []any {
	return []any{t.ID, t.Name, t.Description, t.IsPublic, encodeMap(t.ExtraSpecs), formatTime(t.CreatedAt), formatTimePtr(t.UpdatedAt)}
}

func scanType(row scanner) (*cinder.VolumeType, error) {
	var t cinder.VolumeType
	var specs, created string
	var updated sql.NullString
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &t.IsPublic, &specs, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if t.ExtraSpecs, err = decodeMap(specs); err != nil {
		return nil, err
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	t.UpdatedAt, err = parseTimePtr(updated)
	return &t, err
}

// normalizeTypeTimes rounds t's times to what the database keeps.
func normalizeTypeTimes(t *cinder.VolumeType) {
	t.CreatedAt = dbTime(t.CreatedAt)
	if t.UpdatedAt != nil {
		t.UpdatedAt = timePtr(dbTime(*t.UpdatedAt))
	}
}

// typeExists is the Conflict of a second type named name.
func typeExists(name string) error { return cinder.Conflict("Volume Type %s already exists.", name) }

// CreateVolumeType inserts t (new UUID if empty); a duplicate name is
// cinder.Conflict. A zero CreatedAt becomes now.
func (db *DB) CreateVolumeType(ctx context.Context, t *cinder.VolumeType) error {
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	normalizeTypeTimes(t)
	if t.ExtraSpecs == nil {
		t.ExtraSpecs = map[string]string{}
	}
	_, err := db.sql.ExecContext(ctx, db.dialect.rebind(insertSQL("volume_types", typeColumns)), typeValues(t)...)
	if duplicate(err) {
		return typeExists(t.Name)
	}
	return wrap(err, "create volume type %s", t.Name)
}

// GetVolumeType returns the type with this id, or cinder.VolumeTypeNotFound.
func (db *DB) GetVolumeType(ctx context.Context, id string) (*cinder.VolumeType, error) {
	t, err := db.getType(ctx, db.sql, "id", id, "")
	return t, wrap(err, "get volume type %s", id)
}

// GetVolumeTypeByName returns the type with this name, or cinder.VolumeTypeNotFound.
func (db *DB) GetVolumeTypeByName(ctx context.Context, name string) (*cinder.VolumeType, error) {
	t, err := db.getType(ctx, db.sql, "name", name, "")
	return t, wrap(err, "get volume type %s", name)
}

// getType reads the type whose column (id or name) is value through q, the
// query ending with lock.
func (db *DB) getType(ctx context.Context, q querier, column, value, lock string) (*cinder.VolumeType, error) {
	t, err := scanType(q.QueryRowContext(ctx, db.dialect.rebind(selectTypes+
		" WHERE "+column+" = ? AND deleted = FALSE"+lock), value))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.VolumeTypeNotFound(value)
	}
	return t, err
}

// ListVolumeTypes returns every volume type (not deleted), by name.
func (db *DB) ListVolumeTypes(ctx context.Context) ([]*cinder.VolumeType, error) {
	return queryAll(ctx, db, "list volume types", selectTypes+" WHERE deleted = FALSE ORDER BY name", nil, scanType)
}

// UpdateVolumeType is UpdateVolume for volume type id (extra specs
// included); a name another type has is cinder.Conflict.
func (db *DB) UpdateVolumeType(ctx context.Context, id string, fn func(t *cinder.VolumeType) error) (*cinder.VolumeType, error) {
	return modify(ctx, db, "update volume type "+id,
		func(tx *sql.Tx) (*cinder.VolumeType, error) {
			return db.getType(ctx, tx, "id", id, db.dialect.forUpdate)
		},
		fn,
		func(tx *sql.Tx, t *cinder.VolumeType) error {
			t.ID = id
			t.UpdatedAt = timePtr(now())
			normalizeTypeTimes(t)
			_, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("volume_types", typeColumns)), keyLast(typeValues(t))...)
			if duplicate(err) {
				return typeExists(t.Name)
			}
			return err
		})
}

// DeleteVolumeType soft-deletes type id; a type in use by a volume is cinder.Invalid.
func (db *DB) DeleteVolumeType(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getType(ctx, tx, "id", id, db.dialect.forUpdate); err != nil {
			return err
		}
		var inUse int
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM volumes WHERE volume_type_id = ? AND deleted = FALSE"), id).Scan(&inUse); err != nil {
			return err
		}
		if inUse > 0 {
			return cinder.Invalid("Volume Type %s deletion is not allowed with volumes present with the type.", id)
		}
		t := formatTime(now())
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			"UPDATE volume_types SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE id = ?"), t, t, id)
		return err
	})
	return wrap(err, "delete volume type %s", id)
}
