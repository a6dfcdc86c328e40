package cinder

import "time"

// GroupType is a group type (3.11), as Cinder's group_types row with its
// group specs: what generic volume groups of that type ask of a backend.
type GroupType struct {
	ID          string
	Name        string
	Description string
	IsPublic    bool
	GroupSpecs  map[string]string
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// GroupTypeNotFound is Cinder's fault for a group type id that names none.
func GroupTypeNotFound(id string) *Error {
	return Errorf("GroupTypeNotFound", 404, "Group type %s could not be found.", id)
}
