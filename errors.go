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

// Invalid is cinder.exception.Invalid (400): bad input, its message as given.
func Invalid(format string, args ...any) *Error {
	return Errorf("Invalid", 400, format, args...)
}

// InvalidInput is InvalidInput (400): a request's value Cinder refuses.
func InvalidInput(format string, args ...any) *Error {
	return Errorf("InvalidInput", 400, "Invalid input received: "+format, args...)
}

// InvalidVolumeAttachMode is InvalidVolumeAttachMode (400): a readonly
// volume attached in mode, anything but ro.
func InvalidVolumeAttachMode(mode, volumeID string) *Error {
	return Errorf("InvalidVolumeAttachMode", 400, "Invalid attaching mode '%s' for volume %s.", mode, volumeID)
}

// InvalidVolume is InvalidVolume (400): the volume's state forbids the action.
func InvalidVolume(format string, args ...any) *Error {
	return Errorf("InvalidVolume", 400, "Invalid volume: "+format, args...)
}

// InvalidHost is InvalidHost (400): no usable service where a request points.
func InvalidHost(format string, args ...any) *Error {
	return Errorf("InvalidHost", 400, "Invalid host: "+format, args...)
}

// NotFound is NotFound (404), for resources without a class of their own.
func NotFound(format string, args ...any) *Error {
	return Errorf("NotFound", 404, format, args...)
}

// VolumeNotFound is VolumeNotFound (404) for volume id.
func VolumeNotFound(id string) *Error {
	return Errorf("VolumeNotFound", 404, "Volume %s could not be found.", id)
}

// VolumeTypeNotFound is VolumeTypeNotFound (404) for volume type id.
func VolumeTypeNotFound(id string) *Error {
	return Errorf("VolumeTypeNotFound", 404, "Volume type %s could not be found.", id)
}

// MessageNotFound is MessageNotFound (404) for user message id.
func MessageNotFound(id string) *Error {
	return Errorf("MessageNotFound", 404, "Message %s could not be found.", id)
}

// ServiceNotFound is ServiceNotFound (404) for service id.
func ServiceNotFound(id string) *Error {
	return Errorf("ServiceNotFound", 404, "Service %s could not be found.", id)
}

// NoValidBackend is NoValidBackend (500): the scheduler found no pool, for reason.
func NoValidBackend(reason string) *Error {
	return Errorf("NoValidBackend", 500, "No valid backend was found. %s", reason)
}

// VolumeBackendAPIException is VolumeBackendAPIException (500): a driver failed.
func VolumeBackendAPIException(format string, args ...any) *Error {
	return Errorf("VolumeBackendAPIException", 500, "Bad or unexpected response from the storage volume backend API: "+format, args...)
}

// Forbidden is PolicyNotAuthorized (403): the caller may not do this.
func Forbidden(format string, args ...any) *Error {
	return Errorf("PolicyNotAuthorized", 403, format, args...)
}

// Conflict is Duplicate (409): what a request would create exists already.
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

// IsNoValidBackend reports whether err is, or wraps, NoValidBackend.
func IsNoValidBackend(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Class == "NoValidBackend"
}
