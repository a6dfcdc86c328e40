package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Case P's goals: every measure at pagingLarge volumes answers within
// goalPageP99Ms at the 99th percentile and goalPageRPS requests a second
// with 8 connections, and within goalPageRatio of itself at pagingSmall.
const (
	pagingSmall   = 100
	pagingLarge   = 100_000
	goalPageP99Ms = 20
	goalPageRPS   = 1000
	goalPageRatio = 2
	pgAdminURL    = "postgresql://postgres@127.0.0.1:5432/postgres"
	pagingVersion = "OpenStack-API-Version: volume 3.64" // with_count needs 3.45, summary 3.12
	storedTime    = "2006-01-02T15:04:05.000000Z"        // how the database keeps times
)

// pageRow is one of case P's measures on one database at one volume count.
type pageRow struct {
	Database string  `json:"database"`
	Volumes  int     `json:"volumes"`
	Measure  string  `json:"measure"`
	Path     string  `json:"path,omitempty"`
	MedianMs float64 `json:"median_ms,omitempty"`
	P99Ms    float64 `json:"p99_ms,omitempty"`
	RPS      float64 `json:"requests_per_second,omitempty"`
	Note     string  `json:"note,omitempty"`
}

// pageMeasure is a request case P loads, given the deployment's volumes
// in their list order (created_at then id, descending). Its slowdown is
// against the measure ref at pagingSmall volumes (itself if ""): one that
// answers a page as full.
type pageMeasure struct {
	name string
	path func(ids []string) string
	ref  string
}

// pageMeasures are case P's requests: a page of 100 at the start, deep in
// a marker walk (the last full page), filtered by status (a tenth of the
// volumes are in error), with the total count; the summary; the limits.
// At 100 volumes the filtered page holds the 10 in error, a tenth of the
// bytes to read and encode: its slowdown is measured against the first
// page there, the one page of 100 that 100 volumes make.
var pageMeasures = []pageMeasure{
	{"first page", func([]string) string { return "/volumes/detail?limit=100" }, ""},
	{"marker page, last full", func(ids []string) string {
		return "/volumes/detail?limit=100&marker=" + ids[max(0, len(ids)-101)]
	}, ""},
	{"filtered page, status=error", func([]string) string { return "/volumes/detail?limit=100&status=error" }, "first page"},
	{"first page with_count", func([]string) string { return "/volumes/detail?limit=100&with_count=true" }, ""},
	{"volumes/summary", func([]string) string { return "/volumes/summary" }, ""},
	{"limits (quota usage)", func([]string) string { return "/limits" }, ""},
}

// paging measures case P: list requests against cinder-all holding
// pagingSmall then pagingLarge volumes, on SQLite and on PostgreSQL.
func (b *bench) paging(ctx context.Context) []pageRow {
	if b.programs["wrk"] == "" {
		return []pageRow{{Measure: "P", Note: b.failure(errors.New(b.missing("wrk")))}}
	}
	var rows []pageRow
	for _, database := range []string{"SQLite", "PostgreSQL"} {
		for _, n := range []int{pagingSmall, pagingLarge} {
			rows = append(rows, b.pagingOn(ctx, database, n)...)
		}
	}
	return rows
}

