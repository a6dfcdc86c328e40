package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// volumeColumns are the volumes table's columns, id first, in the order
// volumeValues and scanVolume use.
var volumeColumns = []string{
	"id", "name_id", "user_id", "project_id", "size", "availability_zone",
	"status", "previous_status", "attach_status", "migration_status", "host",
	"cluster_name", "service_uuid", "display_name", "display_description",
	"volume_type_id", "metadata", "admin_metadata", "glance_metadata", "provider_location", "snapshot_id",
	"source_volid", "bootable", "multiattach", "use_quota",
	"replication_status", "created_at", "updated_at", "deleted", "deleted_at", "group_id",
}

var selectVolumes = "SELECT " + strings.Join(volumeColumns, ", ") + " FROM volumes"

func volumeValues(v *cinder.Volume) []any {
	return []any{
		v.ID, v.NameID, v.UserID, v.ProjectID, v.Size, v.AvailabilityZone,
		v.Status, v.PreviousStatus, v.AttachStatus, v.MigrationStatus, v.Host,
		v.ClusterName, v.ServiceUUID, v.DisplayName, v.DisplayDescription,
		v.VolumeTypeID, encodeMap(v.Metadata), encodeMap(v.AdminMetadata), encodeMap(v.GlanceMetadata), v.ProviderLocation, v.SnapshotID,
		v.SourceVolID, v.Bootable, v.Multiattach, v.UseQuota,
		v.ReplicationStatus, formatTime(v.CreatedAt), formatTimePtr(v.UpdatedAt), v.Deleted, formatTimePtr(v.DeletedAt), v.GroupID,
	}
}

// volumeRow is a volume being scanned with its columns in stored form, one
// allocation for the row rather than one for each column Scan takes.
type volumeRow struct {
	v                                cinder.Volume
	metadata, admin, glance, created string
	updated, deleted                 sql.NullString
}

func scanVolume(row scanner) (*cinder.Volume, error) {
	r := new(volumeRow)
	v := &r.v
	err := row.Scan(
		&v.ID, &v.NameID, &v.UserID, &v.ProjectID, &v.Size, &v.AvailabilityZone,
		&v.Status, &v.PreviousStatus, &v.AttachStatus, &v.MigrationStatus, &v.Host,
		&v.ClusterName, &v.ServiceUUID, &v.DisplayName, &v.DisplayDescription,
		&v.VolumeTypeID, &r.metadata, &r.admin, &r.glance, &v.ProviderLocation, &v.SnapshotID,
		&v.SourceVolID, &v.Bootable, &v.Multiattach, &v.UseQuota,
		&v.ReplicationStatus, &r.created, &r.updated, &v.Deleted, &r.deleted, &v.GroupID,
	)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		dst  *map[string]string
		text string
	}{{&v.Metadata, r.metadata}, {&v.AdminMetadata, r.admin}, {&v.GlanceMetadata, r.glance}} {
		if *m.dst, err = decodeMap(m.text); err != nil {
			return nil, err
		}
	}
	if v.CreatedAt, err = parseTime(r.created); err != nil {
		return nil, err
	}
	if v.UpdatedAt, err = parseTimePtr(r.updated); err != nil {
		return nil, err
	}
	v.DeletedAt, err = parseTimePtr(r.deleted)
	return v, err
}

// CreateVolume inserts v; an empty ID gets a new UUID, a zero CreatedAt now.
// Its quota usage counts it, and the reservations made for it end, in the
// same transaction.
func (db *DB) CreateVolume(ctx context.Context, v *cinder.Volume) error {
	if v.ID == "" {
		v.ID = uuid.NewString()
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = now()
	}
	normalizeVolumeTimes(v)
	for _, m := range []*map[string]string{&v.Metadata, &v.AdminMetadata, &v.GlanceMetadata} {
		if *m == nil {
			*m = map[string]string{}
		}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("volumes", volumeColumns)), volumeValues(v)...); err != nil {
			return err
		}
		return db.followVolume(ctx, tx, nil, v)
	})
	if duplicate(err) {
		return cinder.Conflict("Volume %s already exists.", v.ID)
	}
	return wrap(err, "create volume %s", v.ID)
}

