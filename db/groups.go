package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// groupTypeColumns are the group_types table's columns, id first, in the
// order groupTypeValues and scanGroupType use.
var groupTypeColumns = []string{"id", "name", "description", "is_public", "group_specs", "created_at", "updated_at"}

var selectGroupTypes = "SELECT " + strings.Join(groupTypeColumns, ", ") + " FROM group_types"

// groupTypeSortColumns are the sort keys of a group type list, as the
// columns of Cinder's GroupType model; the API names name display_name.
var groupTypeSortColumns = map[string]string{"created_at": "created_at", "updated_at": "updated_at",
	"id": "id", "display_name": "name"}

func groupTypeValues(t *cinder.GroupType) []any {
	return []any{t.ID, t.Name, t.Description, t.IsPublic, encodeMap(t.GroupSpecs), formatTime(t.CreatedAt), formatTimePtr(t.UpdatedAt)}
}

func scanGroupType(row scanner) (*cinder.GroupType, error) {
	var t cinder.GroupType
	var specs, created string
	var updated sql.NullString
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &t.IsPublic, &specs, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if t.GroupSpecs, err = decodeMap(specs); err != nil {
		return nil, err
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	t.UpdatedAt, err = parseTimePtr(updated)
	return &t, err
}

// groupTypeExists is the Conflict of a second group type named name.
func groupTypeExists(name string) error {
	return cinder.Conflict("Group Type %s already exists.", name)
}

// CreateGroupType inserts t (new UUID if empty, CreatedAt now if zero); a
// duplicate name is cinder.Conflict.
func (db *DB) CreateGroupType(ctx context.Context, t *cinder.GroupType) error {
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.CreatedAt = dbTime(t.CreatedAt)
	if t.GroupSpecs == nil {
		t.GroupSpecs = map[string]string{}
	}
	_, err := db.sql.ExecContext(ctx, db.dialect.rebind(insertSQL("group_types", groupTypeColumns)), groupTypeValues(t)...)
	if duplicate(err) {
		return groupTypeExists(t.Name)
	}
	return wrap(err, "create group type %s", t.Name)
}

// GetGroupType returns the group type with this id, or cinder.GroupTypeNotFound.
func (db *DB) GetGroupType(ctx context.Context, id string) (*cinder.GroupType, error) {
	t, err := db.getGroupType(ctx, db.sql, id, "")
	return t, wrap(err, "get group type %s", id)
}

// GetGroupTypeByName returns the group type named name, or GroupTypeNotFoundByName.
func (db *DB) GetGroupTypeByName(ctx context.Context, name string) (*cinder.GroupType, error) {
	t, err := scanGroupType(db.sql.QueryRowContext(ctx, db.dialect.rebind(selectGroupTypes+
		" WHERE name = ? AND deleted = FALSE"), name))
	if errors.Is(err, sql.ErrNoRows) {
		err = cinder.Errorf("GroupTypeNotFoundByName", 404, "Group type with name %s could not be found.", name)
	}
	return t, wrap(err, "get group type %s", name)
}

// getGroupType reads group type id through q, the query ending with lock.
func (db *DB) getGroupType(ctx context.Context, q querier, id, lock string) (*cinder.GroupType, error) {
	t, err := scanGroupType(q.QueryRowContext(ctx, db.dialect.rebind(selectGroupTypes+
		" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.GroupTypeNotFound(id)
	}
	return t, err
}

// GroupTypeFilter selects and pages group types for ListGroupTypes.
type GroupTypeFilter struct {
	IsPublic       *bool  // only the public (true) or private (false) types; nil for all
	SortKey        string // created_at (""), updated_at, id or display_name (the name)
	SortDescending bool
	Marker         string
	Offset, Limit  int
}

// ListGroupTypes returns the group types (not deleted) f selects, sorted
// by f.SortKey then id.
func (db *DB) ListGroupTypes(ctx context.Context, f GroupTypeFilter) ([]*cinder.GroupType, error) {
	where, args := " WHERE deleted = FALSE", []any(nil)
	if f.IsPublic != nil {
		where += " AND is_public = ?"
		args = append(args, *f.IsPublic)
	}
	return listPage(ctx, db, page{table: "group_types", selectAll: selectGroupTypes, where: where, args: args,
		columns: groupTypeSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.GroupTypeNotFound(id) }, offset: f.Offset, limit: f.Limit},
		scanGroupType)
}

// UpdateGroupType is UpdateVolume for group type id (group specs included);
// a name another type has is cinder.Conflict.
func (db *DB) UpdateGroupType(ctx context.Context, id string, fn func(t *cinder.GroupType) error) (*cinder.GroupType, error) {
	return modify(ctx, db, "update group type "+id,
		func(tx *sql.Tx) (*cinder.GroupType, error) {
			return db.getGroupType(ctx, tx, id, db.dialect.forUpdate)
		},
		fn,
		func(tx *sql.Tx, t *cinder.GroupType) error {
			t.ID = id
			t.UpdatedAt = timePtr(dbTime(now()))
			_, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("group_types", groupTypeColumns)), keyLast(groupTypeValues(t))...)
			if duplicate(err) {
				return groupTypeExists(t.Name)
			}
			return err
		})
}

// DeleteGroupType soft-deletes group type id with its specs.
func (db *DB) DeleteGroupType(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getGroupType(ctx, tx, id, db.dialect.forUpdate); err != nil {
			return err
		}
		t := formatTime(now())
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			"UPDATE group_types SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE id = ?"), t, t, id)
		return err
	})
	return wrap(err, "delete group type %s", id)
}
