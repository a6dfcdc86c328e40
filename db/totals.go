package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/cinder-go/cinder"
)

// allProjects is the project_id of the marker row of volume_totals: once
// it is there every project with volumes has its own row, and every
// project's totals are their sum (volumes all have a project).
const allProjects = ""

// metadataPair is one key and value of a volume's metadata.
type metadataPair struct{ key, value string }

// volumeTotals are a project's volumes (not deleted) as volume_totals and
// volume_metadata_totals keep them: how many, their GiB, how many are
// migration targets, and how many hold each metadata pair.
type volumeTotals struct {
	volumes, gigabytes, targets int
	pairs                       map[metadataPair]int
}

// add adds sign times volume v, unless deleted, to t.
func (t *volumeTotals) add(v *cinder.Volume, sign int) {
	if v == nil || v.Deleted {
		return
	}
	t.volumes += sign
	t.gigabytes += sign * v.Size
	if cinder.IsMigrationTarget(v.MigrationStatus) {
		t.targets += sign
	}
	if t.pairs == nil {
		t.pairs = map[metadataPair]int{}
	}
	for k, val := range v.Metadata {
		t.pairs[metadataPair{k, val}] += sign
	}
}

// zero reports whether t adds nothing.
func (t *volumeTotals) zero() bool {
	maps.DeleteFunc(t.pairs, func(_ metadataPair, n int) bool { return n == 0 })
	return t.volumes == 0 && t.gigabytes == 0 && t.targets == 0 && len(t.pairs) == 0
}

// followTotals moves the totals of the projects of a volume row written
// from before to after (nil: inserted, or destroyed), in tx, the
// transaction writing it. A project's totals not made yet are made now,
// counting its rows with this change, once every project's totals are
// kept (the marker, see markTotals); until then they are left for their
// first read, which counts it too. A project's row is locked by each
// write that moves it, until it commits; a transaction writing volumes of
// two projects may deadlock with another over them on PostgreSQL, and is
// retried.
func (db *DB) followTotals(ctx context.Context, tx *sql.Tx, before, after *cinder.Volume) error {
	diff := map[string]*volumeTotals{}
	for _, c := range []struct {
		v    *cinder.Volume
		sign int
	}{{before, -1}, {after, 1}} {
		if c.v == nil {
			continue
		}
		if diff[c.v.ProjectID] == nil {
			diff[c.v.ProjectID] = &volumeTotals{}
		}
		diff[c.v.ProjectID].add(c.v, c.sign)
	}
	maps.DeleteFunc(diff, func(_ string, t *volumeTotals) bool { return t.zero() })
	if len(diff) == 0 {
		return nil
	}
	made, err := db.lockTotals(ctx, tx, slices.Sorted(maps.Keys(diff)))
	if err != nil {
		return err
	}
	t := formatTime(now())
	for _, p := range made {
		d := diff[p]
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE volume_totals SET volumes = volumes + ?,
			gigabytes = gigabytes + ?, targets = targets + ?, updated_at = ? WHERE project_id = ?`),
			d.volumes, d.gigabytes, d.targets, t, p); err != nil {
			return err
		}
		if err := db.addPairs(ctx, tx, p, d.pairs); err != nil {
			return err
		}
	}
	return nil
}

// addPairs adds pairs' counts to project's metadata totals; a pair no
// volume holds any more goes.
func (db *DB) addPairs(ctx context.Context, tx *sql.Tx, project string, pairs map[metadataPair]int) error {
	for _, pair := range slices.SortedFunc(maps.Keys(pairs), comparePairs) {
		n := pairs[pair]
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO volume_metadata_totals (project_id, key, value, volumes)
			VALUES (?, ?, ?, ?) ON CONFLICT (project_id, key, value)
			DO UPDATE SET volumes = volume_metadata_totals.volumes + excluded.volumes`), project, pair.key, pair.value, n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(
			"DELETE FROM volume_metadata_totals WHERE project_id = ? AND key = ? AND value = ? AND volumes <= 0"),
			project, pair.key, pair.value); err != nil {
			return err
		}
	}
	return nil
}

func comparePairs(a, b metadataPair) int {
	return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.value, b.value))
}