// normalizeVolumeTimes rounds v's times to what the database keeps.
func normalizeVolumeTimes(v *cinder.Volume) {
	v.CreatedAt = dbTime(v.CreatedAt)
	if v.UpdatedAt != nil {
		v.UpdatedAt = timePtr(dbTime(*v.UpdatedAt))
	}
	if v.DeletedAt != nil {
		v.DeletedAt = timePtr(dbTime(*v.DeletedAt))
	}
}

// GetVolume returns the volume id (not deleted), or cinder.VolumeNotFound.
func (db *DB) GetVolume(ctx context.Context, id string) (*cinder.Volume, error) {
	v, err := db.getVolume(ctx, cached{db}, id, "")
	return v, wrap(err, "get volume %s", id)
}

// getVolume reads volume id through q, the query ending with lock.
func (db *DB) getVolume(ctx context.Context, q querier, id, lock string) (*cinder.Volume, error) {
	row := q.QueryRowContext(ctx, db.dialect.rebind(selectVolumes+" WHERE id = ? AND deleted = FALSE"+lock), id)
	v, err := scanVolume(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.VolumeNotFound(id)
	}
	return v, err
}

// VolumeFilter selects volumes for ListVolumes; zero values select all.
type VolumeFilter struct {
	ProjectID      string            // only this project's volumes
	Host           string            // host@backend: volumes on that backend, any pool
	Statuses       []string          // only these statuses
	HideTargets    bool              // leave out migration targets (migration_status target:…)
	Migrations     []string          // only these migration statuses; one ending in ':' is a prefix (target:)
	Name           string            // display_name equals
	VolumeTypeID   string            // only volumes of this type
	GlanceMetadata map[string]string // only volumes whose image metadata holds each of these pairs
	Match                            // Cinder's general filters; a metadata pair may be in the metadata or admin metadata, as Cinder's
	Marker         string            // id after which to start, in the sort order
	Offset         int               // volumes to skip after Marker
	Limit          int               // at most this many; 0 = no limit
	SortKey        string            // a column: created_at (default), id, size, status, display_name, updated_at
	SortDescending bool              // descending; Cinder's API defaults to it, false sorts ascending
}

// sortColumns maps VolumeFilter.SortKey to the expression sorted on; NULL
// updated_at sorts as the earliest.
var sortColumns = map[string]string{
	"created_at": "created_at",
	"id":         "id",
	"size":       "size", // volume_size for snapshots

	"status":       "status",
	"display_name": "display_name",
	"updated_at":   "COALESCE(updated_at, '')",
}

