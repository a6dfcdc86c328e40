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
var typeColumns = []string{"id", "name", "description", "is_public", "extra_specs", "qos_specs_id", "created_at", "updated_at"}

// selectTypes reads typeColumns, then whether the type has an encryption.
var selectTypes = "SELECT " + strings.Join(typeColumns, ", ") +
	", EXISTS (SELECT 1 FROM encryption WHERE encryption.volume_type_id = volume_types.id) FROM volume_types"

func typeValues(t *cinder.VolumeType) []any {
	return []any{t.ID, t.Name, t.Description, t.IsPublic, encodeMap(t.ExtraSpecs), t.QoSSpecsID, formatTime(t.CreatedAt), formatTimePtr(t.UpdatedAt)}
}

func scanType(row scanner) (*cinder.VolumeType, error) {
	var t cinder.VolumeType
	var specs, created string
	var updated sql.NullString
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &t.IsPublic, &specs, &t.QoSSpecsID, &created, &updated, &t.Encrypted); err != nil {
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
	_, err := db.w.ExecContext(ctx, db.dialect.rebind(insertSQL("volume_types", typeColumns)), typeValues(t)...)
	if duplicate(err) {
		return typeExists(t.Name)
	}
	return wrap(err, "create volume type %s", t.Name)
}

// GetVolumeType returns the type with this id, or cinder.VolumeTypeNotFound.
func (db *DB) GetVolumeType(ctx context.Context, id string) (*cinder.VolumeType, error) {
	t, err := db.getType(ctx, cached{db}, "id", id, "")
	return t, wrap(err, "get volume type %s", id)
}

// GetVolumeTypeByName returns the type with this name, or cinder.VolumeTypeNotFound.
func (db *DB) GetVolumeTypeByName(ctx context.Context, name string) (*cinder.VolumeType, error) {
	t, err := db.getType(ctx, cached{db}, "name", name, "")
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

// TypeFilter selects volume types for ListVolumeTypes; the zero value
// selects them all.
type TypeFilter struct {
	IsPublic   *bool  // only the public (true) or private (false) types
	ProjectID  string // with IsPublic true, also the private types this project has access to
	QoSSpecsID string // only the types associated with these QoS specs
}

// where returns the WHERE clause selecting f's types, and its arguments.
func (f TypeFilter) where() (string, []any) {
	conds := []string{"deleted = FALSE"}
	var args []any
	switch {
	case f.IsPublic == nil:
	case *f.IsPublic && f.ProjectID != "":
		conds = append(conds, "(is_public = TRUE OR id IN (SELECT volume_type_id FROM volume_type_projects WHERE project_id = ?))")
		args = append(args, f.ProjectID)
	default:
		conds = append(conds, "is_public = ?")
		args = append(args, *f.IsPublic)
	}
	if f.QoSSpecsID != "" {
		conds = append(conds, "qos_specs_id = ?")
		args = append(args, f.QoSSpecsID)
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListVolumeTypes returns the volume types (not deleted) f selects, by name.
func (db *DB) ListVolumeTypes(ctx context.Context, f TypeFilter) ([]*cinder.VolumeType, error) {
	where, args := f.where()
	return queryAll(ctx, db, "list volume types", selectTypes+where+" ORDER BY name", args, scanType)
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

// DeleteVolumeType soft-deletes type id with its access list and
// encryption. A project's default type is VolumeTypeDefaultDeletionError,
// a type volumes use VolumeTypeInUse (both 400), as Cinder checks them.
func (db *DB) DeleteVolumeType(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getType(ctx, tx, "id", id, db.dialect.forUpdate); err != nil {
			return err
		}
		var defaults, inUse int
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM default_volume_types WHERE volume_type_id = ?"), id).Scan(&defaults); err != nil {
			return err
		}
		if defaults > 0 {
			return cinder.Errorf("VolumeTypeDefaultDeletionError", 400, "The volume type %s is a default volume type and cannot be deleted.", id)
		}
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM volumes WHERE volume_type_id = ? AND deleted = FALSE"), id).Scan(&inUse); err != nil {
			return err
		}
		if inUse > 0 {
			return cinder.Errorf("VolumeTypeInUse", 400, "Volume Type %s deletion is not allowed with volumes present with the type.", id)
		}
		for _, table := range []string{"volume_type_projects", "encryption"} {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind("DELETE FROM "+table+" WHERE volume_type_id = ?"), id); err != nil {
				return err
			}
		}
		t := formatTime(now())
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			"UPDATE volume_types SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE id = ?"), t, t, id)
		return err
	})
	return wrap(err, "delete volume type %s", id)
}

