-- Volume attachments, as Cinder's volume_attachment table (connection_info
-- and connector as JSON text, '' for none).
CREATE TABLE volume_attachment (
    id VARCHAR(36) PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL DEFAULT '',
    attached_host VARCHAR(255) NOT NULL DEFAULT '',
    mountpoint VARCHAR(255) NOT NULL DEFAULT '',
    attach_time VARCHAR(27),
    detach_time VARCHAR(27),
    attach_status VARCHAR(255) NOT NULL DEFAULT '',
    attach_mode VARCHAR(36) NOT NULL DEFAULT '',
    connection_info TEXT NOT NULL DEFAULT '',
    connector TEXT NOT NULL DEFAULT '',
    created_at VARCHAR(27) NOT NULL,
    updated_at VARCHAR(27),
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at VARCHAR(27)
);
CREATE INDEX volume_attachment_volume_id_idx ON volume_attachment (volume_id);
CREATE INDEX volume_attachment_instance_uuid_idx ON volume_attachment (instance_uuid);
