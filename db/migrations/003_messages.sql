-- User messages: why an asynchronous request failed (GET /v3/{project_id}/messages).
CREATE TABLE messages (
    id VARCHAR(36) PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL DEFAULT '',
    request_id VARCHAR(255) NOT NULL DEFAULT '',
    resource_type VARCHAR(255) NOT NULL DEFAULT '',
    resource_uuid VARCHAR(36) NOT NULL DEFAULT '',
    event_id VARCHAR(255) NOT NULL,
    message_level VARCHAR(255) NOT NULL,
    user_message VARCHAR(1024) NOT NULL DEFAULT '',
    created_at VARCHAR(27) NOT NULL,
    expires_at VARCHAR(27) NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX messages_project_idx ON messages (project_id);