// lockTotals locks the totals rows of projects, sorted, for tx and returns
// the projects whose row was there before this write, for it to move. One
// missing is looked for again once no transaction is making it (see
// lockProject), and made by counting in tx once every project's totals
// are kept. On PostgreSQL the marker's lock, shared, comes first, as
// markTotals takes it, exclusive, before the projects' locks.
func (db *DB) lockTotals(ctx context.Context, tx *sql.Tx, projects []string) ([]string, error) {
	made, err := db.totalsRows(ctx, tx, projects)
	if err != nil || len(made) == len(projects) {
		return made, err
	}
	if db.dialect == postgresDialect {
		if err := db.shareProject(ctx, tx, totalsLocks, allProjects); err != nil {
			return nil, err
		}
		for _, p := range projects {
			if !slices.Contains(made, p) {
				if err := db.lockProject(ctx, tx, totalsLocks, p); err != nil {
					return nil, err
				}
			}
		}
		if made, err = db.totalsRows(ctx, tx, projects); err != nil || len(made) == len(projects) {
			return made, err
		}
	}
	if marked, err := db.marked(ctx, tx); err != nil || !marked {
		return made, err
	}
	for _, p := range projects {
		if !slices.Contains(made, p) {
			if _, err := db.makeTotals(ctx, tx, p); err != nil {
				return nil, err
			}
		}
	}
	return made, nil
}