// pagingOn starts cinder-all on a new database of kind database, inserts
// n volumes into it directly and loads each of pageMeasures, b.runs times.
func (b *bench) pagingOn(ctx context.Context, database string, n int) []pageRow {
	slog.Info("paging", "database", database, "volumes", n)
	failed := func(err error) []pageRow {
		return []pageRow{{Database: database, Volumes: n, Measure: "P", Note: b.failure(err)}}
	}
	dir := filepath.Join(b.dir, fmt.Sprintf("paging-%s-%d", strings.ToLower(database), n))
	conn := "sqlite:///" + filepath.Join(dir, "cinder.sqlite")
	if database == "PostgreSQL" {
		var drop func()
		var err error
		if conn, drop, err = freshPostgres(ctx); err != nil {
			return []pageRow{{Database: database, Volumes: n, Measure: "P", Note: "skipped: " + err.Error()}}
		}
		defer drop()
	}
	cl, err := startCinderOn(ctx, b.bins, dir, "fake://", conn, "cinder-all")
	if err != nil {
		return failed(err)
	}
	defer cl.stop()
	ids, err := insertVolumes(ctx, conn, n)
	if err != nil {
		return failed(err)
	}
	rows := make([]pageRow, len(pageMeasures))
	for i, m := range pageMeasures {
		rows[i] = pageRow{Database: database, Volumes: n, Measure: m.name, Path: m.path(ids)}
		if err := warm(ctx, cl, rows[i].Path); err != nil {
			rows[i].Note = b.failure(err)
		}
	}
	// b.runs rounds of every measure, as the copy cases rotate their tools:
	// a stall of the machine lands in one run of one measure, which the
	// median of its runs leaves out.
	runs := make([][]wrkReport, len(rows))
	for round := range b.runs {
		for i := range rows {
			if rows[i].Note != "" {
				continue
			}
			w, err := b.wrk(ctx, b.size.pageWrk, cl.endpoint+rows[i].Path, pagingVersion)
			if err != nil {
				rows[i].Note = b.failure(err)
				continue
			}
			slog.Info("paged", "database", database, "volumes", n, "measure", rows[i].Measure, "round", round+1,
				"p50_ms", ms(w.p50), "p99_ms", ms(w.p99), "rps", math.Round(w.rps))
			runs[i] = append(runs[i], w)
		}
	}
	for i := range rows {
		if rows[i].Note == "" {
			w := medianWrk(runs[i])
			rows[i].MedianMs, rows[i].P99Ms, rows[i].RPS = ms(w.p50), ms(w.p99), w.rps
		}
	}
	return rows
}

// warm sends path to cl once before wrk loads it. A deployment whose
// volumes came through the API has its project's volume totals
// (with_count, the summary) and quota usages (/limits): each volume's
// write moves them. Volumes inserted straight into the table, as here,
// leave them to be made by counting the project's volumes on the first
// read that needs them, once: 130-220 ms at 100,000 volumes, which all 8 of
// wrk's first requests would wait for. One request first makes them, as
// the deployment would have had them; every measured request still reads
// them as it would there.
func warm(ctx context.Context, cl *cinder, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.endpoint+path, nil)
	if err != nil {
		return err
	}
	name, value, _ := strings.Cut(pagingVersion, ": ")
	req.Header.Set(name, value)
	req.Header.Set("X-Auth-Token", "admin:admin")
	resp, err := cl.client.Do(req)
	if err != nil {
		return fmt.Errorf("warm %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("warm %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("warm %s: status %d", path, resp.StatusCode)
	}
	return nil
}

// freshPostgres creates a database on the local PostgreSQL and returns its
// connection URL and its drop.
func freshPostgres(ctx context.Context) (string, func(), error) {
	if err := reachable("127.0.0.1:5432"); err != nil {
		return "", nil, fmt.Errorf("PostgreSQL unreachable: %w", err)
	}
	admin, err := sql.Open("pgx", pgAdminURL)
	if err != nil {
		return "", nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	name := "cinder_bench_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close() // the creation's error is the one to report
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, _ := url.Parse(pgAdminURL) // a constant that parses
	u.Path = "/" + name
	return u.String(), func() {
		if _, err := admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			slog.Warn("drop bench database", "name", name, "err", err)
		}
		_ = admin.Close() // nothing left to lose
	}, nil
}

// volumeInsertRows is how many volumes one INSERT writes: 11 values each,
// within SQLite's and PostgreSQL's limits on a statement's parameters.
const volumeInsertRows = 500

// insertVolumes writes n available 1 GiB volumes of project admin on
// hostA@thin, one a second apart from 2020 on and every tenth in error,
// in one transaction on the database at conn (an oslo.db URL), and returns
// their ids in list order: newest first.
func insertVolumes(ctx context.Context, conn string, n int) (_ []string, err error) {
	driver, dsn := "pgx", conn
	if path, ok := strings.CutPrefix(conn, "sqlite:///"); ok {
		driver, dsn = "sqlite", path+"?_pragma=busy_timeout(10000)&_txlock=immediate"
	}
	sdb, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", conn, err)
	}
	defer func() { err = errors.Join(err, sdb.Close()) }()
	tx, err := sdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("insert volumes: %w", err)
	}
	ids, err := fillVolumes(ctx, tx, driver, n)
	if err != nil {
		_ = tx.Rollback() // the insert's error is the one to report
		return nil, fmt.Errorf("insert volumes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("insert volumes: %w", err)
	}
	// As autovacuum would within a minute: PostgreSQL plans by the table's
	// statistics, and scans an index alone only where its visibility map
	// says the pages are all visible, both of which a bulk insert leaves stale.
	if driver == "pgx" {
		if _, err := sdb.ExecContext(ctx, "VACUUM ANALYZE volumes"); err != nil {
			return nil, fmt.Errorf("vacuum volumes: %w", err)
		}
	}
	return ids, nil
}

