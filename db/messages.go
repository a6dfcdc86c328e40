package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// messageColumns are the messages table's columns, id first, in the order
// messageValues and scanMessage use.
var messageColumns = []string{
	"id", "project_id", "request_id", "resource_type", "resource_uuid", "event_id",
	"message_level", "user_message", "created_at", "expires_at",
}

var selectMessages = "SELECT " + strings.Join(messageColumns, ", ") + " FROM messages"

func messageValues(m *cinder.Message) []any {
	return []any{m.ID, m.ProjectID, m.RequestID, m.ResourceType, m.ResourceUUID, m.EventID,
		m.Level, m.UserMessage, formatTime(m.CreatedAt), formatTime(m.ExpiresAt)}
}

func scanMessage(row scanner) (*cinder.Message, error) {
	var m cinder.Message
	var created, expires string
	err := row.Scan(&m.ID, &m.ProjectID, &m.RequestID, &m.ResourceType, &m.ResourceUUID, &m.EventID,
		&m.Level, &m.UserMessage, &created, &expires)
	if err != nil {
		return nil, err
	}
	if m.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	m.ExpiresAt, err = parseTime(expires)
	return &m, err
}

// CreateMessage inserts m; an empty ID gets a new UUID, a zero CreatedAt now.
func (db *DB) CreateMessage(ctx context.Context, m *cinder.Message) error {
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	m.CreatedAt, m.ExpiresAt = dbTime(m.CreatedAt), dbTime(m.ExpiresAt)
	_, err := db.w.ExecContext(ctx, db.dialect.rebind(insertSQL("messages", messageColumns)), messageValues(m)...)
	return wrap(err, "create message %s about %s", m.EventID, m.ResourceUUID)
}

// GetMessage returns message id (not deleted, not expired), or a 404
// cinder.Error.
func (db *DB) GetMessage(ctx context.Context, id string) (*cinder.Message, error) {
	m, err := scanMessage(db.sql.QueryRowContext(ctx, db.dialect.rebind(selectMessages+
		" WHERE id = ? AND deleted = FALSE AND expires_at > ?"), id, formatTime(now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cinder.MessageNotFound(id)
	}
	return m, wrap(err, "get message %s", id)
}

// ListMessages returns the unexpired messages of project (all projects when
// empty), newest first.
func (db *DB) ListMessages(ctx context.Context, project string) ([]*cinder.Message, error) {
	query := selectMessages + " WHERE deleted = FALSE AND expires_at > ?"
	args := []any{formatTime(now())}
	if project != "" {
		query += " AND project_id = ?"
		args = append(args, project)
	}
	return queryAll(ctx, db, "list messages", query+" ORDER BY created_at DESC, id", args, scanMessage)
}

// DeleteMessage soft-deletes message id, or returns a 404 cinder.Error.
func (db *DB) DeleteMessage(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, db.dialect.rebind(
		"UPDATE messages SET deleted = TRUE, deleted_at = ? WHERE id = ? AND deleted = FALSE"), formatTime(now()), id)
	if err == nil {
		err = mustAffect(res, cinder.MessageNotFound(id))
	}
	return wrap(err, "delete message %s", id)
}
