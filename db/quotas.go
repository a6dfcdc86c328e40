package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// The quota resources whose usage the database counts from its rows.
const (
	QuotaVolumes         = "volumes"
	QuotaGigabytes       = "gigabytes"
	QuotaSnapshots       = "snapshots"
	QuotaBackups         = "backups"
	QuotaBackupGigabytes = "backup_gigabytes"
	QuotaGroups          = "groups"
)

// PerTypeQuotas are the resources that have a twin per volume type, named
// <resource>_<type name>, in Cinder's order.
func PerTypeQuotas() []string { return []string{QuotaVolumes, QuotaGigabytes, QuotaSnapshots} }

// Usage is how much of one quota resource a project uses.
type Usage struct {
	InUse    int // held by the project's rows
	Reserved int // held by live reservations for changes not yet written
}

// OverQuota is Cinder's OverQuota: a reservation that would take resources
// past their limits. The volume layer turns it into Cinder's 413 faults.
type OverQuota struct {
	Overs  []string         // the resources over their limit, sorted
	Quotas map[string]int   // the limit of each resource reserved
	Usages map[string]Usage // the usage of each, without the reservation
}

func (e *OverQuota) Error() string {
	return "Quota exceeded for resources: ['" + strings.Join(e.Overs, "', '") + "']"
}

// Reservation asks Reserve to hold room in a project's quotas for a change
// of one object, a volume, snapshot or backup, about to be written.
type Reservation struct {
	Project string
	Object  string         // the id of the volume, snapshot or backup to change
	Deltas  map[string]int // resource → amount to hold, not negative
	Limits  map[string]int // resource → hard limit, -1 (or absent) for none
	Expire  time.Time      // when the hold lapses if nothing ended it
}

// usageRow is a quota_usages row as a transaction reads it.
type usageRow struct {
	id              int64
	project         string
	resource        string
	inUse, reserved int
}

// usageKey names a usage row.
type usageKey struct{ project, resource string }

// reservationColumns are the columns Reserve writes of a reservation.
var reservationColumns = []string{"uuid", "usage_id", "project_id", "resource", "delta", "object_id", "expire", "created_at"}

// Reserve holds r's amounts, as Cinder's quota_reserve: in one transaction,
// with the project's usage rows of those resources locked (and made first
// by counting the project's rows if missing), it checks that in use plus
// reserved plus asked stays within each limit, then records a reservation
// per resource and adds it to reserved. Over a limit it holds nothing and
// fails with *OverQuota. The hold ends when the database writes the
// object's change (see follow) or EndReservations gives it up; one left by
// a crash stops counting at the first Reserve of its resource after Expire.
func (db *DB) Reserve(ctx context.Context, r Reservation) error {
	resources := slices.Sorted(maps.Keys(r.Deltas))
	var over *OverQuota
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		over = nil
		rows, err := db.lockUsages(ctx, tx, r.Project, resources)
		if err != nil {
			return err
		}
		if rows, err = db.dropExpired(ctx, tx, rows); err != nil {
			return err
		}
		usages, quotas := map[string]Usage{}, map[string]int{}
		var overs []string
		for _, res := range resources {
			u, delta := rows[usageKey{r.Project, res}], r.Deltas[res]
			usages[res] = Usage{InUse: u.inUse, Reserved: u.reserved}
			limit, ok := r.Limits[res]
			if !ok {
				limit = -1
			}
			quotas[res] = limit
			if limit >= 0 && delta >= 0 && limit < delta+u.inUse+u.reserved {
				overs = append(overs, res)
			}
		}
		if len(overs) > 0 {
			over = &OverQuota{Overs: overs, Quotas: quotas, Usages: usages}
			return nil // keep the usage rows made and the expired holds dropped
		}
		t := formatTime(now())
		for _, res := range resources {
			u, delta := rows[usageKey{r.Project, res}], r.Deltas[res]
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(insertSQL("reservations", reservationColumns)),
				uuid.NewString(), u.id, r.Project, res, delta, r.Object, formatTime(r.Expire), t); err != nil {
				return err
			}
			if delta > 0 {
				if _, err := tx.ExecContext(ctx, db.dialect.rebind(
					"UPDATE quota_usages SET reserved = reserved + ?, updated_at = ? WHERE id = ?"), delta, t, u.id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return wrap(err, "reserve quota of project %s for %s", r.Project, r.Object)
	}
	if over != nil {
		return over
	}
	return nil
}

// EndReservations gives up the holds reserved for object's change, which
// will not be written (Cinder's reservation_rollback).
func (db *DB) EndReservations(ctx context.Context, object string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error { return db.follow(ctx, tx, object, nil, nil, true) })
	return wrap(err, "end the quota reservations of %s", object)
}