// TypeProjects returns the projects with access to volume type id, in the
// order they got it.
func (db *DB) TypeProjects(ctx context.Context, id string) ([]string, error) {
	rows, err := db.query(ctx, "SELECT project_id FROM volume_type_projects WHERE volume_type_id = ? ORDER BY created_at, project_id", id)
	if err != nil {
		return nil, wrap(err, "list the projects of volume type %s", id)
	}
	defer rows.Close()
	projects := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, wrap(err, "list the projects of volume type %s", id)
		}
		projects = append(projects, p)
	}
	return projects, wrap(rows.Err(), "list the projects of volume type %s", id)
}

// AddTypeProject gives project access to volume type id; a second time is
// VolumeTypeAccessExists (409).
func (db *DB) AddTypeProject(ctx context.Context, id, project string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getType(ctx, tx, "id", id, db.dialect.forUpdate); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("volume_type_projects",
			[]string{"volume_type_id", "project_id", "created_at"})), id, project, formatTime(now()))
		if duplicate(err) {
			return cinder.Errorf("VolumeTypeAccessExists", 409, "Volume type access for %s / %s combination already exists.", id, project)
		}
		return err
	})
	return wrap(err, "add project %s to volume type %s", project, id)
}

// RemoveTypeProject takes project's access to volume type id away; one it
// does not have is VolumeTypeAccessNotFound (404).
func (db *DB) RemoveTypeProject(ctx context.Context, id, project string) error {
	res, err := db.w.ExecContext(ctx, db.dialect.rebind(
		"DELETE FROM volume_type_projects WHERE volume_type_id = ? AND project_id = ?"), id, project)
	if err == nil {
		err = mustAffect(res, cinder.Errorf("VolumeTypeAccessNotFound", 404,
			"Volume type access not found for %s / %s combination.", id, project))
	}
	return wrap(err, "remove project %s from volume type %s", project, id)
}

// DefaultType is a project's default volume type (3.62), which its volumes
// created without a type get.
type DefaultType struct {
	ProjectID, VolumeTypeID string
}

