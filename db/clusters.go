package db

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/cinder-go/cinder"
)

// selectClusters reads clusters with their services summary, as Cinder's
// Cluster model: last_heartbeat, num_hosts and num_down_hosts (the services
// whose updated_at is older than the first argument).
const selectClusters = `SELECT c.id, c.name, c."binary", c.disabled, c.disabled_reason, c.frozen, c.created_at, c.updated_at,
	(SELECT MAX(s.updated_at) FROM services s WHERE s.cluster_name = c.name AND s.deleted = FALSE),
	(SELECT count(*) FROM services s WHERE s.cluster_name = c.name AND s.deleted = FALSE),
	(SELECT count(*) FROM services s WHERE s.cluster_name = c.name AND s.deleted = FALSE AND s.updated_at < ?)
	FROM clusters c WHERE c.deleted = FALSE`

func scanCluster(row scanner) (*cinder.Cluster, error) {
	var c cinder.Cluster
	var created string
	var updated, heartbeat sql.NullString
	err := row.Scan(&c.ID, &c.Name, &c.Binary, &c.Disabled, &c.DisabledReason, &c.Frozen, &created, &updated,
		&heartbeat, &c.NumHosts, &c.NumDownHosts)
	if err != nil {
		return nil, err
	}
	if c.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = parseTimePtr(updated); err != nil {
		return nil, err
	}
	c.LastHeartbeat, err = parseTimePtr(heartbeat)
	return &c, err
}

// CreateCluster inserts c (CreatedAt now) and sets c.ID.
func (db *DB) CreateCluster(ctx context.Context, c *cinder.Cluster) error {
	c.CreatedAt = now()
	err := db.w.QueryRowContext(ctx, db.dialect.rebind(`INSERT INTO clusters
		(name, "binary", disabled, disabled_reason, frozen, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		c.Name, c.Binary, c.Disabled, c.DisabledReason, c.Frozen, formatTime(c.CreatedAt)).Scan(&c.ID)
	if duplicate(err) {
		return cinder.Conflict("Cluster %s already exists.", c.Name)
	}
	return wrap(err, "create cluster %s", c.Name)
}

// ListClusters returns the clusters (not deleted) ordered by name and
// binary, their services down when not heard from within downTime.
func (db *DB) ListClusters(ctx context.Context, downTime time.Duration) ([]*cinder.Cluster, error) {
	return queryAll(ctx, db, "list clusters", selectClusters+` ORDER BY c.name, c."binary"`,
		[]any{expired(downTime)}, scanCluster)
}

// GetCluster returns the cluster name of binary, or cinder.ClusterNotFound
// naming both as Cinder's lookup does.
func (db *DB) GetCluster(ctx context.Context, name, binary string, downTime time.Duration) (*cinder.Cluster, error) {
	c, err := scanCluster(db.sql.QueryRowContext(ctx, db.dialect.rebind(selectClusters+` AND c.name = ? AND c."binary" = ?`),
		expired(downTime), name, binary))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.ClusterNotFound("{'binary': " + pyQuote(binary) + ", 'name': " + pyQuote(name) + "}")
	}
	return c, wrap(err, "get cluster %s", name)
}

// SetClusterDisabled enables or disables cluster id with reason.
func (db *DB) SetClusterDisabled(ctx context.Context, id int64, disabled bool, reason string) error {
	res, err := db.w.ExecContext(ctx, db.dialect.rebind(
		"UPDATE clusters SET disabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND deleted = FALSE"),
		disabled, reason, formatTime(now()), id)
	if err == nil {
		err = mustAffect(res, cinder.ClusterNotFound(strconv.FormatInt(id, 10)))
	}
	return wrap(err, "update cluster %d", id)
}

// expired is the time before which a service last heard from is down.
func expired(downTime time.Duration) string { return formatTime(now().Add(-downTime)) }

// pyQuote is s as Python's repr shows a string in a dict.
func pyQuote(s string) string { return "'" + s + "'" }
