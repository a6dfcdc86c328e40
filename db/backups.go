package db

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// backupColumns are the backups table's columns, id first, in the order
// backupValues and scanBackup use.
var backupColumns = []string{
	"id", "volume_id", "user_id", "project_id", "host", "availability_zone",
	"display_name", "display_description", "container", "status", "fail_reason",
	"service_metadata", "service", "size", "object_count", "parent_id", "snapshot_id",
	"data_timestamp", "restore_volume_id", "metadata", "created_at", "updated_at",
	"deleted", "deleted_at",
}

// selectBackups reads backupColumns then num_dependent_backups, which is
// counted rather than kept so that it cannot drift.
var selectBackups = "SELECT " + strings.Join(backupColumns, ", ") +
	", (SELECT count(*) FROM backups c WHERE c.parent_id = backups.id AND c.deleted = FALSE) FROM backups"

// backupSortColumns are the keys backups sort on: the volumes' with name
// (3.37) for display_name.
var backupSortColumns = func() map[string]string {
	m := maps.Clone(sortColumns)
	m["name"] = "display_name"
	m["data_timestamp"] = "data_timestamp"
	return m
}()

func backupValues(b *cinder.Backup) []any {
	return []any{
		b.ID, b.VolumeID, b.UserID, b.ProjectID, b.Host, b.AvailabilityZone,
		b.DisplayName, b.DisplayDescription, b.Container, b.Status, b.FailReason,
		b.ServiceMetadata, b.Service, b.Size, b.ObjectCount, b.ParentID, b.SnapshotID,
		formatTime(b.DataTimestamp), b.RestoreVolumeID, encodeMap(b.Metadata), formatTime(b.CreatedAt), formatTimePtr(b.UpdatedAt),
		b.Deleted, formatTimePtr(b.DeletedAt),
	}
}

func scanBackup(row scanner) (*cinder.Backup, error) {
	var b cinder.Backup
	var metadata, created, stamp string
	var updated, deleted sql.NullString
	err := row.Scan(
		&b.ID, &b.VolumeID, &b.UserID, &b.ProjectID, &b.Host, &b.AvailabilityZone,
		&b.DisplayName, &b.DisplayDescription, &b.Container, &b.Status, &b.FailReason,
		&b.ServiceMetadata, &b.Service, &b.Size, &b.ObjectCount, &b.ParentID, &b.SnapshotID,
		&stamp, &b.RestoreVolumeID, &metadata, &created, &updated,
		&b.Deleted, &deleted, &b.NumDependentBackups,
	)
	if err != nil {
		return nil, err
	}
	if b.Metadata, err = decodeMap(metadata); err != nil {
		return nil, err
	}
	if b.DataTimestamp, err = parseTime(stamp); err != nil {
		return nil, err
	}
	if b.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if b.UpdatedAt, err = parseTimePtr(updated); err != nil {
		return nil, err
	}
	b.DeletedAt, err = parseTimePtr(deleted)
	return &b, err
}

// normalizeBackupTimes rounds b's times to what the database keeps.
func normalizeBackupTimes(b *cinder.Backup) {
	b.CreatedAt, b.DataTimestamp = dbTime(b.CreatedAt), dbTime(b.DataTimestamp)
	for _, t := range []**time.Time{&b.UpdatedAt, &b.DeletedAt} {
		if *t != nil {
			*t = timePtr(dbTime(**t))
		}
	}
}

// CreateBackup inserts b; an empty ID gets a new UUID, a zero CreatedAt
// now, a zero DataTimestamp CreatedAt. A deleted row of b's id, which an
// import of an exported backup brings back as Cinder does, is replaced.
// Its quota usage counts it, and the reservations made for it end, in the
// same transaction.
func (db *DB) CreateBackup(ctx context.Context, b *cinder.Backup) error {
	if b.ID == "" {
		b.ID = uuid.NewString()
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now()
	}
	if b.DataTimestamp.IsZero() {
		b.DataTimestamp = b.CreatedAt
	}
	normalizeBackupTimes(b)
	if b.Metadata == nil {
		b.Metadata = map[string]string{}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.dialect.rebind("DELETE FROM backups WHERE id = ? AND deleted = TRUE"), b.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("backups", backupColumns)), backupValues(b)...); err != nil {
			return err
		}
		return db.followBackup(ctx, tx, nil, b)
	})
	if duplicate(err) {
		return cinder.Conflict("Backup %s already exists.", b.ID)
	}
	return wrap(err, "create backup %s", b.ID)
}

// GetBackup returns backup id (not deleted), or cinder.BackupNotFound.
func (db *DB) GetBackup(ctx context.Context, id string) (*cinder.Backup, error) {
	b, err := db.getBackup(ctx, db.sql, id, "")
	return b, wrap(err, "get backup %s", id)
}

