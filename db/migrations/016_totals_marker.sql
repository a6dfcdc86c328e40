-- Project '' of volume_totals no longer counts every project's volumes,
-- which every volume write had to lock: it marks that every project with
-- volumes has its own row, and every project's totals are their sum. The
-- rows of '' written before are dropped: the first read of every
-- project's totals makes the missing project rows and the marker.
DELETE FROM volume_metadata_totals WHERE project_id = '';
DELETE FROM volume_totals WHERE project_id = '';
