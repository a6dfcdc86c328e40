package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// transferColumns are the transfers table's columns, id first, in the order
// transferValues and scanTransfer use.
var transferColumns = []string{
	"id", "volume_id", "display_name", "salt", "crypt_hash", "no_snapshots",
	"source_project_id", "destination_project_id", "accepted", "created_at",
	"updated_at", "deleted", "deleted_at",
}

var selectTransfers = "SELECT " + strings.Join(transferColumns, ", ") + " FROM transfers"

// transferSortColumns are the keys transfers sort on.
var transferSortColumns = map[string]string{
	"created_at":   "created_at",
	"id":           "id",
	"display_name": "display_name",
	"volume_id":    "volume_id",
	"updated_at":   "COALESCE(updated_at, '')",
}

func transferValues(t *cinder.Transfer) []any {
	return []any{
		t.ID, t.VolumeID, t.DisplayName, t.Salt, t.CryptHash, t.NoSnapshots,
		t.SourceProjectID, t.DestinationProjectID, t.Accepted, formatTime(t.CreatedAt),
		formatTimePtr(t.UpdatedAt), t.Deleted, formatTimePtr(t.DeletedAt),
	}
}

func scanTransfer(row scanner) (*cinder.Transfer, error) {
	var t cinder.Transfer
	var created string
	var updated, deleted sql.NullString
	err := row.Scan(&t.ID, &t.VolumeID, &t.DisplayName, &t.Salt, &t.CryptHash, &t.NoSnapshots,
		&t.SourceProjectID, &t.DestinationProjectID, &t.Accepted, &created,
		&updated, &t.Deleted, &deleted)
	if err != nil {
		return nil, err
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if t.UpdatedAt, err = parseTimePtr(updated); err != nil {
		return nil, err
	}
	t.DeletedAt, err = parseTimePtr(deleted)
	return &t, err
}

// CreateTransfer inserts t (an empty ID gets a new UUID, CreatedAt now) and
// moves its volume from available to awaiting-transfer in the same
// transaction, as Cinder's transfer_create; a volume no longer available
// is InvalidVolume and nothing is written.
func (db *DB) CreateTransfer(ctx context.Context, t *cinder.Transfer) error {
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	t.CreatedAt = now()
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		v, err := db.getVolume(ctx, tx, t.VolumeID, db.dialect.forUpdate)
		if err != nil {
			return err
		}
		if v.Status != cinder.StatusAvailable {
			return cinder.InvalidVolume("Transfer %s: Volume id %s expected in available state.", t.ID, t.VolumeID)
		}
		before := *v
		v.Status = cinder.StatusAwaitingTransfer
		if err := db.putVolume(ctx, tx, v.ID, &before, v); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind(insertSQL("transfers", transferColumns)), transferValues(t)...)
		if duplicate(err) {
			return cinder.Conflict("Transfer %s already exists.", t.ID)
		}
		return err
	})
	return wrap(err, "create transfer of volume %s", t.VolumeID)
}

// GetTransfer returns transfer id (not deleted), or cinder.TransferNotFound.
func (db *DB) GetTransfer(ctx context.Context, id string) (*cinder.Transfer, error) {
	t, err := db.getTransfer(ctx, db.sql, id)
	return t, wrap(err, "get transfer %s", id)
}

