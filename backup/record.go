package backup

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cinder-go/cinder"
)

// Export returns b's record: Cinder's driver name and the row as
// base64-encoded JSON, as Backup.encode_record.
func Export(b *cinder.Backup) (Record, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return Record{}, fmt.Errorf("encode backup %s: %w", b.ID, err)
	}
	return Record{Service: cinder.BackupServicePosix, URL: base64.StdEncoding.EncodeToString(data)}, nil
}

// Decode returns the backup row r holds; a record this service cannot
// import is InvalidInput.
func (r Record) Decode() (*cinder.Backup, error) {
	if r.Service != cinder.BackupServicePosix && r.Service != "posix" {
		return nil, cinder.Errorf("ServiceNotFound", 404, "Service %s could not be found.", r.Service)
	}
	data, err := base64.StdEncoding.DecodeString(r.URL)
	var b cinder.Backup
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err == nil && b.ID == "" {
		err = errors.New("no id")
	}
	if err != nil {
		return nil, cinder.InvalidInput("Can't parse backup record: %v", err)
	}
	return &b, nil
}
