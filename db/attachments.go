package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// attachmentColumns are the volume_attachment table's columns, id first, in
// the order attachmentValues and scanAttachment use.
var attachmentColumns = []string{
	"id", "volume_id", "instance_uuid", "attached_host", "mountpoint", "attach_time", "detach_time",
	"attach_status", "attach_mode", "connection_info", "connector", "created_at", "updated_at",
	"deleted", "deleted_at",
}

var selectAttachments = "SELECT " + strings.Join(attachmentColumns, ", ") + " FROM volume_attachment"

// attachmentSortColumns are the keys attachments sort on.
var attachmentSortColumns = map[string]string{
	"created_at": "created_at",
	"id":         "id",
	"status":     "attach_status",
	"updated_at": "COALESCE(updated_at, '')",
}

func attachmentValues(a *cinder.Attachment) ([]any, error) {
	var connector string
	if a.Connector != nil {
		b, err := json.Marshal(a.Connector)
		if err != nil {
			return nil, fmt.Errorf("encode connector of attachment %s: %w", a.ID, err)
		}
		connector = string(b)
	}
	return []any{
		a.ID, a.VolumeID, a.InstanceUUID, a.AttachedHost, a.Mountpoint, formatTimePtr(a.AttachTime), formatTimePtr(a.DetachTime),
		a.AttachStatus, a.AttachMode, string(a.ConnectionInfo), connector, formatTime(a.CreatedAt), formatTimePtr(a.UpdatedAt),
		a.Deleted, formatTimePtr(a.DeletedAt),
	}, nil
}