// marked reports whether every project's totals are kept: the marker row.
func (db *DB) marked(ctx context.Context, q querier) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, db.dialect.rebind("SELECT 1 FROM volume_totals WHERE project_id = ?"), allProjects).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// markTotals makes in tx the totals of every project with volumes that has
// none, then the marker, unless another transaction made it first.
func (db *DB) markTotals(ctx context.Context, tx *sql.Tx) error {
	if err := db.lockProject(ctx, tx, totalsLocks, allProjects); err != nil {
		return err
	}
	if marked, err := db.marked(ctx, tx); err != nil || marked {
		return err
	}
	missing, err := projectIDs(ctx, tx, db.dialect.rebind(`SELECT DISTINCT project_id FROM volumes WHERE deleted = FALSE
		AND project_id <> ? AND project_id NOT IN (SELECT project_id FROM volume_totals) ORDER BY project_id`), allProjects)
	if err != nil {
		return err
	}
	for _, p := range missing {
		if _, err := db.makeTotalsOnce(ctx, tx, p, false); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO volume_totals
		(project_id, volumes, gigabytes, targets, created_at) VALUES (?, 0, 0, 0, ?)`), allProjects, formatTime(now()))
	return err
}

// totalsRows locks the totals rows of projects for tx, in one order for
// every transaction, and returns the projects that have one.
func (db *DB) totalsRows(ctx context.Context, tx *sql.Tx, projects []string) ([]string, error) {
	return projectIDs(ctx, tx, db.dialect.rebind("SELECT project_id FROM volume_totals WHERE project_id IN ("+
		marks(len(projects))+") ORDER BY project_id"+db.dialect.forUpdate), anys(projects)...)
}

// projectIDs runs query, which selects one column of project ids, in tx.
func projectIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		ids = append(ids, p)
	}
	return ids, rows.Err()
}

// totals returns project's totals (every project's when ""), with the
// metadata pairs when pairs, making them the first time by counting the
// project's volumes, as usage rows are made.
func (db *DB) totals(ctx context.Context, project string, pairs bool) (volumeTotals, error) {
	if project == allProjects {
		return db.allTotals(ctx, pairs)
	}
	t, err := db.readTotals(ctx, cached{db}, project, pairs)
	if errors.Is(err, sql.ErrNoRows) {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			t, err = db.makeTotalsOnce(ctx, tx, project, pairs)
			return err
		})
	}
	return t, wrap(err, "read the volume totals of project %q", project)
}

// makeTotalsOnce returns project's totals in tx, made by counting unless
// another transaction made them while this one waited for the project's
// lock (lockProject).
func (db *DB) makeTotalsOnce(ctx context.Context, tx *sql.Tx, project string, pairs bool) (volumeTotals, error) {
	if err := db.lockProject(ctx, tx, totalsLocks, project); err != nil {
		return volumeTotals{}, err
	}
	t, err := db.readTotals(ctx, tx, project, pairs)
	if !errors.Is(err, sql.ErrNoRows) {
		return t, err
	}
	return db.makeTotals(ctx, tx, project)
}

// allTotals returns every project's totals, the sum of the projects' own,
// making the missing ones and the marker the first time.
func (db *DB) allTotals(ctx context.Context, pairs bool) (volumeTotals, error) {
	marked, err := db.marked(ctx, cached{db})
	if err == nil && !marked {
		err = db.inTx(ctx, func(tx *sql.Tx) error { return db.markTotals(ctx, tx) })
	}
	if err != nil {
		return volumeTotals{}, wrap(err, "make the volume totals of every project")
	}
	var t volumeTotals
	if err := db.queryRow(ctx, `SELECT COALESCE(SUM(volumes), 0), COALESCE(SUM(gigabytes), 0),
		COALESCE(SUM(targets), 0) FROM volume_totals WHERE project_id <> ?`, allProjects).
		Scan(&t.volumes, &t.gigabytes, &t.targets); err != nil || !pairs {
		return t, wrap(err, "sum the volume totals of every project")
	}
	t.pairs, err = db.scanPairs(ctx, cached{db}, `SELECT key, value, SUM(volumes) FROM volume_metadata_totals
		WHERE project_id <> ? GROUP BY key, value`, allProjects)
	return t, wrap(err, "sum the volume metadata totals of every project")
}

// The queries of a project's totals, by project_id.
const (
	selectTotals = "SELECT volumes, gigabytes, targets FROM volume_totals WHERE project_id = ?"
	selectPairs  = "SELECT key, value, volumes FROM volume_metadata_totals WHERE project_id = ?"
)

// readTotals reads project's totals through q, sql.ErrNoRows when they are
// not made yet.
func (db *DB) readTotals(ctx context.Context, q querier, project string, pairs bool) (volumeTotals, error) {
	var t volumeTotals
	err := q.QueryRowContext(ctx, db.dialect.rebind(selectTotals), project).
		Scan(&t.volumes, &t.gigabytes, &t.targets)
	if err != nil || !pairs {
		return t, err
	}
	t.pairs, err = db.scanPairs(ctx, q, selectPairs, project)
	return t, err
}

// scanPairs reads the metadata pairs, and how many volumes hold each, that
// query (key, value, volumes) selects through q; none held is left out.
func (db *DB) scanPairs(ctx context.Context, q querier, query string, args ...any) (map[metadataPair]int, error) {
	rows, err := q.QueryContext(ctx, db.dialect.rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pairs := map[metadataPair]int{}
	for rows.Next() {
		var p metadataPair
		var n int
		if err := rows.Scan(&p.key, &p.value, &n); err != nil {
			return nil, err
		}
		if n > 0 {
			pairs[p] = n
		}
	}
	return pairs, rows.Err()
}

// makeTotals counts project's volumes and writes them as its totals in tx.
func (db *DB) makeTotals(ctx context.Context, tx *sql.Tx, project string) (volumeTotals, error) {
	f := VolumeFilter{ProjectID: project}
	where, args := f.where(db.dialect)
	t := volumeTotals{pairs: map[metadataPair]int{}}
	err := tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT count(*), COALESCE(SUM(size), 0),
		COALESCE(SUM(CASE WHEN migration_status LIKE 'target:%' THEN 1 ELSE 0 END), 0) FROM volumes`+where), args...).
		Scan(&t.volumes, &t.gigabytes, &t.targets)
	if err != nil {
		return t, err
	}
	rows, err := tx.QueryContext(ctx, db.dialect.rebind("SELECT metadata FROM volumes"+where+" AND metadata <> '{}'"), args...)
	if err != nil {
		return t, err
	}
	defer rows.Close()
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return t, err
		}
		md, err := decodeMap(text)
		if err != nil {
			return t, err
		}
		for k, v := range md {
			t.pairs[metadataPair{k, v}]++
		}
	}
	if err := rows.Err(); err != nil {
		return t, err
	}
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO volume_totals
		(project_id, volumes, gigabytes, targets, created_at) VALUES (?, ?, ?, ?, ?)`),
		project, t.volumes, t.gigabytes, t.targets, formatTime(now())); err != nil {
		return t, err
	}
	return t, db.addPairs(ctx, tx, project, t.pairs)
}

// VolumeSummary is what GET /volumes/summary tells of volumes: how many,
// their GiB, and the distinct values of each key of their metadata.
type VolumeSummary struct {
	Count, Size int
	Metadata    map[string][]string // values sorted
}

// SummarizeVolumes sums up the volumes f selects, not deleted, as Cinder's
// get_volume_summary: their count and GiB (migration targets count unless
// f.HideTargets) and the distinct values of each metadata key of the
// volumes of f.ProjectID (every project's when ""), whatever f's other
// filters, as Cinder reads the metadata. With no filter but the project the
// count and GiB are the project's totals rather than its volumes; a filter
// counts the rows it selects, through its index where it has one.
func (db *DB) SummarizeVolumes(ctx context.Context, f VolumeFilter) (VolumeSummary, error) {
	t, err := db.totals(ctx, f.ProjectID, true)
	if err != nil {
		return VolumeSummary{}, err
	}
	s := VolumeSummary{Count: t.volumes, Size: t.gigabytes, Metadata: map[string][]string{}}
	if !f.projectOnly() || f.HideTargets {
		where, args := f.where(db.dialect)
		if err := db.queryRow(ctx, "SELECT count(*), COALESCE(SUM(size), 0) FROM volumes"+where, args...).
			Scan(&s.Count, &s.Size); err != nil {
			return VolumeSummary{}, wrap(err, "summarize volumes")
		}
	}
	for _, p := range slices.SortedFunc(maps.Keys(t.pairs), comparePairs) {
		s.Metadata[p.key] = append(s.Metadata[p.key], p.value)
	}
	return s, nil
}