// ExpireReservations drops every reservation past its expiry and takes it
// out of its usage's reserved, as Cinder's reservation_expire periodic
// task: a hold a crash left stops counting without waiting for the next
// Reserve of its resource. Each project's usage rows are locked as
// Reserve locks them, one project at a time.
func (db *DB) ExpireReservations(ctx context.Context) error {
	rows, err := db.sql.QueryContext(ctx, db.dialect.rebind(
		"SELECT DISTINCT project_id, resource FROM reservations WHERE expire <= ? ORDER BY project_id, resource"), formatTime(now()))
	if err != nil {
		return wrap(err, "list expired quota reservations")
	}
	byProject := map[string][]string{}
	for rows.Next() {
		var project, resource string
		if err := rows.Scan(&project, &resource); err != nil {
			rows.Close()
			return wrap(err, "list expired quota reservations")
		}
		byProject[project] = append(byProject[project], resource)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return wrap(err, "list expired quota reservations")
	}
	for _, project := range slices.Sorted(maps.Keys(byProject)) {
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			locked, err := db.lockUsages(ctx, tx, project, byProject[project])
			if err == nil {
				_, err = db.dropExpired(ctx, tx, locked)
			}
			return err
		})
		if err != nil {
			return wrap(err, "expire the quota reservations of project %s", project)
		}
	}
	return nil
}

// QuotaUsages returns project's usage of resources, making the usage rows
// missing by counting its rows.
func (db *DB) QuotaUsages(ctx context.Context, project string, resources []string) (map[string]Usage, error) {
	rows, err := db.selectUsages(ctx, db.sql, project, resources, "")
	if err == nil && len(rows) < len(resources) {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			rows, err = db.lockUsages(ctx, tx, project, resources)
			return err
		})
	}
	if err != nil {
		return nil, wrap(err, "read the quota usage of project %s", project)
	}
	usages := make(map[string]Usage, len(rows))
	for k, u := range rows {
		usages[k.resource] = Usage{InUse: u.inUse, Reserved: u.reserved}
	}
	return usages, nil
}

// selectUsages reads project's usage rows of resources through q, sorted,
// the query ending with lock.
func (db *DB) selectUsages(ctx context.Context, q querier, project string, resources []string, lock string) (map[usageKey]*usageRow, error) {
	if len(resources) == 0 {
		return map[usageKey]*usageRow{}, nil
	}
	args := []any{project}
	for _, r := range resources {
		args = append(args, r)
	}
	return db.usageRows(ctx, q, "project_id = ? AND resource IN ("+marks(len(resources))+")", args, lock)
}

// usageRows reads the usage rows where selects, in one order for every
// transaction so that their locks never deadlock.
func (db *DB) usageRows(ctx context.Context, q querier, where string, args []any, lock string) (map[usageKey]*usageRow, error) {
	rows, err := q.QueryContext(ctx, db.dialect.rebind("SELECT id, project_id, resource, in_use, reserved FROM quota_usages WHERE "+
		where+" ORDER BY project_id, resource"+lock), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[usageKey]*usageRow{}
	for rows.Next() {
		u := new(usageRow)
		if err := rows.Scan(&u.id, &u.project, &u.resource, &u.inUse, &u.reserved); err != nil {
			return nil, err
		}
		out[usageKey{u.project, u.resource}] = u
	}
	return out, rows.Err()
}

// marks is n comma-separated placeholders.
func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// anys is ss as query arguments.
func anys(ss []string) []any {
	args := make([]any, len(ss))
	for i, s := range ss {
		args[i] = s
	}
	return args
}

// lockUsages locks project's usage rows of resources for tx, first making
// those missing with the usage counted from the project's rows, as
// quota_reserve does.
func (db *DB) lockUsages(ctx context.Context, tx *sql.Tx, project string, resources []string) (map[usageKey]*usageRow, error) {
	rows, err := db.selectUsages(ctx, tx, project, resources, db.dialect.forUpdate)
	if err != nil || len(rows) == len(resources) {
		return rows, err
	}
	if err := db.lockProject(ctx, tx, usageLocks, project); err != nil {
		return nil, err
	}
	// Another transaction may have made them while this one waited.
	if rows, err = db.selectUsages(ctx, tx, project, resources, db.dialect.forUpdate); err != nil {
		return nil, err
	}
	t := formatTime(now())
	for _, res := range resources {
		if rows[usageKey{project, res}] != nil {
			continue
		}
		n, err := db.count(ctx, tx, project, res)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(
			"INSERT INTO quota_usages (project_id, resource, in_use, reserved, created_at) VALUES (?, ?, ?, 0, ?)"),
			project, res, n, t); err != nil {
			return nil, err
		}
	}
	return db.selectUsages(ctx, tx, project, resources, db.dialect.forUpdate)
}

