package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// qosColumns are the quality_of_service_specs table's columns, id first,
// in the order qosValues and scanQoS use.
var qosColumns = []string{"id", "name", "consumer", "specs", "created_at", "updated_at"}

var selectQoS = "SELECT " + strings.Join(qosColumns, ", ") + " FROM quality_of_service_specs"

// qosSortColumns are the keys QoS specs sort on; display_name is the
// name, as the API's sort keys name it.
var qosSortColumns = map[string]string{
	"created_at": "created_at", "id": "id", "name": "name", "display_name": "name", "consumer": "consumer",
	"updated_at": "COALESCE(updated_at, '')",
}

func qosValues(q *cinder.QoSSpecs) []any {
	return []any{q.ID, q.Name, q.Consumer, encodeMap(q.Specs), formatTime(q.CreatedAt), formatTimePtr(q.UpdatedAt)}
}

func scanQoS(row scanner) (*cinder.QoSSpecs, error) {
	var q cinder.QoSSpecs
	var specs, created string
	var updated sql.NullString
	if err := row.Scan(&q.ID, &q.Name, &q.Consumer, &specs, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if q.Specs, err = decodeMap(specs); err != nil {
		return nil, err
	}
	if q.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	q.UpdatedAt, err = parseTimePtr(updated)
	return &q, err
}

// QoSSpecsNotFound is QoSSpecsNotFound (404) for QoS specs id.
func QoSSpecsNotFound(id string) error {
	return cinder.Errorf("QoSSpecsNotFound", 404, "No such QoS spec %s.", id)
}

// CreateQoSSpecs inserts q with a new id, created now; a name other QoS
// specs have is QoSSpecsExists (409).
func (db *DB) CreateQoSSpecs(ctx context.Context, q *cinder.QoSSpecs) error {
	q.ID = uuid.NewString()
	q.CreatedAt, q.UpdatedAt = now(), nil
	if q.Specs == nil {
		q.Specs = map[string]string{}
	}
	_, err := db.w.ExecContext(ctx, db.dialect.rebind(insertSQL("quality_of_service_specs", qosColumns)), qosValues(q)...)
	if duplicate(err) {
		return cinder.Errorf("QoSSpecsExists", 409, "QoS Specs %s already exists.", q.Name)
	}
	return wrap(err, "create QoS specs %s", q.Name)
}

// GetQoSSpecs returns QoS specs id, or QoSSpecsNotFound.
func (db *DB) GetQoSSpecs(ctx context.Context, id string) (*cinder.QoSSpecs, error) {
	q, err := db.getQoS(ctx, db.sql, id, "")
	return q, wrap(err, "get QoS specs %s", id)
}

// getQoS reads QoS specs id through q, the query ending with lock.
func (db *DB) getQoS(ctx context.Context, q querier, id, lock string) (*cinder.QoSSpecs, error) {
	specs, err := scanQoS(q.QueryRowContext(ctx, db.dialect.rebind(selectQoS+" WHERE id = ? AND deleted = FALSE"+lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, QoSSpecsNotFound(id)
	}
	return specs, err
}

// QoSFilter selects QoS specs for ListQoSSpecs; zero values select all.
type QoSFilter struct {
	ID, Name, Consumer string // equal to these when set
	Marker             string // id after which to start, in the sort order
	Offset             int    // specs to skip after Marker
	Limit              int    // at most this many; 0 = no limit
	SortKey            string // created_at (default), id, name, consumer, updated_at
	SortDescending     bool
}

// ListQoSSpecs returns the QoS specs (not deleted) f selects, sorted by
// f.SortKey then id.
func (db *DB) ListQoSSpecs(ctx context.Context, f QoSFilter) ([]*cinder.QoSSpecs, error) {
	where, args := whereEqual(nil, [][2]string{{"id", f.ID}, {"name", f.Name}, {"consumer", f.Consumer}})
	return listPage(ctx, db, page{table: "quality_of_service_specs", selectAll: selectQoS, where: where, args: args,
		columns: qosSortColumns, sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: QoSSpecsNotFound, offset: f.Offset, limit: f.Limit}, scanQoS)
}

// UpdateQoSSpecs lets fn change QoS specs id (not its id nor creation).
func (db *DB) UpdateQoSSpecs(ctx context.Context, id string, fn func(q *cinder.QoSSpecs) error) (*cinder.QoSSpecs, error) {
	return modify(ctx, db, "update QoS specs "+id,
		func(tx *sql.Tx) (*cinder.QoSSpecs, error) { return db.getQoS(ctx, tx, id, db.dialect.forUpdate) },
		fn,
		func(tx *sql.Tx, q *cinder.QoSSpecs) error {
			q.ID = id
			q.UpdatedAt = timePtr(now())
			_, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("quality_of_service_specs", qosColumns)), keyLast(qosValues(q))...)
			return err
		})
}

// DeleteQoSSpecs soft-deletes QoS specs id. Specs volume types are
// associated with are QoSSpecsInUse unless force, which disassociates them
// first, in the same transaction.
func (db *DB) DeleteQoSSpecs(ctx context.Context, id string, force bool) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getQoS(ctx, tx, id, db.dialect.forUpdate); err != nil {
			return err
		}
		var types int
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM volume_types WHERE qos_specs_id = ? AND deleted = FALSE"), id).Scan(&types); err != nil {
			return err
		}
		if types > 0 && !force {
			return cinder.Errorf("QoSSpecsInUse", 400, "QoS Specs %s is still associated with entities.", id)
		}
		if err := db.disassociateQoS(ctx, tx, id, ""); err != nil {
			return err
		}
		t := formatTime(now())
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			"UPDATE quality_of_service_specs SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE id = ?"), t, t, id)
		return err
	})
	return wrap(err, "delete QoS specs %s", id)
}