func scanAttachment(row scanner) (*cinder.Attachment, error) {
	var a cinder.Attachment
	var info, connector, created string
	var attached, detached, updated, deleted sql.NullString
	err := row.Scan(&a.ID, &a.VolumeID, &a.InstanceUUID, &a.AttachedHost, &a.Mountpoint, &attached, &detached,
		&a.AttachStatus, &a.AttachMode, &info, &connector, &created, &updated, &a.Deleted, &deleted)
	if err != nil {
		return nil, err
	}
	if info != "" {
		a.ConnectionInfo = json.RawMessage(info)
	}
	if connector != "" {
		if err := json.Unmarshal([]byte(connector), &a.Connector); err != nil {
			return nil, fmt.Errorf("stored connector %q: %w", connector, err)
		}
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if a.AttachTime, err = parseTimePtr(attached); err != nil {
		return nil, err
	}
	if a.DetachTime, err = parseTimePtr(detached); err != nil {
		return nil, err
	}
	if a.UpdatedAt, err = parseTimePtr(updated); err != nil {
		return nil, err
	}
	a.DeletedAt, err = parseTimePtr(deleted)
	return &a, err
}

// normalizeAttachmentTimes rounds a's times to what the database keeps.
func normalizeAttachmentTimes(a *cinder.Attachment) {
	a.CreatedAt = dbTime(a.CreatedAt)
	for _, t := range []**time.Time{&a.AttachTime, &a.DetachTime, &a.UpdatedAt, &a.DeletedAt} {
		if *t != nil {
			*t = timePtr(dbTime(**t))
		}
	}
}

// GetAttachment returns attachment id (not deleted), or
// cinder.AttachmentNotFound.
func (db *DB) GetAttachment(ctx context.Context, id string) (*cinder.Attachment, error) {
	a, err := db.getAttachment(ctx, db.sql, id, "")
	return a, wrap(err, "get attachment %s", id)
}

// getAttachment reads attachment id through q, the query ending with lock.
func (db *DB) getAttachment(ctx context.Context, q querier, id, lock string) (*cinder.Attachment, error) {
	a, err := scanAttachment(q.QueryRowContext(ctx, db.dialect.rebind(selectAttachments+" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.AttachmentNotFound(id)
	}
	return a, err
}

// AttachmentFilter selects attachments for ListAttachments; zero values
// select all.
type AttachmentFilter struct {
	ProjectID      string // only attachments of this project's volumes
	VolumeID       string // only this volume's
	InstanceUUID   string // only this instance's
	AttachStatus   string // only those of this attach_status
	Match                 // Cinder's general filters (no metadata)
	Marker         string // id after which to start, in the sort order
	Offset         int    // attachments to skip after Marker
	Limit          int    // at most this many; 0 = no limit
	SortKey        string // created_at (default), id, status, updated_at
	SortDescending bool
}

// ListAttachments returns the attachments (not deleted) that f selects,
// sorted by f.SortKey then id.
func (db *DB) ListAttachments(ctx context.Context, f AttachmentFilter) ([]*cinder.Attachment, error) {
	where, args := whereEqual(nil, [][2]string{{"volume_id", f.VolumeID}, {"instance_uuid", f.InstanceUUID}, {"attach_status", f.AttachStatus}})
	if f.ProjectID != "" {
		// Cinder joins the volumes: an attachment belongs to its volume's project.
		where += " AND volume_id IN (SELECT id FROM volumes WHERE project_id = ?)"
		args = append(args, f.ProjectID)
	}
	where, args = f.and(db.dialect, attachmentMatch, where, args)
	return listPage(ctx, db, page{table: "volume_attachment", selectAll: selectAttachments, where: where, args: args,
		columns: attachmentSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.AttachmentNotFound(id) }, offset: f.Offset, limit: f.Limit}, scanAttachment)
}

// VolumeAttachments returns the attachments (not deleted) of the volumes
// ids, by volume id, oldest first: one query for a page of volumes. The
// query is not prepared, its IN list varying with the page.
func (db *DB) VolumeAttachments(ctx context.Context, ids []string) (map[string][]*cinder.Attachment, error) {
	out := map[string][]*cinder.Attachment{}
	if len(ids) == 0 {
		return out, nil
	}
	query := selectAttachments + " WHERE deleted = FALSE AND volume_id IN (" + marks(len(ids)) + ") ORDER BY created_at, id"
	rows, err := db.sql.QueryContext(ctx, db.dialect.rebind(query), anys(ids)...)
	if err != nil {
		return nil, wrap(err, "list attachments of %d volumes", len(ids))
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, wrap(err, "list attachments of %d volumes", len(ids))
		}
		out[a.VolumeID] = append(out[a.VolumeID], a)
	}
	return out, wrap(rows.Err(), "list attachments of %d volumes", len(ids))
}

// liveAttachments reads the attachments (not deleted) of volume id through
// tx, oldest first, locking them.
func (db *DB) liveAttachments(ctx context.Context, tx *sql.Tx, id string) ([]*cinder.Attachment, error) {
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(selectAttachments+
		" WHERE volume_id = ? AND deleted = FALSE ORDER BY created_at, id"+db.dialect.forUpdate), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cinder.Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// volumeWithAttachments is a volume and its live attachments, read and
// locked in one transaction.
type volumeWithAttachments struct {
	v      *cinder.Volume
	before cinder.Volume // v as read, for the quota usage that follows it
	live   []*cinder.Attachment
}

// lockVolume reads volume id and its live attachments through tx, locked:
// the volume row is the lock every attachment change takes first.
func (db *DB) lockVolume(ctx context.Context, tx *sql.Tx, id string) (volumeWithAttachments, error) {
	v, err := db.getVolume(ctx, tx, id, db.dialect.forUpdate)
	if err != nil {
		return volumeWithAttachments{}, err
	}
	live, err := db.liveAttachments(ctx, tx, id)
	return volumeWithAttachments{v, *v, live}, err
}

// CreateAttachment inserts a (an empty ID gets a new UUID, a zero CreatedAt
// now) in one transaction with fn, Cinder's conditional update of the
// volume that takes it: fn sees the volume and its live attachments, and
// refuses (its error comes back unchanged) or changes the volume, which is
// written with a. It returns the volume as written.
func (db *DB) CreateAttachment(ctx context.Context, a *cinder.Attachment, fn func(v *cinder.Volume, live []*cinder.Attachment) error) (*cinder.Volume, error) {
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	normalizeAttachmentTimes(a)
	values, err := attachmentValues(a)
	if err != nil {
		return nil, err
	}
	vw, err := modify(ctx, db, "create attachment "+a.ID+" of volume "+a.VolumeID,
		func(tx *sql.Tx) (volumeWithAttachments, error) { return db.lockVolume(ctx, tx, a.VolumeID) },
		func(vw volumeWithAttachments) error { return fn(vw.v, vw.live) },
		func(tx *sql.Tx, vw volumeWithAttachments) error {
			if err := db.putVolume(ctx, tx, a.VolumeID, &vw.before, vw.v); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("volume_attachment", attachmentColumns)), values...)
			if duplicate(err) {
				return cinder.Conflict("Attachment %s already exists.", a.ID)
			}
			return err
		})
	return vw.v, err
}

// UpdateVolumeAttachments is UpdateVolume with the volume's live
// attachments to decide on: fn refuses or changes the volume, as Cinder's
// conditional updates filtered by volume_has_attachments_filter.
func (db *DB) UpdateVolumeAttachments(ctx context.Context, id string, fn func(v *cinder.Volume, live []*cinder.Attachment) error) (*cinder.Volume, error) {
	vw, err := modify(ctx, db, "update volume "+id,
		func(tx *sql.Tx) (volumeWithAttachments, error) { return db.lockVolume(ctx, tx, id) },
		func(vw volumeWithAttachments) error { return fn(vw.v, vw.live) },
		func(tx *sql.Tx, vw volumeWithAttachments) error { return db.putVolume(ctx, tx, id, &vw.before, vw.v) })
	return vw.v, err
}

