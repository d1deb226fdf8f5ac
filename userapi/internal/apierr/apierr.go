// Package apierr is the gateway's error answers as the logic decides them:
// a stable, documented code, a message, and the field or saga concerned.
// Which HTTP status a code is answered with is the handler's to say, in
// one table (handler.StatusOf), so the logic knows nothing of HTTP.
package apierr

// Codes every client may rely on.
const (
	InvalidArgument      = "INVALID_ARGUMENT"
	UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	BodyTooLarge         = "BODY_TOO_LARGE"
	InvalidCredentials   = "INVALID_CREDENTIALS"
	Unauthenticated      = "UNAUTHENTICATED"
	Unavailable          = "UNAVAILABLE"
	NotFound             = "NOT_FOUND"
	MethodNotAllowed     = "METHOD_NOT_ALLOWED"
	RegistrationFailed   = "REGISTRATION_FAILED"
	// RegistrationStopped: DTM reports the saga failed but its writes are
	// still there (an operator stopped it before it compensated).
	RegistrationStopped = "REGISTRATION_STOPPED"
	// IdempotencyKeyReused: the key names a registration with another body.
	IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
	Internal             = "INTERNAL"
	// CodeNotFound: no verification mail carries the code of a link
	// (CODE_USED and CODE_EXPIRED are the user service's, package reason).
	CodeNotFound = "CODE_NOT_FOUND"
	// ProfileNotFound: the read model has no profile of the id (none was
	// registered, or its registration has not reached the read model yet).
	ProfileNotFound = "PROFILE_NOT_FOUND"
)

// Error is an answer the gateway sends instead of a success body.
type Error struct {
	Body
}

// Body is the JSON an Error is answered with. It is a separate type because
// go-zero writes a body that implements error as plain text.
type Body struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, for INVALID_ARGUMENT.
	Field string `json:"field,omitempty"`
	// Gid is the saga an answer is about, when there is one.
	Gid string `json:"gid,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an Error with code and message.
func New(code, message string) *Error {
	return &Error{Body: Body{Code: code, Message: message}}
}

// BadField is an INVALID_ARGUMENT naming field.
func BadField(field, message string) *Error {
	return &Error{Body: Body{Code: InvalidArgument, Message: message, Field: field}}
}

// WithGid returns e naming the saga gid.
func (e *Error) WithGid(gid string) *Error {
	e.Gid = gid
	return e
}
