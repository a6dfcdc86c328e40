package db

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// snapshotColumns are the snapshots table's columns, id first, in the order
// snapshotValues and scanSnapshot use.
var snapshotColumns = []string{
	"id", "volume_id", "user_id", "project_id", "status", "progress", "volume_size",
	"display_name", "display_description", "metadata", "glance_metadata", "provider_location",
	"volume_type_id", "group_snapshot_id", "use_quota", "created_at", "updated_at",
	"deleted", "deleted_at",
}

var selectSnapshots = "SELECT " + strings.Join(snapshotColumns, ", ") + " FROM snapshots"

// snapshotSortColumns are the keys snapshots sort on: the volumes' with the
// snapshot's size.
var snapshotSortColumns = func() map[string]string {
	m := maps.Clone(sortColumns)
	m["size"] = "volume_size"
	return m
}()

func snapshotValues(s *cinder.Snapshot) []any {
	return []any{
		s.ID, s.VolumeID, s.UserID, s.ProjectID, s.Status, s.Progress, s.VolumeSize,
		s.DisplayName, s.DisplayDescription, encodeMap(s.Metadata), encodeMap(s.GlanceMetadata), s.ProviderLocation,
		s.VolumeTypeID, s.GroupSnapshotID, s.UseQuota, formatTime(s.CreatedAt), formatTimePtr(s.UpdatedAt),
		s.Deleted, formatTimePtr(s.DeletedAt),
	}
}

func scanSnapshot(row scanner) (*cinder.Snapshot, error) {
	var s cinder.Snapshot
	var metadata, glance, created string
	var updated, deleted sql.NullString
	err := row.Scan(
		&s.ID, &s.VolumeID, &s.UserID, &s.ProjectID, &s.Status, &s.Progress, &s.VolumeSize,
		&s.DisplayName, &s.DisplayDescription, &metadata, &glance, &s.ProviderLocation,
		&s.VolumeTypeID, &s.GroupSnapshotID, &s.UseQuota, &created, &updated,
		&s.Deleted, &deleted,
	)
	if err != nil {
		return nil, err
	}
	if s.Metadata, err = decodeMap(metadata); err != nil {
		return nil, err
	}
	if s.GlanceMetadata, err = decodeMap(glance); err != nil {
		return nil, err
	}
	if s.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if s.UpdatedAt, err = parseTimePtr(updated); err != nil {
		return nil, err
	}
	s.DeletedAt, err = parseTimePtr(deleted)
	return &s, err
}

// normalizeSnapshotTimes rounds s's times to what the database keeps.
func normalizeSnapshotTimes(s *cinder.Snapshot) {
	s.CreatedAt = dbTime(s.CreatedAt)
	if s.UpdatedAt != nil {
		s.UpdatedAt = timePtr(dbTime(*s.UpdatedAt))
	}
	if s.DeletedAt != nil {
		s.DeletedAt = timePtr(dbTime(*s.DeletedAt))
	}
}

// CreateSnapshot inserts s; an empty ID gets a new UUID, a zero CreatedAt now.
// Its quota usage counts it, and the reservations made for it end, in the
// same transaction.
func (db *DB) CreateSnapshot(ctx context.Context, s *cinder.Snapshot) error {
	if s.ID == "" {
		s.ID = uuid.NewString()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	normalizeSnapshotTimes(s)
	if s.Metadata == nil {
		s.Metadata = map[string]string{}
	}
	if s.GlanceMetadata == nil {
		s.GlanceMetadata = map[string]string{}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("snapshots", snapshotColumns)), snapshotValues(s)...); err != nil {
			return err
		}
		return db.followSnapshot(ctx, tx, nil, s)
	})
	if duplicate(err) {
		return cinder.Conflict("Snapshot %s already exists.", s.ID)
	}
	return wrap(err, "create snapshot %s", s.ID)
}

// GetSnapshot returns snapshot id (not deleted), or cinder.SnapshotNotFound.
func (db *DB) GetSnapshot(ctx context.Context, id string) (*cinder.Snapshot, error) {
	s, err := db.getSnapshot(ctx, db.sql, id, "")
	return s, wrap(err, "get snapshot %s", id)
}

