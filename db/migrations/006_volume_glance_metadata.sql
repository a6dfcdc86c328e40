-- Image and admin metadata, inline as JSON like user metadata: Cinder's
-- volume_glance_metadata (a volume's image properties, which a snapshot of
-- a bootable volume keeps for the volumes made from it) and
-- volume_admin_metadata (readonly, attached_mode).
ALTER TABLE volumes ADD COLUMN glance_metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE volumes ADD COLUMN admin_metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE snapshots ADD COLUMN glance_metadata TEXT NOT NULL DEFAULT '{}';