// Spaces of lockProject's locks, apart from the migration lock's one bigint.
const (
	usageLocks  = 7263462 // a project's quota usage rows
	totalsLocks = 7263463 // a project's volume totals (see volumeTotals)
)

// lockProject makes tx wait for, and then holds off until it ends, any other
// transaction making project's rows of space: usage rows or volume totals.
// On PostgreSQL a statement neither sees nor waits for a row another
// transaction is inserting, so one that counts a project's rows for a new
// usage row and one that changes a counted row while finding no usage row
// could both miss the change; this lock orders them (a deadlock it meets
// is retried). SQLite runs one writer at a time.
func (db *DB) lockProject(ctx context.Context, tx *sql.Tx, space int, project string) error {
	return db.advisoryLock(ctx, tx, "pg_advisory_xact_lock", space, project)
}

// shareProject is lockProject's lock taken shared: transactions holding
// it shared go together, and one taking it with lockProject waits for them.
func (db *DB) shareProject(ctx context.Context, tx *sql.Tx, space int, project string) error {
	return db.advisoryLock(ctx, tx, "pg_advisory_xact_lock_shared", space, project)
}

// advisoryLock takes, on PostgreSQL, the transaction-level advisory lock
// of space and project with the function fn.
func (db *DB) advisoryLock(ctx context.Context, tx *sql.Tx, fn string, space int, project string) error {
	if db.dialect != postgresDialect {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT "+fn+"($1, hashtext($2))", space, project)
	return err
}

// dropExpired deletes the expired reservations on rows and, when there
// were any, recounts the rows' reserved and reads them again.
func (db *DB) dropExpired(ctx context.Context, tx *sql.Tx, rows map[usageKey]*usageRow) (map[usageKey]*usageRow, error) {
	ids := usageIDs(rows)
	if len(ids) == 0 {
		return rows, nil
	}
	in := "(" + marks(len(ids)) + ")"
	res, err := tx.ExecContext(ctx, db.dialect.rebind("DELETE FROM reservations WHERE expire <= ? AND usage_id IN "+in),
		append([]any{formatTime(now())}, ids...)...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return rows, err
	}
	if err := db.recountReserved(ctx, tx, ids); err != nil {
		return nil, err
	}
	return db.usageRows(ctx, tx, "id IN "+in, ids, "")
}

// recountReserved sets the reserved of the usage rows ids to the sum of
// their positive reservations.
func (db *DB) recountReserved(ctx context.Context, tx *sql.Tx, ids []any) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE quota_usages SET updated_at = ?, reserved =
		(SELECT COALESCE(SUM(r.delta), 0) FROM reservations r WHERE r.usage_id = quota_usages.id AND r.delta > 0)
		WHERE id IN (`+marks(len(ids))+")"), append([]any{formatTime(now())}, ids...)...)
	return err
}

// usageIDs are the ids of rows.
func usageIDs(rows map[usageKey]*usageRow) []any {
	ids := make([]any, 0, len(rows))
	for _, u := range rows {
		ids = append(ids, u.id)
	}
	return ids
}

// count is the usage of resource by project's rows, as Cinder's _sync_*
// functions count it: volumes and snapshots counted in quotas (use_quota;
// a migration's target is not), gigabytes of both, and backups; a per-type
// resource counts the rows of that volume type only.
func (db *DB) count(ctx context.Context, q querier, project, resource string) (int, error) {
	base, typeName := splitResource(resource)
	typeID := ""
	if typeName != "" {
		err := q.QueryRowContext(ctx, db.dialect.rebind("SELECT id FROM volume_types WHERE name = ? AND deleted = FALSE"), typeName).Scan(&typeID)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
	}
	switch base {
	case QuotaVolumes:
		n, _, err := db.held(ctx, q, "volumes", "size", project, typeID)
		return n, err
	case QuotaSnapshots:
		n, _, err := db.held(ctx, q, "snapshots", "volume_size", project, typeID)
		return n, err
	case QuotaGigabytes:
		_, vols, err := db.held(ctx, q, "volumes", "size", project, typeID)
		if err != nil {
			return 0, err
		}
		_, snaps, err := db.held(ctx, q, "snapshots", "volume_size", project, typeID)
		return vols + snaps, err
	case QuotaBackups:
		n, _, err := db.held(ctx, q, "backups", "size", project, "")
		return n, err
	case QuotaBackupGigabytes:
		_, gb, err := db.held(ctx, q, "backups", "size", project, "")
		return gb, err
	case QuotaGroups:
		var n int
		err := q.QueryRowContext(ctx, db.dialect.rebind(
			"SELECT count(*) FROM groups WHERE project_id = ? AND deleted = FALSE"), project).Scan(&n)
		return n, err
	}
	return 0, nil
}

// held counts project's rows of table that hold quota, and sums their
// sizeColumn; typeID, when set, keeps those of that volume type.
func (db *DB) held(ctx context.Context, q querier, table, sizeColumn, project, typeID string) (n, size int, err error) {
	query := "SELECT count(*), COALESCE(SUM(" + sizeColumn + "), 0) FROM " + table + " WHERE project_id = ? AND deleted = FALSE"
	args := []any{project}
	if table != "backups" {
		query += " AND use_quota = TRUE"
	}
	if typeID != "" {
		query += " AND volume_type_id = ?"
		args = append(args, typeID)
	}
	err = q.QueryRowContext(ctx, db.dialect.rebind(query), args...).Scan(&n, &size)
	return n, size, err
}

// splitResource splits a per-type resource, volumes_gold, into its plain
// resource and type name; any other resource comes back whole.
func splitResource(resource string) (base, typeName string) {
	for _, b := range PerTypeQuotas() {
		if name, ok := strings.CutPrefix(resource, b+"_"); ok {
			return b, name
		}
	}
	return resource, ""
}

// holding is what one row holds of its project's quotas: amounts of plain
// resources, each of PerTypeQuotas also under its twin for volume type typeID.
type holding struct {
	project, typeID string
	amounts         map[string]int
}

// volumeHolding is what v holds: nothing once deleted or when it is not
// counted in quotas, as a migration's target.
func volumeHolding(v *cinder.Volume) *holding {
	if v == nil || v.Deleted || !v.UseQuota {
		return nil
	}
	return &holding{v.ProjectID, v.VolumeTypeID, map[string]int{QuotaVolumes: 1, QuotaGigabytes: v.Size}}
}

// snapshotHolding is what s holds: its volume's size counts in gigabytes.
func snapshotHolding(s *cinder.Snapshot) *holding {
	if s == nil || s.Deleted || !s.UseQuota {
		return nil
	}
	return &holding{s.ProjectID, s.VolumeTypeID, map[string]int{QuotaSnapshots: 1, QuotaGigabytes: s.VolumeSize}}
}

// backupHolding is what b holds, whatever its status, as Cinder counts.
func backupHolding(b *cinder.Backup) *holding {
	if b == nil || b.Deleted {
		return nil
	}
	return &holding{b.ProjectID, "", map[string]int{QuotaBackups: 1, QuotaBackupGigabytes: b.Size}}
}

// groupHolding is what g holds: one group until deleted.
func groupHolding(g *cinder.Group) *holding {
	if g == nil || g.Deleted {
		return nil
	}
	return &holding{g.ProjectID, "", map[string]int{QuotaGroups: 1}}
}

// equal reports whether h and o hold the same.
func (h *holding) equal(o *holding) bool {
	if h == nil || o == nil {
		return h == o
	}
	return h.project == o.project && h.typeID == o.typeID && maps.Equal(h.amounts, o.amounts)
}

// follow keeps the usage rows in step with a row whose holding goes from
// before to after, in tx, the transaction writing it: in_use moves by the
// difference, so that usage never drifts from the rows, whatever crashes.
// When the holding changes, or with end, the reservations held for
// object's change end too (the change is written, or given up), in the
// same transaction, so that no moment counts a change both as reserved and
// in use. Usage rows not made yet are left alone: counting the rows when
// they are made includes this change.
func (db *DB) follow(ctx context.Context, tx *sql.Tx, object string, before, after *holding, end bool) error {
	diff := map[usageKey]int{}
	if !before.equal(after) {
		names := map[string]string{} // volume type id → name
		for _, h := range []struct {
			h    *holding
			sign int
		}{{before, -1}, {after, 1}} {
			if err := db.addHolding(ctx, tx, diff, h.h, h.sign, names); err != nil {
				return err
			}
		}
		maps.DeleteFunc(diff, func(_ usageKey, d int) bool { return d == 0 })
	}
	if len(diff) == 0 && !end {
		return nil
	}
	rows, err := db.followedRows(ctx, tx, object, diff)
	if err != nil {
		return err
	}
	t := formatTime(now())
	for _, k := range slices.SortedFunc(maps.Keys(diff), compareKeys) {
		u := rows[k]
		if u == nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE quota_usages SET updated_at = ?,
			in_use = CASE WHEN in_use + ? < 0 THEN 0 ELSE in_use + ? END WHERE id = ?`), t, diff[k], diff[k], u.id); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, db.dialect.rebind("DELETE FROM reservations WHERE object_id = ?"), object)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return db.recountReserved(ctx, tx, usageIDs(rows))
}

