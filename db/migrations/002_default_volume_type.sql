-- The volume type Cinder creates at install, used when a request names none.
INSERT INTO volume_types (id, name, description, is_public, extra_specs, created_at)
VALUES ('{{uuid}}', '__DEFAULT__', 'Default Volume Type', TRUE, '{}', '{{now}}');
