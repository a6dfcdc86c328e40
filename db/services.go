package db

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// serviceColumns are the services table's columns, id first, in the order
// serviceValues and scanService use.
var serviceColumns = []string{
	"id", "uuid", "host", `"binary"`, "topic", "availability_zone", "disabled",
	"disabled_reason", "frozen", "report_count", "cluster_name", "created_at", "updated_at",
}

var selectServices = "SELECT " + strings.Join(serviceColumns, ", ") + " FROM services"

func serviceValues(s *cinder.Service) []any {
	return []any{
		s.ID, s.UUID, s.Host, s.Binary, s.Topic, s.AvailabilityZone, s.Disabled,
		s.DisabledReason, s.Frozen, s.ReportCount, s.ClusterName, formatTime(s.CreatedAt), formatTimePtr(s.UpdatedAt),
	}
}

func scanService(row scanner) (*cinder.Service, error) {
	var s cinder.Service
	var created string
	var updated sql.NullString
	err := row.Scan(&s.ID, &s.UUID, &s.Host, &s.Binary, &s.Topic, &s.AvailabilityZone, &s.Disabled,
		&s.DisabledReason, &s.Frozen, &s.ReportCount, &s.ClusterName, &created, &updated)
	if err != nil {
		return nil, err
	}
	if s.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	s.UpdatedAt, err = parseTimePtr(updated)
	return &s, err
}

// normalizeServiceTimes rounds s's times to what the database keeps.
func normalizeServiceTimes(s *cinder.Service) {
	s.CreatedAt = dbTime(s.CreatedAt)
	if s.UpdatedAt != nil {
		s.UpdatedAt = timePtr(dbTime(*s.UpdatedAt))
	}
}

// CreateService inserts s (new UUID if empty) and sets s.ID. A zero
// CreatedAt becomes now.
func (db *DB) CreateService(ctx context.Context, s *cinder.Service) error {
	if s.UUID == "" {
		s.UUID = uuid.NewString()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	normalizeServiceTimes(s)
	query := insertSQL("services", serviceColumns[1:]) + " RETURNING id"
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind(query), serviceValues(s)[1:]...).Scan(&s.ID)
	return wrap(err, "create service %s on %s", s.Binary, s.Host)
}

// GetService returns the service of binary on host, or cinder.ServiceNotFound.
func (db *DB) GetService(ctx context.Context, host, binary string) (*cinder.Service, error) {
	row := db.sql.QueryRowContext(ctx, db.dialect.rebind(selectServices+
		` WHERE host = ? AND "binary" = ? AND deleted = FALSE ORDER BY id LIMIT 1`), host, binary)
	s, err := scanService(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.ServiceNotFound(binary + " on " + host)
	}
	return s, wrap(err, "get service %s on %s", binary, host)
}

// ListServices returns services, filtered by host as Cinder's _filter_host
// (a host matches its backends too, host@backend its pools) and binary
// when not empty, ordered by id.
func (db *DB) ListServices(ctx context.Context, host, binary string) ([]*cinder.Service, error) {
	query := selectServices + " WHERE deleted = FALSE"
	var args []any
	if host != "" {
		cond, hostArgs := onHost(host)
		query += " AND " + cond
		args = append(args, hostArgs...)
	}
	if binary != "" {
		query += ` AND "binary" = ?`
		args = append(args, binary)
	}
	return queryAll(ctx, db, "list services", query+" ORDER BY id", args, scanService)
}

// UpdateService is UpdateVolume for service id.
func (db *DB) UpdateService(ctx context.Context, id int64, fn func(s *cinder.Service) error) (*cinder.Service, error) {
	key := strconv.FormatInt(id, 10)
	return modify(ctx, db, "update service "+key,
		func(tx *sql.Tx) (*cinder.Service, error) {
			s, err := scanService(tx.QueryRowContext(ctx, db.dialect.rebind(selectServices+
				" WHERE id = ? AND deleted = FALSE"+db.dialect.forUpdate), id))
			if errors.Is(err, sql.ErrNoRows) {
				return nil, cinder.ServiceNotFound(key)
			}
			return s, err
		},
		fn,
		func(tx *sql.Tx, s *cinder.Service) error {
			s.ID = id
			s.UpdatedAt = timePtr(now())
			normalizeServiceTimes(s)
			_, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("services", serviceColumns)), keyLast(serviceValues(s))...)
			return err
		})
}

// Heartbeat records that service id is alive: report_count+1, updated_at now.
func (db *DB) Heartbeat(ctx context.Context, id int64) error {
	key := strconv.FormatInt(id, 10)
	res, err := db.w.ExecContext(ctx, db.dialect.rebind(
		"UPDATE services SET report_count = report_count + 1, updated_at = ? WHERE id = ? AND deleted = FALSE"),
		formatTime(now()), id)
	if err == nil {
		err = mustAffect(res, cinder.ServiceNotFound(key))
	}
	return wrap(err, "heartbeat of service %s", key)
}