// getBackup reads backup id through q, the query ending with lock.
func (db *DB) getBackup(ctx context.Context, q querier, id, lock string) (*cinder.Backup, error) {
	b, err := scanBackup(q.QueryRowContext(ctx, db.dialect.rebind(selectBackups+" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.BackupNotFound(id)
	}
	return b, err
}

// BackupFilter selects backups for ListBackups; zero values select all.
type BackupFilter struct {
	ProjectID      string   // only this project's backups
	VolumeID       string   // only this volume's backups
	Host           string   // only those this cinder-backup host keeps
	Statuses       []string // only these statuses
	Name           string   // display_name equals
	Match                   // Cinder's general filters
	Marker         string   // id after which to start, in the sort order
	Offset         int      // backups to skip after Marker
	Limit          int      // at most this many; 0 = no limit
	SortKey        string   // created_at (default), id, size, status, display_name, name, updated_at, data_timestamp
	SortDescending bool     // descending; false sorts ascending
}

// where returns the WHERE clause selecting f's backups in dialect d, and
// its arguments.
func (f *BackupFilter) where(d *dialect) (string, []any) {
	where, args := whereEqual(f.Statuses, [][2]string{
		{"project_id", f.ProjectID}, {"volume_id", f.VolumeID}, {"host", f.Host}, {"display_name", f.Name},
	})
	return f.and(d, backupMatch, where, args)
}

// ListBackups returns the backups (not deleted) that f selects, sorted by
// f.SortKey then id.
func (db *DB) ListBackups(ctx context.Context, f BackupFilter) ([]*cinder.Backup, error) {
	return listPage(ctx, db, f.page(db.dialect), scanBackup)
}

// page is the page of backups f selects in dialect d.
func (f *BackupFilter) page(d *dialect) page {
	where, args := f.where(d)
	return page{table: "backups", selectAll: selectBackups, where: where, args: args,
		columns: backupSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.BackupNotFound(id) }, offset: f.Offset, limit: f.Limit}
}

// CountBackups returns how many backups ListBackups would return without
// Marker and Limit.
func (db *DB) CountBackups(ctx context.Context, f BackupFilter) (int, error) {
	where, args := f.where(db.dialect)
	var n int
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind("SELECT count(*) FROM backups"+where), args...).Scan(&n)
	return n, wrap(err, "count backups")
}

// LatestBackup returns the available backup of volume with the latest
// data_timestamp, the parent of an incremental backup, or BackupNotFound.
// A non-zero before takes only backups whose data is older, as the parent
// of a snapshot's backup must be older than the snapshot.
func (db *DB) LatestBackup(ctx context.Context, volume string, before time.Time) (*cinder.Backup, error) {
	list, err := db.ListBackups(ctx, BackupFilter{VolumeID: volume, Statuses: []string{cinder.BackupAvailable},
		SortKey: "data_timestamp", SortDescending: true})
	if err != nil {
		return nil, err
	}
	for _, b := range list {
		if before.IsZero() || b.DataTimestamp.Before(before) {
			return b, nil
		}
	}
	return nil, cinder.NotFound("No backups available to do an incremental backup.")
}

// UpdateBackup is UpdateVolume for backup id: Cinder's conditional_update,
// fn checking preconditions and changing the row.
func (db *DB) UpdateBackup(ctx context.Context, id string, fn func(b *cinder.Backup) error) (*cinder.Backup, error) {
	var before cinder.Backup
	return modify(ctx, db, "update backup "+id,
		func(tx *sql.Tx) (*cinder.Backup, error) {
			b, err := db.getBackup(ctx, tx, id, db.dialect.forUpdate)
			if err == nil {
				before = *b
			}
			return b, err
		},
		fn,
		func(tx *sql.Tx, b *cinder.Backup) error {
			b.ID = id
			b.UpdatedAt = timePtr(now())
			normalizeBackupTimes(b)
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("backups", backupColumns)), keyLast(backupValues(b))...); err != nil {
				return err
			}
			return db.followBackup(ctx, tx, &before, b)
		})
}

// DestroyBackup soft-deletes backup id: deleted, status deleted,
// deleted_at now. Its quota usage is given back in the same transaction.
func (db *DB) DestroyBackup(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		b, err := db.getBackup(ctx, tx, id, db.dialect.forUpdate)
		if err != nil {
			return err
		}
		t := formatTime(now())
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE backups
			SET deleted = TRUE, status = ?, deleted_at = ?, updated_at = ? WHERE id = ?`), cinder.BackupDeleted, t, t, id); err != nil {
			return err
		}
		return db.followBackup(ctx, tx, b, nil)
	})
	return wrap(err, "destroy backup %s", id)
}
