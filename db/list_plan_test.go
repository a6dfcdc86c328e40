package db

import (
	"context"
	"crypto/md5"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testenv"
)

// Lists read their page through an index in the sort's order: no query of
// a page (first, after a marker, filtered), nor a count, nor the read of a
// project's totals, scans its table or sorts, on either database.
// PostgreSQL is told to avoid both wherever it can, since on a small table
// it would rightly prefer them.
func TestListPlansSeek(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{ProjectID: "p1", Status: "available", Size: 1, CreatedAt: time.Now()}
		if err := db.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		conn, err := db.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := conn.Close(); err != nil {
				t.Error(err)
			}
		})
		explain := "EXPLAIN QUERY PLAN "
		if db.dialect == postgresDialect {
			explain = "EXPLAIN "
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off; SET enable_sort = off"); err != nil {
				t.Fatal(err)
			}
		}
		volumes := func(f VolumeFilter) page { return f.page(db.dialect) }
		for _, c := range []struct {
			name string
			p    page
		}{
			{"project's first page", volumes(VolumeFilter{ProjectID: "p1", SortDescending: true, Limit: 100})},
			{"every project's first page", volumes(VolumeFilter{SortDescending: true, Limit: 100})},
			{"page after a marker", volumes(VolumeFilter{ProjectID: "p1", SortDescending: true, Marker: v.ID, Limit: 100})},
			{"page after a marker, ascending", volumes(VolumeFilter{ProjectID: "p1", Marker: v.ID, Limit: 100})},
			{"by status", volumes(VolumeFilter{ProjectID: "p1", Statuses: []string{"error"}, SortDescending: true, Limit: 100})},
			{"by name", volumes(VolumeFilter{ProjectID: "p1", Name: "x", SortDescending: true, Limit: 100})},
			{"snapshots", (&SnapshotFilter{ProjectID: "p1", SortDescending: true, Limit: 100}).page(db.dialect)},
			{"backups", (&BackupFilter{ProjectID: "p1", SortDescending: true, Limit: 100}).page(db.dialect)},
		} {
			query, args, err := db.pageQuery(ctx, c.p)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			checkPlan(t, db, conn, c.name, explain+query, c.p.table, args)
		}
		f := VolumeFilter{ProjectID: "p1"}
		where, args := f.where(db.dialect)
		checkPlan(t, db, conn, "count", explain+"SELECT count(*) FROM volumes"+where, "volumes", args)
		// with_count and the summary read the project's totals instead.
		checkPlan(t, db, conn, "totals", explain+selectTotals, "volume_totals", []any{"p1"})
		checkPlan(t, db, conn, "metadata totals", explain+selectPairs, "volume_metadata_totals", []any{"p1"})
		// Each backend's stats every backend_stats_polling_interval.
		checkPlan(t, db, conn, "allocated capacity", explain+"SELECT host, SUM(size) FROM volumes WHERE host IN (?, ?)"+
			" AND deleted = FALSE GROUP BY host", "volumes", []any{"h@b#p1", "h@b#p2"})
	})
}

// checkPlan fails t when the plan of query (with ? placeholders) in db's
// dialect scans table whole or sorts.
func checkPlan(t *testing.T, db *DB, conn *sql.Conn, name, query, table string, args []any) {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), db.dialect.rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plan []string
	for rows.Next() {
		cells := make([]any, len(cols))
		for i := range cells {
			cells[i] = new(any)
		}
		if err := rows.Scan(cells...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plan = append(plan, fmt.Sprint(*cells[len(cells)-1].(*any)))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	text := strings.Join(plan, "\n")
	for _, bad := range []string{"SCAN " + table, "TEMP B-TREE", "Seq Scan", "Sort"} {
		if strings.Contains(text, bad) {
			t.Errorf("%s: plan holds %q:\n%s", name, bad, text)
		}
	}
}

// PostgreSQL plans a page's prepared statement once, not on each
// execution: after its five custom plans it settles on a generic one. A
// LIMIT passed as a parameter keeps it planning every execution of a first
// or filtered page over a table of thousands. (The marker, deep in the
// walk as case P's, leaves the choice to PostgreSQL's costs either way.)
func TestPagePlannedOnce(t *testing.T) {
	ctx := context.Background()
	db := synced(t, testenv.PostgresURL(t))
	if _, err := db.sql.ExecContext(ctx, `INSERT INTO volumes (id, user_id, project_id, size, status, created_at)
		SELECT md5(i::text), 'u', 'p1', 1, 'available', to_char(timestamp '2020-01-01' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
		FROM generate_series(1, 5000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.ExecContext(ctx, "ANALYZE volumes"); err != nil {
		t.Fatal(err)
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, c := range []struct {
		name string
		f    VolumeFilter
	}{
		{"first page", VolumeFilter{ProjectID: "p1", HideTargets: true, SortDescending: true, Limit: 100}},
		{"page after a marker", VolumeFilter{ProjectID: "p1", HideTargets: true, SortDescending: true, Limit: 100,
			Marker: fmt.Sprintf("%x", md5.Sum([]byte("150")))}},
		{"page by status", VolumeFilter{ProjectID: "p1", Statuses: []string{"available"}, SortDescending: true, Limit: 100, Offset: 10}},
	} {
		query, args, err := db.pageQuery(ctx, c.f.page(db.dialect))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.ReplaceAll(c.name, " ", "_")
		if _, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+db.dialect.rebind(query)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		literals := make([]string, len(args))
		for i, a := range args {
			literals[i] = fmt.Sprintf("'%v'", a)
		}
		for range 10 {
			if _, err := conn.ExecContext(ctx, "EXECUTE "+name+"("+strings.Join(literals, ", ")+")"); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		var generic, custom int
		if err := conn.QueryRowContext(ctx, "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
			name).Scan(&generic, &custom); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if custom > 5 || generic < 5 {
			t.Errorf("%s: %d custom plans and %d generic in 10 executions, want a generic plan from the sixth on", c.name, custom, generic)
		}
	}
}