// AssociateQoSSpecs associates volume type typeID with QoS specs id, both
// existing; a type associated with other specs is InvalidVolumeType.
func (db *DB) AssociateQoSSpecs(ctx context.Context, id, typeID string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getQoS(ctx, tx, id, db.dialect.forUpdate); err != nil {
			return err
		}
		t, err := db.getType(ctx, tx, "id", typeID, db.dialect.forUpdate)
		switch {
		case err != nil:
			return err
		case t.QoSSpecsID == id:
			return nil
		case t.QoSSpecsID != "":
			return cinder.Errorf("InvalidVolumeType", 400, "Invalid volume type: Type %s is already associated with another qos specs: %s", typeID, t.QoSSpecsID)
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind("UPDATE volume_types SET qos_specs_id = ?, updated_at = ? WHERE id = ?"),
			id, formatTime(now()), typeID)
		return err
	})
	return wrap(err, "associate volume type %s with QoS specs %s", typeID, id)
}

// DisassociateQoSSpecs disassociates volume type typeID, which must exist,
// from QoS specs id, which must exist, if it is associated with them;
// typeID "" disassociates every type.
func (db *DB) DisassociateQoSSpecs(ctx context.Context, id, typeID string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getQoS(ctx, tx, id, db.dialect.forUpdate); err != nil {
			return err
		}
		if typeID != "" {
			if _, err := db.getType(ctx, tx, "id", typeID, db.dialect.forUpdate); err != nil {
				return err
			}
		}
		return db.disassociateQoS(ctx, tx, id, typeID)
	})
	return wrap(err, "disassociate volume type %q from QoS specs %s", typeID, id)
}

// disassociateQoS disassociates volume type typeID, or every type when "",
// from QoS specs id.
func (db *DB) disassociateQoS(ctx context.Context, tx *sql.Tx, id, typeID string) error {
	query, args := "UPDATE volume_types SET qos_specs_id = '', updated_at = ? WHERE qos_specs_id = ?", []any{formatTime(now()), id}
	if typeID != "" {
		query += " AND id = ?"
		args = append(args, typeID)
	}
	_, err := tx.ExecContext(ctx, db.dialect.rebind(query), args...)
	return err
}

// TypeQoSSpecs returns the QoS specs volume type typeID is associated
// with, or nil when it has none.
func (db *DB) TypeQoSSpecs(ctx context.Context, typeID string) (*cinder.QoSSpecs, error) {
	q, err := scanQoS(db.sql.QueryRowContext(ctx, db.dialect.rebind(selectQoS+
		" WHERE deleted = FALSE AND id = (SELECT qos_specs_id FROM volume_types WHERE id = ?)"), typeID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return q, wrap(err, "get the QoS specs of volume type %s", typeID)
}
