package handler

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"sagasuite/userapi/internal/apierr"
)

// maxBody bounds a request body; a registration is well under 1 KiB.
const maxBody = 4 << 10

// decodeJSON reads exactly one flat JSON object into dst (a pointer to a
// struct of string and integer fields) and refuses anything else with a 4xx
// that names the problem: wrong content type, a body over maxBody, bytes
// that are not UTF-8, malformed JSON, unknown, duplicated or null fields,
// fields of the wrong type, or data after the object.
//
// encoding/json alone is too lenient for a gateway: it keeps the last of
// duplicated keys, matches keys case-insensitively (also through Unicode
// folding: "uſername" fills Username), leaves the zero value for null and
// replaces invalid UTF-8 with U+FFFD. Each of these lets two parsers read
// one body differently, so the body is checked token by token first
// (checkObject) and only then decoded.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return apierr.New(apierr.UnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if err := checkObject(body, fieldsOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		// checkObject already refused everything Decode can refuse; this
		// is the safety net should the two ever disagree.
		return decodeError(err)
	}
	return nil
}

// readBody reads at most maxBody bytes of body, gunzipping it when the
// client says so. (go-zero's own MaxBytes and Gunzip middlewares are off in
// the gateway: they answer 413 and 400 with empty bodies, before any code
// of ours could give the error its stable code.)
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxBody)
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		unzipped, err := gzip.NewReader(body)
		if err != nil {
			return nil, apierr.BadField("", "the body is not valid gzip")
		}
		defer unzipped.Close()
		// The limit applies to what the JSON parser would read, too.
		body = &limitedReader{r: unzipped, left: maxBody}
	default:
		return nil, apierr.New(apierr.UnsupportedMediaType, "Content-Encoding must be gzip or none")
	}
	data, err := io.ReadAll(body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, decodeError(err)
	case err != nil:
		// A broken connection or a corrupt gzip stream: the body is not
		// what the client meant to send.
		return nil, apierr.BadField("", "the body could not be read")
	}
	return data, nil
}

// limitedReader fails with *http.MaxBytesError past left bytes, so that a
// gzip bomb is answered like any other body over the limit.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &http.MaxBytesError{Limit: maxBody}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &http.MaxBytesError{Limit: maxBody}
	}
	return n, err
}

func decodeError(err error) error {
	var (
		tooLarge  *http.MaxBytesError
		typeError *json.UnmarshalTypeError
		syntax    *json.SyntaxError
	)
	switch {
	case errors.As(err, &tooLarge):
		return apierr.New(apierr.BodyTooLarge, "the body must not exceed 4096 bytes")
	case errors.As(err, &typeError):
		if typeError.Field == "" {
			return apierr.BadField("", "the body must be a JSON object")
		}
		return apierr.BadField(typeError.Field, typeError.Field+" must be a JSON "+jsonType(typeError.Type.Kind().String()))
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apierr.BadField("", "the body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apierr.BadField(field, "unknown field "+field)
	default:
		return apierr.BadField("", "the body is not valid JSON")
	}
}

// jsonType names a Go kind the way a JSON client thinks of it.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "int64", "int", "int32", "int16", "int8":
		return "integer"
	case "bool":
		return "boolean"
	default:
		return kind
	}
}
