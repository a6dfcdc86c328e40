package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

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
	_, err := db.w.ExecContext(ctx, db.dialect.rebind(insertSQL("group_types", groupTypeColumns)), groupTypeValues(t)...)
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

// DeleteGroupType soft-deletes group type id with its specs; one groups
// use is GroupTypeInUse (400), as Cinder's group_type_destroy.
func (db *DB) DeleteGroupType(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getGroupType(ctx, tx, id, db.dialect.forUpdate); err != nil {
			return err
		}
		var inUse int
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM groups WHERE group_type_id = ? AND deleted = FALSE"), id).Scan(&inUse); err != nil {
			return err
		}
		if inUse > 0 {
			return cinder.Errorf("GroupTypeInUse", 400, "Group Type %s deletion is not allowed with groups present with the type.", id)
		}
		t := formatTime(now())
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			"UPDATE group_types SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE id = ?"), t, t, id)
		return err
	})
	return wrap(err, "delete group type %s", id)
}

// groupColumns are the groups table's columns, id first, in the order
// groupValues and scanGroup use.
var groupColumns = []string{"id", "user_id", "project_id", "host", "availability_zone", "name", "description",
	"group_type_id", "status", "group_snapshot_id", "source_group_id", "replication_status",
	"created_at", "updated_at", "deleted", "deleted_at"}

var selectGroups = "SELECT " + strings.Join(groupColumns, ", ") + " FROM groups"

// groupSortColumns are the sort keys of a group list; the API names name
// display_name.
var groupSortColumns = map[string]string{"created_at": "created_at", "updated_at": "updated_at",
	"id": "id", "display_name": "name", "status": "status"}

func groupValues(g *cinder.Group) []any {
	var deleted *time.Time
	if g.Deleted {
		deleted = g.UpdatedAt
	}
	return []any{g.ID, g.UserID, g.ProjectID, g.Host, g.AvailabilityZone, g.Name, g.Description,
		g.GroupTypeID, g.Status, g.GroupSnapshotID, g.SourceGroupID, g.ReplicationStatus,
		formatTime(g.CreatedAt), formatTimePtr(g.UpdatedAt), g.Deleted, formatTimePtr(deleted)}
}

func scanGroup(row scanner) (*cinder.Group, error) {
	var g cinder.Group
	var created string
	var updated, deleted sql.NullString
	if err := row.Scan(&g.ID, &g.UserID, &g.ProjectID, &g.Host, &g.AvailabilityZone, &g.Name, &g.Description,
		&g.GroupTypeID, &g.Status, &g.GroupSnapshotID, &g.SourceGroupID, &g.ReplicationStatus,
		&created, &updated, &g.Deleted, &deleted); err != nil {
		return nil, err
	}
	var err error
	if g.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	g.UpdatedAt, err = parseTimePtr(updated)
	return &g, err
}

// CreateGroup inserts g with its volume types (new UUID if empty,
// CreatedAt now if zero), ending the reservations held for it.
func (db *DB) CreateGroup(ctx context.Context, g *cinder.Group) error {
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	g.CreatedAt = dbTime(g.CreatedAt)
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("groups", groupColumns)), groupValues(g)...); err != nil {
			return err
		}
		for _, t := range g.VolumeTypeIDs {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(
				"INSERT INTO group_volume_type_mapping (group_id, volume_type_id) VALUES (?, ?)"), g.ID, t); err != nil {
				return err
			}
		}
		return db.followGroup(ctx, tx, nil, g)
	})
	return wrap(err, "create group %s", g.ID)
}

// GetGroup returns group id with its volume types, or cinder.GroupNotFound.
func (db *DB) GetGroup(ctx context.Context, id string) (*cinder.Group, error) {
	g, err := db.getGroup(ctx, db.sql, id, "")
	return g, wrap(err, "get group %s", id)
}