// attachmentAndVolume is an attachment and its volume, read and locked in
// one transaction.
type attachmentAndVolume struct {
	a      *cinder.Attachment
	v      *cinder.Volume
	before cinder.Volume // v as read, for the quota usage that follows it
}

// UpdateAttachment reads attachment id and its volume in a transaction,
// lets fn change both and writes both back (UpdatedAt now) unless fn
// returns an error, which comes back unchanged: Cinder's updates of an
// attachment with its volume, as volume_attached. fn may run again if the
// transaction is retried.
func (db *DB) UpdateAttachment(ctx context.Context, id string, fn func(a *cinder.Attachment, v *cinder.Volume) error) (*cinder.Attachment, *cinder.Volume, error) {
	av, err := modify(ctx, db, "update attachment "+id,
		func(tx *sql.Tx) (attachmentAndVolume, error) {
			a, err := db.getAttachment(ctx, tx, id, "")
			if err != nil {
				return attachmentAndVolume{}, err
			}
			// The volume first, as every attachment change locks it.
			v, err := db.getVolume(ctx, tx, a.VolumeID, db.dialect.forUpdate)
			if err != nil {
				return attachmentAndVolume{}, err
			}
			if a, err = db.getAttachment(ctx, tx, id, db.dialect.forUpdate); err == nil && a.VolumeID != v.ID {
				err = fmt.Errorf("attachment %s moved from volume %s to %s meanwhile", id, v.ID, a.VolumeID)
			}
			return attachmentAndVolume{a, v, *v}, err
		},
		func(av attachmentAndVolume) error { return fn(av.a, av.v) },
		func(tx *sql.Tx, av attachmentAndVolume) error {
			if err := db.putVolume(ctx, tx, av.v.ID, &av.before, av.v); err != nil {
				return err
			}
			return db.putAttachment(ctx, tx, id, av.a)
		})
	return av.a, av.v, err
}

// putAttachment writes a as the row of attachment id, UpdatedAt now.
func (db *DB) putAttachment(ctx context.Context, tx *sql.Tx, id string, a *cinder.Attachment) error {
	a.ID = id
	a.UpdatedAt = timePtr(now())
	normalizeAttachmentTimes(a)
	values, err := attachmentValues(a)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, db.dialect.rebind(updateSQL("volume_attachment", attachmentColumns)), keyLast(values)...)
	return err
}

// attachStatusToStatus maps a volume's attach_status to its status where
// they differ, as Cinder's ATTACH_STATUS_MAP; others are the same word.
var attachStatusToStatus = map[string]string{cinder.AttachAttached: cinder.StatusInUse, cinder.AttachDetached: cinder.StatusAvailable}

// DetachAttachment ends attachment attachmentID of volume volumeID, as
// Cinder's volume_detached: the attachment (if it still exists) is deleted,
// detached now, and the volume takes its statuses from the attachments
// left, ignoring those in error: attached (in-use) before attaching,
// detaching and reserved, detached (available) when none is left; its
// status stays while a migration or an upload holds it. It returns the
// volume as written.
func (db *DB) DetachAttachment(ctx context.Context, volumeID, attachmentID string) (*cinder.Volume, error) {
	var out *cinder.Volume
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		vw, err := db.lockVolume(ctx, tx, volumeID)
		if err != nil {
			return err
		}
		attachStatus := cinder.AttachDetached
		for _, a := range vw.live {
			if a.ID == attachmentID {
				t := now()
				a.Deleted, a.DeletedAt, a.DetachTime, a.AttachStatus = true, &t, &t, cinder.AttachDetached
				if err := db.putAttachment(ctx, tx, a.ID, a); err != nil {
					return err
				}
				continue
			}
			// The first in alphabetical order: attached, attaching, detaching, reserved.
			if !strings.HasPrefix(a.AttachStatus, "error_") && (attachStatus == cinder.AttachDetached || a.AttachStatus < attachStatus) {
				attachStatus = a.AttachStatus
			}
		}
		v := vw.v
		v.AttachStatus = attachStatus
		if attachStatus != cinder.AttachDetached || v.MigrationStatus == "" && v.Status != "uploading" ||
			v.MigrationStatus == cinder.MigrationSuccess || v.MigrationStatus == cinder.MigrationError {
			v.Status = attachStatus
			if s, ok := attachStatusToStatus[attachStatus]; ok {
				v.Status = s
			}
		}
		if err := db.putVolume(ctx, tx, volumeID, &vw.before, v); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, wrap(err, "detach attachment %s of volume %s", attachmentID, volumeID)
}
