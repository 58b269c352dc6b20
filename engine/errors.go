package engine

import (
	"errors"
	"fmt"
)

// Error codes shared by every adapter. Each adapter (HTTP API, SSH, CLI)
// maps them once to its own status or exit code, so the domain never has
// to know how a failure is shown. The values are Heroku Platform API ids.
const (
	ENOTFOUND     = "not_found"
	EINVALID      = "invalid_params"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EINTERNAL     = "internal_error"
	// ETOOMANY refuses what a user holds too much of at once (log tails,
	// detached one-off dynos): Heroku's 429 rate_limit.
	ETOOMANY = "rate_limit"
	// ECONFIRM asks for the request again with the app's name as
	// confirmation: the heroku CLI then prompts for it (or takes
	// --confirm) and sends it back.
	ECONFIRM = "confirmation_required"
	// EBUILD marks a build that failed; its message is already shown to
	// the pusher, so adapters print it as is.
	EBUILD = "build_failed"
)

// Error is an error meant for the user: Code picks the status, Message is
// safe to show. Internal details stay in logs and wrapped errors.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EINTERNAL when err is not an
// *Error, so that unknown failures are never shown as user mistakes.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; internal errors get
// a generic sentence so that paths and stack details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if err == nil {
		return ""
	}
	return "Internal server error: the server log has the details."
}