// getTransfer reads transfer id through q, locking it for a transaction.
func (db *DB) getTransfer(ctx context.Context, q querier, id string) (*cinder.Transfer, error) {
	lock := ""
	if _, ok := q.(*sql.Tx); ok {
		lock = db.dialect.forUpdate
	}
	t, err := scanTransfer(q.QueryRowContext(ctx, db.dialect.rebind(selectTransfers+" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.TransferNotFound(id)
	}
	return t, err
}

// TransferFilter selects transfers for ListTransfers; zero values select all.
type TransferFilter struct {
	ProjectID      string // only transfers of volumes this project owns
	ID             string // only this transfer
	VolumeID       string // only transfers of this volume
	Name           string // display_name equals
	Source         string // source_project_id equals
	Destination    string // destination_project_id equals
	Marker         string // id after which to start, in the sort order
	Offset         int    // transfers to skip after Marker
	Limit          int    // at most this many; 0 = no limit
	SortKey        string // created_at (default), id, display_name, volume_id, updated_at
	SortDescending bool
}

// where returns the WHERE clause selecting f's transfers, and its arguments.
func (f *TransferFilter) where() (string, []any) {
	where, args := whereEqual(nil, [][2]string{{"id", f.ID}, {"volume_id", f.VolumeID}, {"display_name", f.Name},
		{"source_project_id", f.Source}, {"destination_project_id", f.Destination}})
	if f.ProjectID != "" {
		// As Cinder, a transfer belongs to its volume's project.
		where += " AND volume_id IN (SELECT id FROM volumes WHERE project_id = ?)"
		args = append(args, f.ProjectID)
	}
	return where, args
}

// ListTransfers returns the transfers (not deleted) that f selects, sorted
// by f.SortKey then id.
func (db *DB) ListTransfers(ctx context.Context, f TransferFilter) ([]*cinder.Transfer, error) {
	where, args := f.where()
	return listPage(ctx, db, page{table: "transfers", selectAll: selectTransfers, where: where, args: args,
		columns: transferSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.TransferNotFound(id) }, offset: f.Offset, limit: f.Limit}, scanTransfer)
}

// DestroyTransfer soft-deletes transfer id and gives its volume back its
// available status if it is still awaiting-transfer, as Cinder's
// transfer_destroy (a volume in another status is left as it is).
func (db *DB) DestroyTransfer(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := db.getTransfer(ctx, tx, id)
		if err != nil {
			return err
		}
		v, err := db.getVolume(ctx, tx, t.VolumeID, db.dialect.forUpdate)
		if err == nil && v.Status == cinder.StatusAwaitingTransfer {
			before := *v
			v.Status = cinder.StatusAvailable
			err = db.putVolume(ctx, tx, v.ID, &before, v)
		}
		if err != nil && !cinder.IsNotFound(err) {
			return err
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind("UPDATE transfers SET deleted = TRUE, deleted_at = ? WHERE id = ?"),
			formatTime(now()), id)
		return err
	})
	return wrap(err, "destroy transfer %s", id)
}

// AcceptTransfer gives transfer id's volume, awaiting-transfer, to user and
// project and makes it available, with its snapshots unless the transfer
// leaves them behind (each must then be available), and soft-deletes the
// transfer as accepted by project, all in one transaction as Cinder's
// transfer_accept: a refusal (InvalidVolume, InvalidSnapshot) changes
// nothing. It returns the transfer as it was and the volume as given.
func (db *DB) AcceptTransfer(ctx context.Context, id, user, project string) (*cinder.Transfer, *cinder.Volume, error) {
	var t *cinder.Transfer
	var v *cinder.Volume
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = db.getTransfer(ctx, tx, id); err != nil {
			return err
		}
		if v, err = db.getVolume(ctx, tx, t.VolumeID, db.dialect.forUpdate); err != nil {
			return err
		}
		if v.Status != cinder.StatusAwaitingTransfer {
			return cinder.InvalidVolume("Transfer %s: Volume id %s expected in awaiting-transfer state.", id, v.ID)
		}
		before := *v
		v.Status, v.UserID, v.ProjectID = cinder.StatusAvailable, user, project
		if err := db.putVolume(ctx, tx, v.ID, &before, v); err != nil {
			return err
		}
		if !t.NoSnapshots {
			if err := db.giveSnapshots(ctx, tx, id, v.ID, user, project); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind(`UPDATE transfers
			SET deleted = TRUE, deleted_at = ?, destination_project_id = ?, accepted = TRUE WHERE id = ?`),
			formatTime(now()), project, id)
		return err
	})
	if err != nil {
		return nil, nil, wrap(err, "accept transfer %s", id)
	}
	return t, v, nil
}

// giveSnapshots gives the snapshots of volume, each of which must be
// available, to user and project, for the transfer id being accepted in tx.
func (db *DB) giveSnapshots(ctx context.Context, tx *sql.Tx, id, volume, user, project string) error {
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(selectSnapshots+" WHERE volume_id = ? AND deleted = FALSE"+db.dialect.forUpdate), volume)
	if err != nil {
		return err
	}
	var snaps []*cinder.Snapshot
	for rows.Next() {
		s, err := scanSnapshot(rows)
		if err != nil {
			_ = rows.Close() // the scan's error says what failed
			return err
		}
		snaps = append(snaps, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, s := range snaps {
		if s.Status != cinder.SnapshotAvailable {
			return cinder.Errorf("InvalidSnapshot", 400, "Invalid snapshot: Transfer %s: Snapshot %s is not in the expected available state.", id, s.ID)
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind("UPDATE snapshots SET user_id = ?, project_id = ?, updated_at = ? WHERE id = ?"),
			user, project, formatTime(now()), s.ID); err != nil {
			return err
		}
		after := *s
		after.UserID, after.ProjectID = user, project
		if err := db.followSnapshot(ctx, tx, s, &after); err != nil {
			return err
		}
	}
	return nil
}