// SetDefaultType makes volume type typeID project's default type, in place
// of any it had.
func (db *DB) SetDefaultType(ctx context.Context, project, typeID string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Locked, so that the type is not deleted meanwhile (DeleteVolumeType
		// checks the defaults under the same lock).
		if _, err := db.getType(ctx, tx, "id", typeID, db.dialect.forUpdate); err != nil {
			return err
		}
		t := formatTime(now())
		_, err := tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO default_volume_types (project_id, volume_type_id, created_at)
			VALUES (?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET volume_type_id = ?, updated_at = ?`), project, typeID, t, typeID, t)
		return err
	})
	return wrap(err, "set the default volume type of project %s", project)
}

// GetDefaultType returns the id of project's default type, or
// VolumeTypeProjectDefaultNotFound (404).
func (db *DB) GetDefaultType(ctx context.Context, project string) (string, error) {
	var id string
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind(
		"SELECT volume_type_id FROM default_volume_types WHERE project_id = ?"), project).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", cinder.Errorf("VolumeTypeProjectDefaultNotFound", 404, "Default type for project %s not found.", project)
	}
	return id, wrap(err, "get the default volume type of project %s", project)
}

// ListDefaultTypes returns every project's default type, by project.
func (db *DB) ListDefaultTypes(ctx context.Context) ([]*DefaultType, error) {
	return queryAll(ctx, db, "list default volume types",
		"SELECT project_id, volume_type_id FROM default_volume_types ORDER BY project_id", nil,
		func(row scanner) (*DefaultType, error) {
			var d DefaultType
			return &d, row.Scan(&d.ProjectID, &d.VolumeTypeID)
		})
}

// UnsetDefaultType forgets project's default type, if it has one.
func (db *DB) UnsetDefaultType(ctx context.Context, project string) error {
	_, err := db.w.ExecContext(ctx, db.dialect.rebind("DELETE FROM default_volume_types WHERE project_id = ?"), project)
	return wrap(err, "unset the default volume type of project %s", project)
}

// encryptionColumns are the encryption table's columns, encryption_id
// first, in the order encryptionValues and scanEncryption use.
var encryptionColumns = []string{"encryption_id", "volume_type_id", "provider", "cipher", "key_size", "control_location", "created_at", "updated_at"}

func encryptionValues(e *cinder.Encryption) []any {
	var cipher sql.NullString
	var keySize sql.NullInt64
	if e.Cipher != nil {
		cipher = sql.NullString{String: *e.Cipher, Valid: true}
	}
	if e.KeySize != nil {
		keySize = sql.NullInt64{Int64: int64(*e.KeySize), Valid: true}
	}
	return []any{e.ID, e.VolumeTypeID, e.Provider, cipher, keySize, e.ControlLocation, formatTime(e.CreatedAt), formatTimePtr(e.UpdatedAt)}
}

func scanEncryption(row scanner) (*cinder.Encryption, error) {
	var e cinder.Encryption
	var cipher, updated sql.NullString
	var keySize sql.NullInt64
	var created string
	if err := row.Scan(&e.ID, &e.VolumeTypeID, &e.Provider, &cipher, &keySize, &e.ControlLocation, &created, &updated); err != nil {
		return nil, err
	}
	if cipher.Valid {
		e.Cipher = &cipher.String
	}
	if keySize.Valid {
		n := int(keySize.Int64)
		e.KeySize = &n
	}
	var err error
	if e.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	e.UpdatedAt, err = parseTimePtr(updated)
	return &e, err
}

// encryptionNotFound is VolumeTypeEncryptionNotFound (404) for type typeID.
func encryptionNotFound(typeID string) error {
	return cinder.Errorf("VolumeTypeEncryptionNotFound", 404, "Volume type encryption for type %s does not exist.", typeID)
}

// GetEncryption returns the encryption of volume type typeID, or
// VolumeTypeEncryptionNotFound.
func (db *DB) GetEncryption(ctx context.Context, typeID string) (*cinder.Encryption, error) {
	e, err := db.getEncryption(ctx, db.sql, typeID, "")
	return e, wrap(err, "get the encryption of volume type %s", typeID)
}

// getEncryption reads the encryption of type typeID through q, the query
// ending with lock.
func (db *DB) getEncryption(ctx context.Context, q querier, typeID, lock string) (*cinder.Encryption, error) {
	e, err := scanEncryption(q.QueryRowContext(ctx, db.dialect.rebind(
		"SELECT "+strings.Join(encryptionColumns, ", ")+" FROM encryption WHERE volume_type_id = ?"+lock), typeID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, encryptionNotFound(typeID)
	}
	return e, err
}

// CreateEncryption inserts e, with a new encryption_id, for its volume
// type, which must exist; a type that has one is VolumeTypeEncryptionExists (400).
func (db *DB) CreateEncryption(ctx context.Context, e *cinder.Encryption) error {
	e.ID = uuid.NewString()
	e.CreatedAt, e.UpdatedAt = now(), nil
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getType(ctx, tx, "id", e.VolumeTypeID, db.dialect.forUpdate); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("encryption", encryptionColumns)), encryptionValues(e)...)
		if duplicate(err) {
			return cinder.Errorf("VolumeTypeEncryptionExists", 400, "Volume type encryption for type %s already exists.", e.VolumeTypeID)
		}
		return err
	})
	return wrap(err, "create the encryption of volume type %s", e.VolumeTypeID)
}

// UpdateEncryption lets fn change the encryption of volume type typeID, or
// fails with VolumeTypeEncryptionNotFound.
func (db *DB) UpdateEncryption(ctx context.Context, typeID string, fn func(e *cinder.Encryption) error) (*cinder.Encryption, error) {
	return modify(ctx, db, "update the encryption of volume type "+typeID,
		func(tx *sql.Tx) (*cinder.Encryption, error) {
			return db.getEncryption(ctx, tx, typeID, db.dialect.forUpdate)
		},
		fn,
		func(tx *sql.Tx, e *cinder.Encryption) error {
			e.VolumeTypeID = typeID
			e.UpdatedAt = timePtr(now())
			_, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("encryption", encryptionColumns)), keyLast(encryptionValues(e))...)
			return err
		})
}

// DeleteEncryption deletes the encryption of volume type typeID, or fails
// with VolumeTypeEncryptionNotFound.
func (db *DB) DeleteEncryption(ctx context.Context, typeID string) error {
	res, err := db.w.ExecContext(ctx, db.dialect.rebind("DELETE FROM encryption WHERE volume_type_id = ?"), typeID)
	if err == nil {
		err = mustAffect(res, encryptionNotFound(typeID))
	}
	return wrap(err, "delete the encryption of volume type %s", typeID)
}