// where returns the WHERE clause selecting f's volumes in dialect d, and
// its arguments.
func (f *VolumeFilter) where(d *dialect) (string, []any) {
	conds := []string{"deleted = FALSE"}
	var args []any
	if f.ProjectID != "" {
		conds = append(conds, "project_id = ?")
		args = append(args, f.ProjectID)
	}
	if f.Host != "" {
		cond, hostArgs := onHost(f.Host)
		conds = append(conds, cond)
		args = append(args, hostArgs...)
	}
	if len(f.Statuses) > 0 {
		conds = append(conds, "status IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Statuses)), ", ")+")")
		for _, s := range f.Statuses {
			args = append(args, s)
		}
	}
	if f.HideTargets {
		conds = append(conds, "migration_status NOT LIKE 'target:%'")
	}
	if len(f.Migrations) > 0 {
		var or []string
		for _, m := range f.Migrations {
			if strings.HasSuffix(m, ":") {
				or, args = append(or, "migration_status LIKE ?"), append(args, m+"%")
			} else {
				or, args = append(or, "migration_status = ?"), append(args, m)
			}
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	if f.Name != "" {
		conds = append(conds, "display_name = ?")
		args = append(args, f.Name)
	}
	if f.VolumeTypeID != "" {
		conds = append(conds, "volume_type_id = ?")
		args = append(args, f.VolumeTypeID)
	}
	for _, k := range slices.Sorted(maps.Keys(f.GlanceMetadata)) {
		cond, pairArgs := holds(d, k, f.GlanceMetadata[k], "glance_metadata")
		conds, args = append(conds, cond), append(args, pairArgs...)
	}
	return f.and(d, volumeMatch, " WHERE "+strings.Join(conds, " AND "), args)
}

// onHost selects rows whose host matches value as Cinder's _filter_host
// does: a pool (host@backend#pool) exactly, a backend (host@backend) or its
// pools, a host or its backends and pools. substr rather than LIKE since
// host names may hold _ and %.
func onHost(value string) (string, []any) {
	conds, args := []string{"host = ?"}, []any{value}
	var prefixes []string
	switch {
	case strings.Contains(value, "#"):
	case strings.Contains(value, "@"):
		prefixes = []string{value + "#"}
	default:
		prefixes = []string{value + "#", value + "@"}
	}
	for _, p := range prefixes {
		conds = append(conds, "substr(host, 1, ?) = ?")
		args = append(args, utf8.RuneCountInString(p), p)
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// ListVolumes returns the volumes (not deleted) that f selects, sorted by
// f.SortKey then id.
func (db *DB) ListVolumes(ctx context.Context, f VolumeFilter) ([]*cinder.Volume, error) {
	return listPage(ctx, db, f.page(db.dialect), scanVolume)
}

// page is the page of volumes f selects in dialect d.
func (f *VolumeFilter) page(d *dialect) page {
	where, args := f.where(d)
	return page{table: "volumes", selectAll: selectVolumes, where: where, args: args,
		sortKey: f.SortKey, sortDescending: f.SortDescending, marker: f.Marker,
		notFound: func(id string) error { return cinder.VolumeNotFound(id) }, offset: f.Offset, limit: f.Limit}
}

// page is one page of a sorted list of a table's rows, after marker.
type page struct {
	table, selectAll, where string
	args                    []any
	columns                 map[string]string // sort keys to expressions; nil for sortColumns
	sortKey                 string            // a key of columns; "" for created_at
	sortDescending          bool
	marker                  string                // id after which to start, in the sort order
	notFound                func(id string) error // the error of a marker that is no row, as Cinder's get
	offset                  int                   // rows to skip after marker
	limit                   int                   // at most this many; 0 = no limit
}

// listPage returns the rows of p scanned by scan, sorted by p.sortKey then
// id, as Cinder's paginate_query.
func listPage[T any](ctx context.Context, db *DB, p page, scan func(scanner) (*T, error)) ([]*T, error) {
	query, args, err := db.pageQuery(ctx, p)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db, "list "+p.table, query, args, scan)
}

// pageQuery returns the query, with ? placeholders, and arguments of p's
// rows. A marker's page seeks to the marker's sort value and id rather
// than reading the rows before it.
func (db *DB) pageQuery(ctx context.Context, p page) (string, []any, error) {
	key, columns := cmp.Or(p.sortKey, "created_at"), p.columns
	if columns == nil {
		columns = sortColumns
	}
	col, ok := columns[key]
	if !ok {
		return "", nil, cinder.InvalidInput("sort key %q is not one of created_at, id, size, status, display_name, updated_at.", key)
	}
	if p.limit < 0 {
		return "", nil, cinder.InvalidInput("limit %d is negative.", p.limit)
	}
	dir, after := "ASC", ">"
	if p.sortDescending {
		dir, after = "DESC", "<"
	}
	where, args := p.where, p.args
	if p.marker != "" {
		var mark any
		err := db.queryRow(ctx, "SELECT "+col+" FROM "+p.table+" WHERE id = ? AND deleted = FALSE", p.marker).Scan(&mark)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil, p.notFound(p.marker)
		}
		if err != nil {
			return "", nil, wrap(err, "list %s: read marker %s", p.table, p.marker)
		}
		// Cinder's paginate_query OR-chain, led by a range on the sort key
		// alone, which an index on (…, key, id) seeks to.
		where += " AND " + col + " " + after + "= ? AND (" + col + " " + after + " ? OR id " + after + " ?)"
		args = append(slices.Clip(args), mark, mark, p.marker)
	}
	query := p.selectAll + where + " ORDER BY " + col + " " + dir + ", id " + dir
	if p.limit > 0 || p.offset > 0 {
		query, args = db.dialect.bound(query, args, "LIMIT", cmp.Or(p.limit, math.MaxInt32))
	}
	if p.offset > 0 {
		query, args = db.dialect.bound(query, args, "OFFSET", p.offset)
	}
	return query, args, nil
}

// CountVolumes returns how many volumes ListVolumes would return without
// Marker and Limit: from the project's totals when f selects no more than
// a project's volumes (migration targets hidden or not), else by counting.
func (db *DB) CountVolumes(ctx context.Context, f VolumeFilter) (int, error) {
	if f.projectOnly() {
		t, err := db.totals(ctx, f.ProjectID, false)
		if f.HideTargets {
			t.volumes -= t.targets
		}
		return t.volumes, err
	}
	where, args := f.where(db.dialect)
	var n int
	err := db.queryRow(ctx, "SELECT count(*) FROM volumes"+where, args...).Scan(&n)
	return n, wrap(err, "count volumes")
}

// projectOnly reports whether f selects a project's volumes, or every
// project's, with no filter but HideTargets.
func (f *VolumeFilter) projectOnly() bool {
	return f.Host == "" && len(f.Statuses) == 0 && len(f.Migrations) == 0 && f.Name == "" && f.VolumeTypeID == "" &&
		len(f.Metadata) == 0 && len(f.GlanceMetadata) == 0 && len(f.Fields) == 0 && len(f.Like) == 0 &&
		len(f.Times) == 0 && !f.Nothing
}

// UpdateVolume reads volume id in a transaction, lets fn change it and
// writes it back (UpdatedAt set to now) unless fn returns an error, which
// UpdateVolume then returns unchanged. This is Cinder's conditional_update:
// fn checks preconditions and fails with e.g. cinder.InvalidVolume. Returns
// the volume as written. fn may run again if the transaction is retried.
func (db *DB) UpdateVolume(ctx context.Context, id string, fn func(v *cinder.Volume) error) (*cinder.Volume, error) {
	var before cinder.Volume
	return modify(ctx, db, "update volume "+id,
		func(tx *sql.Tx) (*cinder.Volume, error) {
			v, err := db.getVolume(ctx, tx, id, db.dialect.forUpdate)
			if err == nil {
				before = copyVolume(v)
			}
			return v, err
		},
		fn,
		func(tx *sql.Tx, v *cinder.Volume) error { return db.putVolume(ctx, tx, id, &before, v) })
}

// UpdateVolumes is UpdateVolume for two volumes, a and b, in one
// transaction: fn sees both, and both are written or neither, as Cinder's
// finish_volume_migration swaps a migrated volume's row with its target's.
func (db *DB) UpdateVolumes(ctx context.Context, a, b string, fn func(va, vb *cinder.Volume) error) (*cinder.Volume, *cinder.Volume, error) {
	if a == b {
		return nil, nil, cinder.InvalidInput("update volumes: %s twice", a)
	}
	first, second := min(a, b), max(a, b) // one lock order for every transaction
	before := map[string]cinder.Volume{}
	pair, err := modify(ctx, db, "update volumes "+a+" and "+b,
		func(tx *sql.Tx) (map[string]*cinder.Volume, error) {
			pair := map[string]*cinder.Volume{}
			for _, id := range []string{first, second} {
				v, err := db.getVolume(ctx, tx, id, db.dialect.forUpdate)
				if err != nil {
					return nil, err
				}
				pair[id], before[id] = v, copyVolume(v)
			}
			return pair, nil
		},
		func(pair map[string]*cinder.Volume) error { return fn(pair[a], pair[b]) },
		func(tx *sql.Tx, pair map[string]*cinder.Volume) error {
			for _, id := range []string{first, second} {
				b := before[id]
				if err := db.putVolume(ctx, tx, id, &b, pair[id]); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	return pair[a], pair[b], nil
}

// copyVolume is a copy of v that fn's changes to v, its maps' included,
// leave as it is: the before from which the totals and usage move.
func copyVolume(v *cinder.Volume) cinder.Volume {
	c := *v
	c.Metadata, c.AdminMetadata, c.GlanceMetadata = maps.Clone(v.Metadata), maps.Clone(v.AdminMetadata), maps.Clone(v.GlanceMetadata)
	return c
}

// putVolume writes v, which was before, as the row of volume id, UpdatedAt
// now, and its quota usage with it.
func (db *DB) putVolume(ctx context.Context, tx *sql.Tx, id string, before, v *cinder.Volume) error {
	v.ID = id
	v.UpdatedAt = timePtr(now())
	normalizeVolumeTimes(v)
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(updateSQL("volumes", volumeColumns)), keyLast(volumeValues(v))...); err != nil {
		return err
	}
	return db.followVolume(ctx, tx, before, v)
}

// DestroyVolume soft-deletes volume id: deleted, status deleted, deleted_at
// now, and as Cinder clears migration_status; its attachments go with it,
// and its quota usage is given back, in the same transaction.
func (db *DB) DestroyVolume(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		v, err := db.getVolume(ctx, tx, id, db.dialect.forUpdate)
		if err != nil {
			return err
		}
		t := formatTime(now())
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE volumes
			SET deleted = TRUE, status = ?, migration_status = '', deleted_at = ?, updated_at = ?
			WHERE id = ?`), cinder.StatusDeleted, t, t, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE volume_attachment
			SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE volume_id = ? AND deleted = FALSE`), t, t, id); err != nil {
			return err
		}
		return db.followVolume(ctx, tx, v, nil)
	})
	return wrap(err, "destroy volume %s", id)
}