// addHolding adds sign times what h holds to diff; names caches the names
// of volume types. A type no row names any more has no twins to count.
func (db *DB) addHolding(ctx context.Context, tx *sql.Tx, diff map[usageKey]int, h *holding, sign int, names map[string]string) error {
	if h == nil {
		return nil
	}
	for res, n := range h.amounts {
		diff[usageKey{h.project, res}] += sign * n
		if h.typeID == "" || !slices.Contains(PerTypeQuotas(), res) {
			continue
		}
		name, ok := names[h.typeID]
		if !ok {
			err := tx.QueryRowContext(ctx, db.dialect.rebind("SELECT name FROM volume_types WHERE id = ?"), h.typeID).Scan(&name)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			names[h.typeID] = name
		}
		if name != "" {
			diff[usageKey{h.project, res + "_" + name}] += sign * n
		}
	}
	return nil
}

// followedRows locks the usage rows follow changes: those of diff and
// those object's reservations hold. A row of diff missing is looked for
// again once no transaction is making its project's (see lockProject).
func (db *DB) followedRows(ctx context.Context, tx *sql.Tx, object string, diff map[usageKey]int) (map[usageKey]*usageRow, error) {
	keys := slices.SortedFunc(maps.Keys(diff), compareKeys)
	conds := []string{"id IN (SELECT usage_id FROM reservations WHERE object_id = ?)"}
	args := []any{object}
	for _, k := range keys {
		conds = append(conds, "(project_id = ? AND resource = ?)")
		args = append(args, k.project, k.resource)
	}
	where := strings.Join(conds, " OR ")
	rows, err := db.usageRows(ctx, tx, where, args, db.dialect.forUpdate)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range keys {
		if rows[k] == nil && !slices.Contains(missing, k.project) {
			missing = append(missing, k.project)
		}
	}
	if len(missing) == 0 || db.dialect != postgresDialect {
		return rows, nil
	}
	for _, p := range missing {
		if err := db.lockProject(ctx, tx, usageLocks, p); err != nil {
			return nil, err
		}
	}
	return db.usageRows(ctx, tx, where, args, db.dialect.forUpdate)
}