// getGroup reads group id and its volume types through q, the row query
// ending with lock.
func (db *DB) getGroup(ctx context.Context, q querier, id, lock string) (*cinder.Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, db.dialect.rebind(selectGroups+" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.GroupNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return g, db.readGroupTypes(ctx, q, []*cinder.Group{g})
}

// readGroupTypes sets the VolumeTypeIDs of groups, by type id.
func (db *DB) readGroupTypes(ctx context.Context, q querier, groups []*cinder.Group) error {
	byID := make(map[string]*cinder.Group, len(groups))
	ids := make([]any, len(groups))
	for i, g := range groups {
		byID[g.ID], ids[i] = g, g.ID
		g.VolumeTypeIDs = []string{}
	}
	if len(groups) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, db.dialect.rebind("SELECT group_id, volume_type_id FROM group_volume_type_mapping WHERE group_id IN ("+
		strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+") ORDER BY group_id, volume_type_id"), ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g, t string
		if err := rows.Scan(&g, &t); err != nil {
			return err
		}
		byID[g].VolumeTypeIDs = append(byID[g].VolumeTypeIDs, t)
	}
	return rows.Err()
}

// GroupFilter selects and pages groups for ListGroups.
type GroupFilter struct {
	ProjectID      string // "" for every project's
	Host           string // only the groups on this host, backend or pool, as VolumeFilter.Host
	SortKey        string // created_at (""), updated_at, id, status or display_name (the name)
	SortDescending bool
	Marker         string
	Offset, Limit  int
}

// ListGroups returns the groups (not deleted) f selects with their volume
// types, sorted by f.SortKey then id.
func (db *DB) ListGroups(ctx context.Context, f GroupFilter) ([]*cinder.Group, error) {
	where, args := " WHERE deleted = FALSE", []any(nil)
	if f.ProjectID != "" {
		where += " AND project_id = ?"
		args = append(args, f.ProjectID)
	}
	if f.Host != "" {
		cond, hostArgs := onHost(f.Host)
		where += " AND " + cond
		args = append(args, hostArgs...)
	}
	groups, err := listPage(ctx, db, page{table: "groups", selectAll: selectGroups, where: where, args: args,
		columns: groupSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.GroupNotFound(id) }, offset: f.Offset, limit: f.Limit},
		scanGroup)
	if err != nil {
		return nil, err
	}
	return groups, wrap(db.readGroupTypes(ctx, db.sql, groups), "list groups")
}

// UpdateGroup is UpdateVolume for group id (its volume types are not
// written); setting Deleted soft-deletes it, giving its quota back.
func (db *DB) UpdateGroup(ctx context.Context, id string, fn func(g *cinder.Group) error) (*cinder.Group, error) {
	var before cinder.Group
	return modify(ctx, db, "update group "+id,
		func(tx *sql.Tx) (*cinder.Group, error) {
			g, err := db.getGroup(ctx, tx, id, db.dialect.forUpdate)
			if err == nil {
				before = *g
			}
			return g, err
		},
		fn,
		func(tx *sql.Tx, g *cinder.Group) error {
			g.ID = id
			g.UpdatedAt = timePtr(dbTime(now()))
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("groups", groupColumns)), keyLast(groupValues(g))...); err != nil {
				return err
			}
			return db.followGroup(ctx, tx, &before, g)
		})
}

// GroupVolumes returns the volumes (not deleted) of group id, oldest first.
func (db *DB) GroupVolumes(ctx context.Context, id string) ([]*cinder.Volume, error) {
	return queryAll(ctx, db, "list the volumes of group "+id,
		selectVolumes+" WHERE group_id = ? AND deleted = FALSE ORDER BY created_at, id", []any{id}, scanVolume)
}

// SetGroupVolumes moves volumes add into group id and volumes remove out of
// it, and sets the group's status to available, in one transaction: a
// generic group's update, which needs nothing of a driver.
func (db *DB) SetGroupVolumes(ctx context.Context, id string, add, remove []string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t := formatTime(now())
		for _, c := range []struct {
			ids        []string
			from, into string
		}{{add, "", id}, {remove, id, ""}} {
			for _, v := range c.ids {
				if _, err := tx.ExecContext(ctx, db.dialect.rebind(
					"UPDATE volumes SET group_id = ?, updated_at = ? WHERE id = ? AND group_id = ? AND deleted = FALSE"),
					c.into, t, v, c.from); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			"UPDATE groups SET status = ?, updated_at = ? WHERE id = ? AND deleted = FALSE"), cinder.GroupAvailable, t, id)
		return err
	})
	return wrap(err, "set the volumes of group %s", id)
}