// mustAffect returns notFound when res changed no row.
func mustAffect(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return notFound
	}
	return err
}

// AllocatedCapacity returns the sum of sizes (GiB) of the volumes (not
// deleted) on each of hosts, host@backend#pool strings matched exactly, for
// a backend's stats (allocated_capacity_gb); a host without volumes is
// left out. Every backend asks for its pools every
// backend_stats_polling_interval: volumes_host_size_idx answers from the
// index alone, reading only the pools' entries, where matching the backend
// by prefix read every volume's row (100,000 rows, 0.1–1 s, each period).
func (db *DB) AllocatedCapacity(ctx context.Context, hosts ...string) (map[string]int, error) {
	sums := map[string]int{}
	if len(hosts) == 0 {
		return sums, nil
	}
	rows, err := db.query(ctx, "SELECT host, SUM(size) FROM volumes WHERE host IN ("+marks(len(hosts))+
		") AND deleted = FALSE GROUP BY host", anys(hosts)...)
	if err != nil {
		return nil, wrap(err, "allocated capacity of %v", hosts)
	}
	defer rows.Close()
	for rows.Next() {
		var host string
		var gb int
		if err := rows.Scan(&host, &gb); err != nil {
			return nil, wrap(err, "allocated capacity of %v", hosts)
		}
		sums[host] = gb
	}
	return sums, wrap(rows.Err(), "allocated capacity of %v", hosts)
}