func compareKeys(a, b usageKey) int {
	return cmp.Or(strings.Compare(a.project, b.project), strings.Compare(a.resource, b.resource))
}

// followVolume is follow for a volume row written from before to after
// (nil: inserted, or destroyed), and followTotals. The reservations for the volume end when
// it is inserted or destroyed, when what it holds changes (its extend or
// retype is written), when it moves to another project (its transfer is
// accepted: the accepting project's hold, its snapshots' included, ends
// even for a volume not counted), or when it leaves extending or retyping
// (the extend or retype failed).
func (db *DB) followVolume(ctx context.Context, tx *sql.Tx, before, after *cinder.Volume) error {
	v := cmp.Or(after, before)
	end := before == nil || after == nil || after.Deleted || before.ProjectID != after.ProjectID ||
		before.Status != after.Status && (before.Status == cinder.StatusExtending || before.Status == cinder.StatusRetyping)
	if err := db.follow(ctx, tx, v.ID, volumeHolding(before), volumeHolding(after), end); err != nil {
		return err
	}
	return db.followTotals(ctx, tx, before, after)
}

// followSnapshot is follow for a snapshot row written from before to after;
// its reservations end when it is inserted or destroyed.
func (db *DB) followSnapshot(ctx context.Context, tx *sql.Tx, before, after *cinder.Snapshot) error {
	s := cmp.Or(after, before)
	return db.follow(ctx, tx, s.ID, snapshotHolding(before), snapshotHolding(after), before == nil || after == nil || after.Deleted)
}