// getSnapshot reads snapshot id through q, the query ending with lock.
func (db *DB) getSnapshot(ctx context.Context, q querier, id, lock string) (*cinder.Snapshot, error) {
	s, err := scanSnapshot(q.QueryRowContext(ctx, db.dialect.rebind(selectSnapshots+" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.SnapshotNotFound(id)
	}
	return s, err
}

// SnapshotFilter selects snapshots for ListSnapshots; zero values select all.
type SnapshotFilter struct {
	ProjectID      string   // only this project's snapshots
	VolumeID       string   // only this volume's snapshots
	GroupSnapshot  string   // only the snapshots of this group snapshot
	Statuses       []string // only these statuses
	Name           string   // display_name equals
	Host           string   // only snapshots of volumes on this host, as VolumeFilter.Host
	Zone           string   // only snapshots of volumes in this availability zone
	Match                   // Cinder's general filters
	Marker         string   // id after which to start, in the sort order
	Offset         int      // snapshots to skip after Marker
	Limit          int      // at most this many; 0 = no limit
	SortKey        string   // created_at (default), id, size, status, display_name, updated_at
	SortDescending bool     // descending; false sorts ascending
}

// where returns the WHERE clause selecting f's snapshots in dialect d, and
// its arguments. Host and Zone are their volume's, as Cinder joins it.
func (f *SnapshotFilter) where(d *dialect) (string, []any) {
	where, args := whereEqual(f.Statuses, [][2]string{{"project_id", f.ProjectID}, {"volume_id", f.VolumeID},
		{"group_snapshot_id", f.GroupSnapshot}, {"display_name", f.Name}})
	if f.Host != "" {
		cond, hostArgs := onHost(f.Host)
		where, args = where+" AND volume_id IN (SELECT id FROM volumes WHERE "+cond+")", append(args, hostArgs...)
	}
	if f.Zone != "" {
		where, args = where+" AND volume_id IN (SELECT id FROM volumes WHERE availability_zone = ?)", append(args, f.Zone)
	}
	return f.and(d, snapshotMatch, where, args)
}

// whereEqual returns the WHERE clause selecting the rows not deleted whose
// status is one of statuses (any when empty) and whose columns eq[i][0]
// equal eq[i][1] when not empty, and its arguments.
func whereEqual(statuses []string, eq [][2]string) (string, []any) {
	conds := []string{"deleted = FALSE"}
	var args []any
	for _, c := range eq {
		if c[1] != "" {
			conds = append(conds, c[0]+" = ?")
			args = append(args, c[1])
		}
	}
	if len(statuses) > 0 {
		conds = append(conds, "status IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ")+")")
		for _, s := range statuses {
			args = append(args, s)
		}
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListSnapshots returns the snapshots (not deleted) that f selects, sorted
// by f.SortKey then id.
func (db *DB) ListSnapshots(ctx context.Context, f SnapshotFilter) ([]*cinder.Snapshot, error) {
	return listPage(ctx, db, f.page(db.dialect), scanSnapshot)
}

// page is the page of snapshots f selects in dialect d.
func (f *SnapshotFilter) page(d *dialect) page {
	where, args := f.where(d)
	return page{table: "snapshots", selectAll: selectSnapshots, where: where, args: args,
		columns: snapshotSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.SnapshotNotFound(id) }, offset: f.Offset, limit: f.Limit}
}

// CountSnapshots returns how many snapshots ListSnapshots would return
// without Marker and Limit.
func (db *DB) CountSnapshots(ctx context.Context, f SnapshotFilter) (int, error) {
	where, args := f.where(db.dialect)
	var n int
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind("SELECT count(*) FROM snapshots"+where), args...).Scan(&n)
	return n, wrap(err, "count snapshots")
}

// UpdateSnapshot is UpdateVolume for snapshot id: Cinder's
// conditional_update, fn checking preconditions and changing the row.
func (db *DB) UpdateSnapshot(ctx context.Context, id string, fn func(s *cinder.Snapshot) error) (*cinder.Snapshot, error) {
	var before cinder.Snapshot
	return modify(ctx, db, "update snapshot "+id,
		func(tx *sql.Tx) (*cinder.Snapshot, error) {
			s, err := db.getSnapshot(ctx, tx, id, db.dialect.forUpdate)
			if err == nil {
				before = *s
			}
			return s, err
		},
		fn,
		func(tx *sql.Tx, s *cinder.Snapshot) error {
			s.ID = id
			s.UpdatedAt = timePtr(now())
			normalizeSnapshotTimes(s)
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("snapshots", snapshotColumns)), keyLast(snapshotValues(s))...); err != nil {
				return err
			}
			return db.followSnapshot(ctx, tx, &before, s)
		})
}

// DestroySnapshot soft-deletes snapshot id: deleted, status deleted,
// deleted_at now. Its quota usage is given back in the same transaction.
func (db *DB) DestroySnapshot(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		s, err := db.getSnapshot(ctx, tx, id, db.dialect.forUpdate)
		if err != nil {
			return err
		}
		t := formatTime(now())
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE snapshots
			SET deleted = TRUE, status = ?, deleted_at = ?, updated_at = ? WHERE id = ?`), cinder.SnapshotDeleted, t, t, id); err != nil {
			return err
		}
		return db.followSnapshot(ctx, tx, s, nil)
	})
	return wrap(err, "destroy snapshot %s", id)
}
