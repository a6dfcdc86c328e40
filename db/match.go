package db

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Match is Cinder's general filtering of a list (from API 3.31): exact
// matches on columns, like filters, time comparisons and metadata pairs.
// A filter Cinder cannot apply selects no row.
type Match struct {
	Fields   map[string]string // exact matches on columns, by name; a column the table lacks, or a value not of its type, selects none
	Like     map[string]string // like filters (key~): text columns containing a LIKE pattern ('%' and '_' are wildcards)
	Times    []TimeFilter      // rows for which, on each column compared, any of its comparisons holds, as Cinder ORs them
	Metadata map[string]string // only rows whose metadata holds each of these pairs
	Nothing  bool              // select no row: a filter Cinder cannot apply (a metadata filter that is no dictionary)
}

// TimeFilter compares Column, created_at or updated_at, with Time, as
// Cinder's time comparison filters (created_at=gt:2024-01-02T03:04:05): Op
// is gt, gte, eq, neq, lt or lte.
type TimeFilter struct {
	Column, Op string
	Time       time.Time
}

// timeOps are the SQL operators of TimeFilter.Op.
var timeOps = map[string]string{"gt": ">", "gte": ">=", "eq": "=", "neq": "!=", "lt": "<", "lte": "<="}

// matchTable is what a Match needs to know of a table's columns.
type matchTable struct {
	columns  []string // every column; only these names reach a query
	integers []string // integer columns
	booleans []string // boolean columns
	metadata []string // the columns a metadata pair may be in, as JSON maps
}

// Tables a Match filters.
var (
	volumeMatch = matchTable{columns: volumeColumns, integers: []string{"size"},
		booleans: []string{"bootable", "multiattach", "use_quota", "deleted"}, metadata: []string{"metadata", "admin_metadata"}}
	snapshotMatch = matchTable{columns: snapshotColumns, integers: []string{"volume_size"},
		booleans: []string{"use_quota", "deleted"}, metadata: []string{"metadata"}}
	backupMatch = matchTable{columns: backupColumns, integers: []string{"size", "object_count"},
		booleans: []string{"deleted"}, metadata: []string{"metadata"}}
	attachmentMatch = matchTable{columns: attachmentColumns, booleans: []string{"deleted"}}
)

// and adds m's conditions on table t in dialect d to where, a WHERE
// clause, and its arguments args; a clause selecting no row when m
// selects none.
func (m *Match) and(d *dialect, t matchTable, where string, args []any) (string, []any) {
	conds, more, ok := m.conditions(d, t)
	if !ok {
		return " WHERE 1 = 0", nil
	}
	for _, c := range conds {
		where += " AND " + c
	}
	return where, append(args, more...)
}

// conditions are the conditions of m on table t in dialect d and their
// arguments; ok is false when m selects no row.
func (m *Match) conditions(d *dialect, t matchTable) (conds []string, args []any, ok bool) {
	if m.Nothing || len(m.Metadata) > 0 && len(t.metadata) == 0 {
		return nil, nil, false
	}
	for _, k := range slices.Sorted(maps.Keys(m.Metadata)) {
		cond, pairArgs := holds(d, k, m.Metadata[k], t.metadata...)
		conds, args = append(conds, cond), append(args, pairArgs...)
	}
	for _, col := range slices.Sorted(maps.Keys(m.Fields)) {
		arg, ok := t.value(col, m.Fields[col])
		if !ok {
			return nil, nil, false
		}
		conds, args = append(conds, col+" = ?"), append(args, arg)
	}
	for _, col := range slices.Sorted(maps.Keys(m.Like)) {
		if _, ok := t.value(col, ""); !ok || slices.Contains(t.integers, col) || slices.Contains(t.booleans, col) {
			return nil, nil, false
		}
		conds, args = append(conds, col+" LIKE ?"), append(args, "%"+m.Like[col]+"%")
	}
	for _, c := range m.Times {
		if _, ok := timeOps[c.Op]; !ok || c.Column != "created_at" && c.Column != "updated_at" {
			return nil, nil, false
		}
	}
	for _, col := range []string{"created_at", "updated_at"} {
		var either []string
		for _, c := range m.Times {
			if c.Column == col {
				either, args = append(either, col+" "+timeOps[c.Op]+" ?"), append(args, formatTime(c.Time))
			}
		}
		if len(either) > 0 {
			conds = append(conds, "("+strings.Join(either, " OR ")+")")
		}
	}
	return conds, args, true
}

// value is value as the argument of a filter on column col: an integer,
// a boolean or text as the column is. It is false when t has no such
// column, it holds a JSON map, or value is not of its type.
func (t matchTable) value(col, value string) (any, bool) {
	switch {
	case !slices.Contains(t.columns, col) || strings.HasSuffix(col, "metadata"):
		return nil, false
	case slices.Contains(t.integers, col):
		n, err := strconv.Atoi(value)
		return n, err == nil
	case slices.Contains(t.booleans, col):
		b, err := strconv.ParseBool(value)
		return b, err == nil
	}
	return value, true
}