// followBackup is follow for a backup row written from before to after;
// its reservations end when it is inserted or destroyed.
func (db *DB) followBackup(ctx context.Context, tx *sql.Tx, before, after *cinder.Backup) error {
	b := cmp.Or(after, before)
	return db.follow(ctx, tx, b.ID, backupHolding(before), backupHolding(after), before == nil || after == nil || after.Deleted)
}

// followGroup is follow for a group row written from before to after;
// its reservations end when it is inserted or destroyed.
func (db *DB) followGroup(ctx context.Context, tx *sql.Tx, before, after *cinder.Group) error {
	g := cmp.Or(after, before)
	return db.follow(ctx, tx, g.ID, groupHolding(before), groupHolding(after), before == nil || after == nil || after.Deleted)
}

// ProjectQuotas returns the limits set for project, by resource (Cinder's
// quota_get_all_by_project).
func (db *DB) ProjectQuotas(ctx context.Context, project string) (map[string]int, error) {
	return db.limits(ctx, "quotas", "project_id", project)
}

// QuotaClass returns the limits of quota class name, by resource.
func (db *DB) QuotaClass(ctx context.Context, name string) (map[string]int, error) {
	return db.limits(ctx, "quota_classes", "class_name", name)
}

// SetProjectQuotas sets project's limits of the resources of limits, in
// one transaction.
func (db *DB) SetProjectQuotas(ctx context.Context, project string, limits map[string]int) error {
	return db.setLimits(ctx, "quotas", "project_id", project, limits)
}

// SetQuotaClass sets quota class name's limits of the resources of limits,
// in one transaction.
func (db *DB) SetQuotaClass(ctx context.Context, name string, limits map[string]int) error {
	return db.setLimits(ctx, "quota_classes", "class_name", name, limits)
}

// DeleteProjectQuotas removes every limit set for project, which then has
// the defaults; its usage stays (Cinder's quota_destroy_by_project).
func (db *DB) DeleteProjectQuotas(ctx context.Context, project string) error {
	_, err := db.w.ExecContext(ctx, db.dialect.rebind("DELETE FROM quotas WHERE project_id = ?"), project)
	return wrap(err, "delete the quotas of project %s", project)
}

// limits reads the hard limits of table's rows whose column is key.
func (db *DB) limits(ctx context.Context, table, column, key string) (map[string]int, error) {
	rows, err := db.query(ctx, "SELECT resource, hard_limit FROM "+table+" WHERE "+column+" = ?", key)
	if err != nil {
		return nil, wrap(err, "read %s of %s", table, key)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var res string
		var limit int
		if err := rows.Scan(&res, &limit); err != nil {
			return nil, wrap(err, "read %s of %s", table, key)
		}
		out[res] = limit
	}
	return out, wrap(rows.Err(), "read %s of %s", table, key)
}

// setLimits writes limits into table's rows whose column is key.
func (db *DB) setLimits(ctx context.Context, table, column, key string, limits map[string]int) error {
	t := formatTime(now())
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, res := range slices.Sorted(maps.Keys(limits)) {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind("INSERT INTO "+table+" ("+column+`, resource, hard_limit, created_at)
				VALUES (?, ?, ?, ?) ON CONFLICT (`+column+`, resource)
				DO UPDATE SET hard_limit = excluded.hard_limit, updated_at = excluded.created_at`), key, res, limits[res], t); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "set %s of %s", table, key)
}

// RenameQuotaType renames the per-type resources of a volume type renamed
// from old to name in the limits, usage and reservations, as Cinder's
// update_quota_resource; rows left under the new name by an earlier type
// of that name go.
func (db *DB) RenameQuotaType(ctx context.Context, old, name string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, res := range PerTypeQuotas() {
			from, to := res+"_"+old, res+"_"+name
			for _, table := range []string{"reservations", "quotas", "quota_classes", "quota_usages"} {
				if _, err := tx.ExecContext(ctx, db.dialect.rebind("DELETE FROM "+table+" WHERE resource = ?"), to); err != nil {
					return err
				}
			}
			for _, table := range []string{"quotas", "quota_classes", "quota_usages", "reservations"} {
				if _, err := tx.ExecContext(ctx, db.dialect.rebind("UPDATE "+table+" SET resource = ? WHERE resource = ?"), to, from); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return wrap(err, "rename the quotas of volume type %s to %s", old, name)
}
