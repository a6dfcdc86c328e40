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

// groupSnapshotColumns are the group_snapshots table's columns, id first,
// in the order groupSnapshotValues and scanGroupSnapshot use.
var groupSnapshotColumns = []string{"id", "group_id", "user_id", "project_id", "name", "description", "status",
	"group_type_id", "created_at", "updated_at", "deleted", "deleted_at"}

var selectGroupSnapshots = "SELECT " + strings.Join(groupSnapshotColumns, ", ") + " FROM group_snapshots"

// groupSnapshotSortColumns are the sort keys of a group snapshot list, as
// the columns of Cinder's GroupSnapshot model; the API names name
// display_name.
var groupSnapshotSortColumns = map[string]string{"created_at": "created_at", "updated_at": "COALESCE(updated_at, '')",
	"id": "id", "display_name": "name", "name": "name", "status": "status", "group_id": "group_id"}

func groupSnapshotValues(g *cinder.GroupSnapshot) []any {
	var deleted *time.Time
	if g.Deleted {
		deleted = g.UpdatedAt
	}
	return []any{g.ID, g.GroupID, g.UserID, g.ProjectID, g.Name, g.Description, g.Status, g.GroupTypeID,
		formatTime(g.CreatedAt), formatTimePtr(g.UpdatedAt), g.Deleted, formatTimePtr(deleted)}
}

func scanGroupSnapshot(row scanner) (*cinder.GroupSnapshot, error) {
	var g cinder.GroupSnapshot
	var created string
	var updated, deleted sql.NullString
	if err := row.Scan(&g.ID, &g.GroupID, &g.UserID, &g.ProjectID, &g.Name, &g.Description, &g.Status, &g.GroupTypeID,
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

// CreateGroupSnapshot inserts group snapshot g (new UUID if empty,
// CreatedAt now if zero) with snaps, one snapshot of each volume of its
// group, in one transaction, as Cinder's group_snapshot_create: the group
// must hold volumes and be neither creating nor updating, else
// InvalidGroup. The snapshots' quota usage counts them, and the
// reservations held for g and for each snapshot end, in the same
// transaction.
func (db *DB) CreateGroupSnapshot(ctx context.Context, g *cinder.GroupSnapshot, snaps []*cinder.Snapshot) error {
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	g.CreatedAt = dbTime(g.CreatedAt)
	for _, s := range snaps {
		s.GroupSnapshotID = g.ID
		if s.ID == "" {
			s.ID = uuid.NewString()
		}
		if s.CreatedAt.IsZero() {
			s.CreatedAt = g.CreatedAt
		}
		normalizeSnapshotTimes(s)
		if s.Metadata == nil {
			s.Metadata = map[string]string{}
		}
		if s.GlanceMetadata == nil {
			s.GlanceMetadata = map[string]string{}
		}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		group, err := db.getGroup(ctx, tx, g.GroupID, db.dialect.forUpdate)
		if err != nil {
			return err
		}
		var vols int
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM volumes WHERE group_id = ? AND deleted = FALSE"), group.ID).Scan(&vols); err != nil {
			return err
		}
		if vols == 0 || group.Status == cinder.GroupCreating || group.Status == cinder.GroupUpdating {
			return cinder.InvalidGroup("Source group cannot be empty or in 'creating' or 'updating' state. No group snapshot will be created.")
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("group_snapshots", groupSnapshotColumns)), groupSnapshotValues(g)...); err != nil {
			return err
		}
		for _, s := range snaps {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("snapshots", snapshotColumns)), snapshotValues(s)...); err != nil {
				return err
			}
			if err := db.followSnapshot(ctx, tx, nil, s); err != nil {
				return err
			}
		}
		return db.follow(ctx, tx, g.ID, nil, nil, true)
	})
	return wrap(err, "create group snapshot %s", g.ID)
}

// GetGroupSnapshot returns group snapshot id, or cinder.GroupSnapshotNotFound.
func (db *DB) GetGroupSnapshot(ctx context.Context, id string) (*cinder.GroupSnapshot, error) {
	g, err := db.getGroupSnapshot(ctx, db.sql, id, "")
	return g, wrap(err, "get group snapshot %s", id)
}

// getGroupSnapshot reads group snapshot id through q, the query ending with lock.
func (db *DB) getGroupSnapshot(ctx context.Context, q querier, id, lock string) (*cinder.GroupSnapshot, error) {
	g, err := scanGroupSnapshot(q.QueryRowContext(ctx, db.dialect.rebind(selectGroupSnapshots+
		" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.GroupSnapshotNotFound(id)
	}
	return g, err
}

// GroupSnapshotFilter selects and pages group snapshots for
// ListGroupSnapshots; zero values select all.
type GroupSnapshotFilter struct {
	ProjectID, GroupID, Status, Name string
	SortKey                          string // created_at (""), updated_at, id, status, group_id or display_name (the name)
	SortDescending                   bool
	Marker                           string
	Offset, Limit                    int
}

// ListGroupSnapshots returns the group snapshots (not deleted) f selects,
// sorted by f.SortKey then id.
func (db *DB) ListGroupSnapshots(ctx context.Context, f GroupSnapshotFilter) ([]*cinder.GroupSnapshot, error) {
	where, args := whereEqual(nil, [][2]string{{"project_id", f.ProjectID}, {"group_id", f.GroupID},
		{"status", f.Status}, {"name", f.Name}})
	return listPage(ctx, db, page{table: "group_snapshots", selectAll: selectGroupSnapshots, where: where, args: args,
		columns: groupSnapshotSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.GroupSnapshotNotFound(id) }, offset: f.Offset, limit: f.Limit},
		scanGroupSnapshot)
}

// UpdateGroupSnapshot is UpdateVolume for group snapshot id.
func (db *DB) UpdateGroupSnapshot(ctx context.Context, id string, fn func(g *cinder.GroupSnapshot) error) (*cinder.GroupSnapshot, error) {
	return modify(ctx, db, "update group snapshot "+id,
		func(tx *sql.Tx) (*cinder.GroupSnapshot, error) {
			return db.getGroupSnapshot(ctx, tx, id, db.dialect.forUpdate)
		},
		fn,
		func(tx *sql.Tx, g *cinder.GroupSnapshot) error {
			g.ID = id
			g.UpdatedAt = timePtr(dbTime(now()))
			_, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("group_snapshots", groupSnapshotColumns)), keyLast(groupSnapshotValues(g))...)
			return err
		})
}

// DestroyGroupSnapshot soft-deletes group snapshot id, once its snapshots
// are gone.
func (db *DB) DestroyGroupSnapshot(ctx context.Context, id string) error {
	_, err := db.UpdateGroupSnapshot(ctx, id, func(g *cinder.GroupSnapshot) error {
		g.Status, g.Deleted = "deleted", true
		return nil
	})
	return err
}

// GroupCreatingFrom reports whether a group still creating is being made
// from group id (as its source group) or from group snapshot id, as
// Cinder's group_creating_from_src.
func (db *DB) GroupCreatingFrom(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind(
		"SELECT count(*) FROM groups WHERE deleted = FALSE AND status = ? AND (source_group_id = ? OR group_snapshot_id = ?)"),
		cinder.GroupCreating, id, id).Scan(&n)
	return n > 0, wrap(err, "look for groups created from %s", id)
}
