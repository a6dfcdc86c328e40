package cinder

import (
	"errors"
	"fmt"
)

// Error is a Cinder exception: Class is its name in cinder.exception, Code
// the HTTP status the API answers with. It crosses RPC with both intact.
type Error struct {
	Class   string
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns a *Error of the given class and code.
func Errorf(class string, code int, format string, args ...any) *Error {
	return &Error{Class: class, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Constructors for the exceptions the services raise, named as Cinder's.
func Invalid(format string, args ...any) *Error {
	return Errorf("Invalid", 400, format, args...)
}
func InvalidInput(format string, args ...any) *Error {
	return Errorf("InvalidInput", 400, "Invalid input received: "+format, args...)
}
func InvalidVolume(format string, args ...any) *Error {
	return Errorf("InvalidVolume", 400, "Invalid volume: "+format, args...)
}
func InvalidHost(format string, args ...any) *Error {
	return Errorf("InvalidHost", 400, "Invalid host: "+format, args...)
}
func NotFound(format string, args ...any) *Error {
	return Errorf("NotFound", 404, format, args...)
}
func VolumeNotFound(id string) *Error {
	return Errorf("VolumeNotFound", 404, "Volume %s could not be found.", id)
}
func VolumeTypeNotFound(id string) *Error {
	return Errorf("VolumeTypeNotFound", 404, "Volume type %s could not be found.", id)
}
func MessageNotFound(id string) *Error {
	return Errorf("MessageNotFound", 404, "Message %s could not be found.", id)
}
func ServiceNotFound(id string) *Error {
	return Errorf("ServiceNotFound", 404, "Service %s could not be found.", id)
}
func NoValidBackend(reason string) *Error {
	return Errorf("NoValidBackend", 500, "No valid backend was found. %s", reason)
}
func VolumeBackendAPIException(format string, args ...any) *Error {
	return Errorf("VolumeBackendAPIException", 500, "Bad or unexpected response from the storage volume backend API: "+format, args...)
}
func Forbidden(format string, args ...any) *Error {
	return Errorf("PolicyNotAuthorized", 403, format, args...)
}
func Conflict(format string, args ...any) *Error {
	return Errorf("Duplicate", 409, format, args...)
}

// Code returns the HTTP status of err: a *Error's code, or 500.
func Code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 500
}

// IsNotFound reports whether err is a 404-class Cinder exception.
func IsNotFound(err error) bool { return Code(err) == 404 }