// fillVolumes inserts insertVolumes' n volumes through tx, on a database
// of driver's kind, volumeInsertRows to a statement.
func fillVolumes(ctx context.Context, tx *sql.Tx, driver string, n int) ([]string, error) {
	var typeID string
	if err := tx.QueryRowContext(ctx, "SELECT id FROM volume_types WHERE name = '__DEFAULT__'").Scan(&typeID); err != nil {
		return nil, fmt.Errorf("the default type: %w", err)
	}
	const columns = "id, user_id, project_id, size, availability_zone, status, attach_status, host, display_name, volume_type_id, created_at"
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	for start := 0; start < n; start += volumeInsertRows {
		var marks []string
		var args []any
		for i := start; i < min(n, start+volumeInsertRows); i++ {
			status := "available"
			if i%10 == 0 {
				status = "error"
			}
			ids[n-1-i] = uuid.NewString()
			created := base.Add(time.Duration(i) * time.Second).Format(storedTime)
			marks = append(marks, "("+placeholders(driver, len(args), 11)+")")
			args = append(args, ids[n-1-i], "admin", "admin", 1, "nova", status, "detached", "hostA@thin#thin",
				fmt.Sprintf("bench-%06d", i), typeID, created)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO volumes ("+columns+") VALUES "+strings.Join(marks, ", "), args...); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// placeholders are k parameters of driver's kind after the first n.
func placeholders(driver string, n, k int) string {
	marks := make([]string, k)
	for i := range marks {
		marks[i] = "?"
		if driver == "pgx" {
			marks[i] = fmt.Sprintf("$%d", n+i+1)
		}
	}
	return strings.Join(marks, ", ")
}

// pagingGoals checks case P at pagingLarge volumes: each measure's p99 and
// throughput, and each against its reference at pagingSmall.
func pagingGoals(rows []pageRow) []goal {
	small := map[string]pageRow{}
	for _, r := range rows {
		if r.Volumes == pagingSmall {
			small[r.Database+r.Measure] = r
		}
	}
	var gs []goal
	for _, r := range rows {
		if r.Volumes != pagingLarge {
			continue
		}
		what := fmt.Sprintf("P: %s, %d volumes, %s", r.Database, r.Volumes, r.Measure)
		p99 := goal{What: what + ": p99", Value: r.P99Ms, Limit: goalPageP99Ms, Unit: "ms"}
		rps := goal{What: what + ": throughput", Value: r.RPS, Limit: goalPageRPS, Unit: "req/s", AtLeast: true}
		against, from := refMeasure(r.Measure), "100 volumes"
		if against != r.Measure {
			from = against + " at " + from
		}
		ref := small[r.Database+against]
		slower := goal{What: what + ": slowdown from " + from + " (p99, req/s)", Limit: goalPageRatio, Unit: "×"}
		if r.RPS == 0 {
			p99.Missing, rps.Missing = r.Note, r.Note
		}
		if r.RPS == 0 || ref.RPS == 0 {
			slower.Missing = "not both measured"
		} else {
			slower.Value = max(r.P99Ms/ref.P99Ms, ref.RPS/r.RPS)
		}
		gs = append(gs, p99, rps, slower)
	}
	return gs
}

// refMeasure is the name of the measure at pagingSmall that the measure
// name is compared with.
func refMeasure(name string) string {
	for _, m := range pageMeasures {
		if m.name == name && m.ref != "" {
			return m.ref
		}
	}
	return name
}

// medianWrk is the median of each of rs's figures, taken apart.
func medianWrk(rs []wrkReport) wrkReport {
	var p50s, p99s []time.Duration
	var rps []float64
	for _, r := range rs {
		p50s, p99s, rps = append(p50s, r.p50), append(p99s, r.p99), append(rps, r.rps)
	}
	return wrkReport{p50: median(p50s), p99: median(p99s), rps: median(rps)}
}
