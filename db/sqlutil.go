package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(dest ...any) error }

// insertSQL inserts every one of columns into table.
func insertSQL(table string, columns []string) string {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(columns, ", "), marks)
}

// updateSQL sets columns[1:] of the table row whose key columns[0] is the
// last argument.
func updateSQL(table string, columns []string) string {
	sets := make([]string, len(columns)-1)
	for i, c := range columns[1:] {
		sets[i] = c + " = ?"
	}
	return fmt.Sprintf("UPDATE %s SET %s WHERE %s = ?", table, strings.Join(sets, ", "), columns[0])
}

// keyLast moves the first of values (the key) to the end, for updateSQL.
func keyLast(values []any) []any { return append(values[1:], values[0]) }

// modify reads a row with get in a write transaction, lets fn change it and
// writes it with put. fn's error comes back unchanged, others wrapped by what.
func modify[T any](ctx context.Context, db *DB, what string, get func(*sql.Tx) (T, error), fn func(T) error, put func(*sql.Tx, T) error) (T, error) {
	var out, zero T
	var fnErr error
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		row, err := get(tx)
		if err != nil {
			return err
		}
		if fnErr = fn(row); fnErr != nil {
			return fnErr
		}
		if err := put(tx, row); err != nil {
			return err
		}
		out = row
		return nil
	})
	if fnErr != nil {
		return zero, fnErr
	}
	if err != nil {
		return zero, wrap(err, "%s", what)
	}
	return out, nil
}

// encodeMap is m as JSON text, {} when nil.
func encodeMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

// decodeMap is the map of JSON text, never nil.
func decodeMap(text string) (map[string]string, error) {
	m := map[string]string{}
	if text == "{}" { // most volumes have no metadata
		return m, nil
	}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("stored map %q: %w", text, err)
	}
	return m, nil
}

// queryAll runs query (with ? placeholders) and scans every row with scan;
// what names the listing in errors. It returns an empty, non-nil slice when
// no row matches.
func queryAll[T any](ctx context.Context, db *DB, what, query string, args []any, scan func(scanner) (*T, error)) ([]*T, error) {
	if db.dialect.pgx {
		out, err := queryPgx(ctx, db, query, args, scan)
		return out, wrap(err, "%s", what)
	}
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "%s", what)
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, wrap(err, "%s", what)
		}
		out = append(out, item)
	}
	return out, wrap(rows.Err(), "%s", what)
}
